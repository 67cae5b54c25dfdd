from django.apps import AppConfig


class JudgingConfig(AppConfig):
    name = "judgeapp.judging"
    label = "judging"
