from django.core.management.base import BaseCommand, CommandError

from judgeapp.accounts.models import User
from judgeapp.accounts.services import token_for


class Command(BaseCommand):
    help = (
        "Print the API token of USERNAME (created on first use). "
        "Send it as 'Authorization: Token <key>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        self.stdout.write(token_for(user=user).key)
