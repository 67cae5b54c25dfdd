from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "judgeapp.campaigns"
    label = "campaigns"
