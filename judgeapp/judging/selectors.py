"""Reads for judges, principle sets, runs and judgments, scoped by the user's teams and roles.

Annotators see no model output here; the campaign pages decide what an annotator may see.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import ADMIN_ROLES, DATA_ROLES, team_ids
from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet

# The rate shown on a run page is measured over this window.
RATE_WINDOW_SECONDS = 60


def judge_list(*, user: User, team: Team | None = None) -> QuerySet[Judge]:
    qs = Judge.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(team=team) if team is not None else qs


def judge_admin_list(*, user: User, team: Team | None = None) -> QuerySet[Judge]:
    """Judges the user may change (team admins)."""
    qs = Judge.objects.filter(team__in=team_ids(user=user, roles=ADMIN_ROLES))
    return qs.filter(team=team) if team is not None else qs


def runnable_judges(*, user: User, team: Team) -> QuerySet[Judge]:
    return judge_list(user=user, team=team).exclude(protocol=Judge.Protocol.IMPORTED)


def principle_set_list(*, user: User, team: Team | None = None) -> QuerySet[PrincipleSet]:
    qs = PrincipleSet.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(team=team) if team is not None else qs


def principle_set_latest(*, user: User, team: Team) -> list[PrincipleSet]:
    """The newest version of each of the team's principle sets, by name."""
    latest: dict[str, PrincipleSet] = {}
    for ps in principle_set_list(user=user, team=team).order_by("name", "-version"):
        latest.setdefault(ps.name, ps)
    return list(latest.values())


def run_list(*, user: User, team: Team | None = None) -> QuerySet[JudgeRun]:
    qs = JudgeRun.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES)).select_related(
        "judge", "dataset"
    )
    return qs.filter(team=team) if team is not None else qs


def judgment_list(*, user: User, run: JudgeRun | None = None) -> QuerySet[Judgment]:
    qs = Judgment.objects.filter(run__team__in=team_ids(user=user, roles=DATA_ROLES))
    return qs.filter(run=run) if run is not None else qs


@dataclass
class RunProgress:
    total: int = 0
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting_retry: int = 0
    with_verdict: int = 0
    parse: dict[str, int] = field(default_factory=dict)
    errors: list[tuple[str, int]] = field(default_factory=list)
    rate_per_s: float = 0.0
    eta_seconds: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    mean_latency_ms: float | None = None

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.cancelled

    @property
    def percent(self) -> float:
        return 100.0 * self.finished / self.total if self.total else 100.0

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "errors"}
        data["errors"] = [{"error": e, "count": n} for e, n in self.errors]
        data["percent"] = round(self.percent, 1)
        return data


def run_progress(*, run: JudgeRun) -> RunProgress:
    """Counts by state, verdict parse outcomes, the commonest errors, rate and time left."""
    now = timezone.now()
    rows = Judgment.objects.filter(run=run)
    progress = RunProgress()
    for status, count in rows.values_list("status").annotate(n=Count("id")).order_by():
        setattr(progress, status, count)
        progress.total += count
    if progress.queued:
        progress.waiting_retry = rows.filter(
            status=Judgment.Status.QUEUED, not_before__gt=now
        ).count()
    finished = rows.filter(status=Judgment.Status.DONE)
    for status, count in finished.values_list("parse_status").annotate(n=Count("id")).order_by():
        progress.parse[status or "none"] = count
    progress.with_verdict = sum(
        n for s, n in progress.parse.items() if s in (Judgment.ParseStatus.OK, "inconsistent")
    )
    progress.errors = list(
        rows.filter(status=Judgment.Status.FAILED)
        .values_list("error")
        .annotate(n=Count("id"))
        .order_by("-n")[:8]
    )
    totals = finished.aggregate(
        prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"), latency=Avg("latency_ms")
    )
    progress.prompt_tokens = totals["prompt"] or 0
    progress.completion_tokens = totals["completion"] or 0
    progress.mean_latency_ms = totals["latency"]
    if run.status in JudgeRun.ACTIVE and run.started_at:
        window = min(RATE_WINDOW_SECONDS, max((now - run.started_at).total_seconds(), 1.0))
        recent = rows.filter(
            Q(status=Judgment.Status.DONE) | Q(status=Judgment.Status.FAILED),
            finished_at__gte=now - timedelta(seconds=window),
        ).count()
        progress.rate_per_s = recent / window
        remaining = progress.queued + progress.running
        if progress.rate_per_s > 0:
            progress.eta_seconds = remaining / progress.rate_per_s
    return progress
