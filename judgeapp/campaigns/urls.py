from django.urls import path

from judgeapp.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_index, name="index"),
    path("new/", views.campaign_new, name="new"),
    path("<int:campaign_id>/", views.campaign_detail, name="detail"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<int:campaign_id>/gold/", views.campaign_gold, name="gold"),
    path("<int:campaign_id>/status/<str:status>/", views.campaign_status, name="status"),
    path("<int:campaign_id>/review/", views.review_index, name="review"),
    path("<int:campaign_id>/review/<int:comparison_id>/", views.review_item, name="review_item"),
    path("<int:campaign_id>/annotate/", views.annotate, name="annotate"),
    path("<int:campaign_id>/labels/", views.my_labels, name="labels"),
    path("<int:campaign_id>/labels/<int:label_id>/", views.label_edit, name="label"),
]
