from django.urls import path

from judgeapp.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_index, name="index"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
]
