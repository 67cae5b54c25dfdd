from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "judgeapp.accounts"
    label = "accounts"
