import sys

from django.core.management.base import BaseCommand, CommandError

from judgeapp.datasets.exports import EXPORT_FORMATS, export_stream
from judgeapp.datasets.models import Dataset


class Command(BaseCommand):
    # A data command: the system checks (URLs, views, the judge client) would add a second to
    # its start and are for `manage.py check`.
    requires_system_checks = []
    help = "Export a dataset with its labels and verdicts as native JSONL or flat CSV."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team name.")
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--format", choices=list(EXPORT_FORMATS), default="jsonl")
        parser.add_argument("-o", "--output", default="-", help="Output file (default: stdout).")

    def handle(self, *args, team, dataset, format, output, **options):
        dataset_obj = Dataset.objects.filter(team__name=team, name=dataset).first()
        if dataset_obj is None:
            raise CommandError(f"Team {team!r} has no dataset named {dataset!r}.")
        out = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
        try:
            for chunk in export_stream(dataset=dataset_obj, format=format):
                out.write(chunk)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
