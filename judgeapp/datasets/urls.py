from django.urls import path

from judgeapp.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_index, name="index"),
    path("<int:dataset_id>/", views.dataset_detail, name="detail"),
    path("<int:dataset_id>/items/<int:comparison_id>/", views.comparison_detail, name="comparison"),
]
