from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "judgeapp.core"
    label = "core"
