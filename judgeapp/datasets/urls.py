from django.urls import path

from judgeapp.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_index, name="index"),
    path("import/", views.dataset_import_page, name="import_new"),
    path("imports/<int:job_id>/", views.import_detail, name="import"),
    path("<int:dataset_id>/", views.dataset_detail, name="detail"),
    path("<int:dataset_id>/export.<str:format>", views.dataset_export, name="export"),
    path("<int:dataset_id>/items/<int:comparison_id>/", views.comparison_detail, name="comparison"),
]
