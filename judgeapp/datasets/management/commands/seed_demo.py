from pathlib import Path

from django.core.management.base import BaseCommand

from judgeapp.accounts.services import team_setup
from judgeapp.datasets.services import dataset_get_or_create, dataset_import, import_job_create

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "demo.jsonl"


class Command(BaseCommand):
    help = "Create the demo team, its admin and a small demo dataset. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--team", default="Demo")
        parser.add_argument("--admin", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print.")

    def handle(self, *args, team, admin, url, **options):
        team_obj, user, password = team_setup(name=team, admin_username=admin)
        if password:
            # The demo's admin may also use the admin site (/admin/) on this local install.
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        dataset = dataset_get_or_create(team=team_obj, name="demo", by=user)
        if not dataset.description:
            dataset.description = "Twelve comparisons written for the demo, three labels each."
            dataset.save(update_fields=["description"])
        if not dataset.comparisons.exists():
            job = import_job_create(dataset=dataset, by=user, filename=DEMO_FILE.name)
            with DEMO_FILE.open("rb") as stream:
                job = dataset_import(job=job, stream=stream)
            self.stdout.write(f"Demo dataset 'demo' in team {team!r}: {job.message}")
        if password:
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nJudgeApp is at {url}\nLog in as {admin!r} with password {password!r}\n"
                    f"(shown once; change it with: python manage.py changepassword {admin})\n"
                )
            )
        else:
            self.stdout.write(f"JudgeApp is at {url} (log in as {admin!r}).")
