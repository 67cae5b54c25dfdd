from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "judgeapp.api"
    label = "api"
