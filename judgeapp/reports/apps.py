from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "judgeapp.reports"
    label = "reports"
