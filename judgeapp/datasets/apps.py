from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "judgeapp.datasets"
    label = "datasets"
