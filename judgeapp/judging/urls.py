from django.urls import path

from judgeapp.judging import views

app_name = "judging"
urlpatterns = [
    path("judges/", views.judge_index, name="judges"),
    path("judges/<int:judge_id>/", views.judge_detail, name="judge"),
    path("runs/", views.run_index, name="runs"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/judgments/<int:judgment_id>/", views.judgment_detail, name="judgment"),
]
