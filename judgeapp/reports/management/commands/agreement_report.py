import sys

from django.core.management.base import BaseCommand, CommandError

from judgeapp.accounts.selectors import team_by_name_or_id
from judgeapp.campaigns.models import Campaign
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Dataset
from judgeapp.judging.models import Judge
from judgeapp.reports import exports, metrics
from judgeapp.reports.data import HUMANS
from judgeapp.reports.models import Report
from judgeapp.reports.services import report_config, report_request


class Command(BaseCommand):
    # A data command: the system checks (URLs, views, the judge client) would add a second to
    # its start and are for `manage.py check`.
    requires_system_checks = []
    help = (
        "Compute an agreement report (judges vs humans vs humans) over a dataset or a campaign "
        "and write it as JSON, CSV or a self-contained HTML file. Computed here, not on a "
        "worker; an unchanged report is served from the stored one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team name or id.")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--dataset", help="Dataset name.")
        scope.add_argument("--campaign", help="Campaign name (its items and labels).")
        parser.add_argument(
            "--judge", action="append", default=[], metavar="NAME",
            help="A judge to include (repeat for several; default: every judge with verdicts).",
        )  # fmt: skip
        parser.add_argument("--humans", choices=HUMANS, default="all")
        parser.add_argument("--tie-policy", choices=metrics.TIE_POLICIES, default="strict")
        parser.add_argument("--breakdown", action="append", default=[], metavar="KEY")
        parser.add_argument("--resamples", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--format", choices=exports.FORMATS, default="json")
        parser.add_argument("-o", "--output", default="-", help="Output file (default: stdout).")

    def handle(self, *args, **o):
        team = team_by_name_or_id(o["team"])
        if team is None:
            raise CommandError(f"No team {o['team']!r}.")
        campaign = None
        if o["campaign"]:
            campaign = Campaign.objects.filter(team=team, name=o["campaign"]).first()
            if campaign is None:
                raise CommandError(f"Team {team.name!r} has no campaign named {o['campaign']!r}.")
            dataset = campaign.dataset
        else:
            dataset = Dataset.objects.filter(team=team, name=o["dataset"]).first()
            if dataset is None:
                raise CommandError(f"Team {team.name!r} has no dataset named {o['dataset']!r}.")
        judges = None
        if o["judge"]:
            judges = list(Judge.objects.filter(team=team, name__in=o["judge"]))
            missing = sorted(set(o["judge"]) - {j.name for j in judges})
            if missing:
                raise CommandError(f"No judge named {', '.join(missing)} in {team.name!r}.")
        try:
            config = report_config(
                dataset=dataset, judges=judges, humans=o["humans"], tie_policy=o["tie_policy"],
                seed=o["seed"], resamples=o["resamples"], breakdown=o["breakdown"],
            )  # fmt: skip
            report = report_request(
                team=team, dataset=dataset, campaign=campaign, by=None, config=config, inline=True
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if report.status != Report.Status.DONE:
            raise CommandError(f"The report could not be computed: {report.error}")
        body = exports.render(report, o["format"])
        if o["output"] == "-":
            sys.stdout.buffer.write(body)
        else:
            with open(o["output"], "wb") as out:
                out.write(body)
            self.stderr.write(
                f"Report {report.pk} ({report.result.get('seconds', 0):.1f} s) written to "
                f"{o['output']}."
            )
