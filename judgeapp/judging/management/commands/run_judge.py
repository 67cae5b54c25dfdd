import time
import uuid

from django.core.management.base import BaseCommand, CommandError

from judgeapp.accounts.selectors import team_by_name_or_id
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Dataset
from judgeapp.judging.models import Judge, JudgeRun, PrincipleSet
from judgeapp.judging.pump import pump_run
from judgeapp.judging.selectors import run_progress
from judgeapp.judging.services import run_start


class Command(BaseCommand):
    help = (
        "Run a judge over a dataset of TEAM. Workers send the requests; with --wait the command "
        "shows progress until the run ends and exits non-zero if it failed or any judgment failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team name (or id).")
        parser.add_argument("--dataset", required=True, help="Dataset name.")
        parser.add_argument("--judge", required=True, help="Judge name.")
        parser.add_argument("--swap", action="store_true", help="Judge both orders.")
        parser.add_argument("--samples", type=int, default=1, help="Verdicts per item and order.")
        parser.add_argument("--principle-set", help="Principle set name (its newest version).")
        parser.add_argument("--wait", action="store_true", help="Follow the run to its end.")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Send the requests from this process instead of the workers (implies --wait).",
        )

    def handle(self, *args, **o):
        team = team_by_name_or_id(o["team"])
        if team is None:
            raise CommandError(f"No team named {o['team']!r}.")
        dataset = Dataset.objects.filter(team=team, name=o["dataset"]).first()
        if dataset is None:
            raise CommandError(f"Team {team.name!r} has no dataset named {o['dataset']!r}.")
        judge = Judge.objects.filter(team=team, name=o["judge"]).first()
        if judge is None:
            raise CommandError(f"Team {team.name!r} has no judge named {o['judge']!r}.")
        principle_set = None
        if o["principle_set"]:
            principle_set = (
                PrincipleSet.objects.filter(team=team, name=o["principle_set"])
                .order_by("-version")
                .first()
            )
            if principle_set is None:
                raise CommandError(
                    f"Team {team.name!r} has no principle set {o['principle_set']!r}."
                )
        try:
            run = run_start(
                team=team,
                dataset=dataset,
                judge=judge,
                by=None,
                principle_set=principle_set,
                both_orders=o["swap"],
                samples=o["samples"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        progress = run_progress(run=run)
        self.stdout.write(
            f"Run {run.pk}: {progress.total} judgments of {judge.name} on {dataset.name}."
        )
        if o["inline"]:
            pump_run(owner=uuid.uuid4().hex)
        elif not o["wait"]:
            return
        started = time.monotonic()
        while True:
            run.refresh_from_db()
            progress = run_progress(run=run)
            self.stdout.write(
                f"  {progress.finished}/{progress.total} finished, {progress.failed} failed, "
                f"{progress.running} in flight, {progress.rate_per_s:.1f}/s"
            )
            if run.status not in JudgeRun.ACTIVE:
                break
            time.sleep(2)  # polling a row another process writes
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Run {run.pk} {run.status}: {progress.done} done ({progress.with_verdict} with a "
            f"verdict), {progress.failed} failed, {progress.cancelled} cancelled ({seconds:.1f} s)."
        )
        for error, count in progress.errors:
            self.stderr.write(f"  {count} x {error}")
        if run.error:
            raise CommandError(run.error)
        if run.status != JudgeRun.Status.DONE or progress.failed:
            raise CommandError(f"Run {run.pk} ended {run.status} with {progress.failed} failed.")
