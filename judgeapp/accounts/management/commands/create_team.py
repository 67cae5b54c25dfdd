from django.core.management.base import BaseCommand

from judgeapp.accounts.services import team_setup


class Command(BaseCommand):
    help = "Create a team (if needed) with USERNAME as its admin (creating the user if needed)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Team name.")
        parser.add_argument("--admin", required=True, metavar="USERNAME", help="The team's admin.")
        parser.add_argument(
            "--password", help="Set this password (default: generated for a new user)."
        )
        parser.add_argument("--email", default="", help="E-mail for a new user.")

    def handle(self, *args, name, admin, password, email, **options):
        team, user, new_password = team_setup(
            name=name, admin_username=admin, password=password, email=email
        )
        self.stdout.write(f"Team {team.name!r} (id {team.pk}) has admin {user.username!r}.")
        if new_password and not password:
            self.stdout.write(f"Password for {user.username}: {new_password}")
