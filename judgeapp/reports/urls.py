from django.urls import path

from judgeapp.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_index, name="index"),
    path("<int:report_id>/", views.report_detail, name="detail"),
    path("<int:report_id>/export.<str:format>", views.report_export, name="export"),
]
