import os

from django.core.management.base import BaseCommand, CommandError

from judgeapp.accounts.selectors import team_by_name_or_id
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import ImportJob
from judgeapp.datasets.records import FORMATS
from judgeapp.datasets.services import dataset_get_or_create, dataset_import, import_job_create


class Command(BaseCommand):
    # A data command: the system checks (URLs, views, the judge client) would add a second to
    # its start and are for `manage.py check`.
    requires_system_checks = []
    help = (
        "Import a file (native JSONL/JSON, GenRM messages, HelpSteer3, CSV, or a judgments file) "
        "into a dataset of TEAM, creating the dataset if needed. Exits non-zero when the file is "
        "rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--team", required=True, help="Team name (or id).")
        parser.add_argument("--dataset", required=True, help="Dataset name; created if missing.")
        parser.add_argument("--format", choices=["auto", *FORMATS], default="auto")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid records and report the others (default: all or nothing).",
        )

    def handle(self, *args, path, team, dataset, format, skip_invalid, **options):
        team_obj = team_by_name_or_id(team)
        if team_obj is None:
            raise CommandError(f"No team named {team!r}.")
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        try:
            dataset_obj = dataset_get_or_create(team=team_obj, name=dataset)
            job = import_job_create(
                dataset=dataset_obj,
                by=None,
                filename=os.path.basename(path),
                format=format,
                skip_invalid=skip_invalid,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        job.bytes_total = os.path.getsize(path)
        with open(path, "rb") as stream:
            job = dataset_import(job=job, stream=stream)
        for error in job.errors:
            where = f"line {error['line']}" + (f" (id {error['id']})" if error.get("id") else "")
            field = f"{error['field']}: " if error["field"] else ""
            self.stderr.write(f"{path}: {where}: {field}{error['message']}")
        if job.error_count > len(job.errors):
            self.stderr.write(f"... and {job.error_count - len(job.errors)} more errors")
        if job.status != ImportJob.Status.DONE:
            raise CommandError(job.message)
        seconds = (job.finished_at - job.created_at).total_seconds()
        self.stdout.write(f"{job.format}: {job.message} ({seconds:.2f} s)")
