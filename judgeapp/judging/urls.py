from django.urls import path

from judgeapp.judging import views

app_name = "judging"
urlpatterns = [
    path("judges/", views.judge_index, name="judges"),
    path("judges/new/", views.judge_new, name="judge_new"),
    path("judges/<int:judge_id>/", views.judge_detail, name="judge"),
    path("judges/<int:judge_id>/edit/", views.judge_edit, name="judge_edit"),
    path("judges/<int:judge_id>/test/", views.judge_test, name="judge_test"),
    path("principles/", views.principle_index, name="principles"),
    path("runs/", views.run_index, name="runs"),
    path("runs/new/", views.run_new, name="run_new"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/<str:action>/", views.run_action, name="run_action"),
    path("runs/<int:run_id>/judgments/<int:judgment_id>/", views.judgment_detail, name="judgment"),
    path("playground/", views.playground, name="playground"),
    path("playground/<int:judgment_id>/", views.playground_result, name="playground_result"),
    path("playground/<int:judgment_id>/save/", views.playground_save_view, name="playground_save"),
]
