"""Writes for reports: ask for one (served from the cache when its inputs are unchanged),
compute it (inline when small, else on a worker, with progress), and its failure."""

import logging
import time
import tomllib
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from judgeapp.accounts.models import Team, User
from judgeapp.campaigns.models import Campaign
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Dataset
from judgeapp.judging.models import Judge
from judgeapp.reports import assemble, data, metrics
from judgeapp.reports.models import Report

log = logging.getLogger(__name__)

MAX_RESAMPLES = 10_000


def _version() -> str:
    pyproject = Path(settings.BASE_DIR) / "pyproject.toml"
    try:
        return tomllib.loads(pyproject.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def report_config(
    *,
    dataset: Dataset,
    judges: list[Judge] | None = None,
    humans: str = "all",
    tie_policy: str = "strict",
    seed: int = 0,
    resamples: int = 1000,
    breakdown: list[str] | None = None,
) -> dict:
    """The settings that define a report's figures, checked and in a canonical form. Without
    ``judges``, every judge with verdicts on ``dataset``."""
    if not judges:
        judges = list(data.judges_with_verdicts(dataset=dataset))
    if humans not in data.HUMANS:
        raise ApplicationError(f"humans: expected one of {', '.join(data.HUMANS)}.")
    if tie_policy not in metrics.TIE_POLICIES:
        raise ApplicationError(f"tie_policy: expected one of {', '.join(metrics.TIE_POLICIES)}.")
    if seed < 0:
        raise ApplicationError("seed: a whole number, 0 or more.")
    if not 0 <= resamples <= MAX_RESAMPLES:
        raise ApplicationError(f"resamples: between 0 and {MAX_RESAMPLES:,}.")
    return {
        "humans": humans,
        "tie_policy": tie_policy,
        "seed": int(seed),
        "resamples": int(resamples),
        "confidence": 0.95,
        "judges": sorted(j.pk for j in judges),
        "breakdown": sorted(set(breakdown or [])),
    }


def report_request(
    *,
    team: Team,
    dataset: Dataset,
    campaign: Campaign | None = None,
    by: User | None,
    config: dict,
    inline: bool | None = None,
) -> Report:
    """The report for this scope and configuration: the stored one when nothing it reads has
    changed since, else a new one, computed here when small (or ``inline``), else by a worker."""
    if dataset.team_id != team.pk or (campaign is not None and campaign.dataset_id != dataset.pk):
        raise ApplicationError("The dataset and campaign must belong to the team.")
    unknown = set(config["judges"]) - set(
        Judge.objects.filter(team=team, pk__in=config["judges"]).values_list("pk", flat=True)
    )
    if unknown:
        raise ApplicationError("judges: not judges of the team.")
    keys = set(config["breakdown"]) - set(dataset.metadata_keys)
    if keys:
        raise ApplicationError(f"breakdown: no metadata key {', '.join(sorted(keys))} here.")
    fingerprint = data.fingerprint(
        dataset=dataset, campaign=campaign, config=config, judge_ids=config["judges"]
    )
    reusable = (
        Report.objects.filter(team=team, fingerprint=fingerprint)
        .exclude(status=Report.Status.FAILED)
        .order_by("-created_at")
        .first()
    )
    if reusable is not None:
        return reusable
    report = Report.objects.create(
        team=team,
        dataset=dataset,
        campaign=campaign,
        config=config,
        fingerprint=fingerprint,
        created_by=by,
    )
    if inline is None:
        items = campaign.items.count() if campaign else dataset.comparisons.count()
        inline = items <= settings.REPORT_INLINE_MAX_ITEMS
    if inline:
        report_compute(report_id=report.pk)
        report.refresh_from_db()
    else:
        from judgeapp.reports.tasks import report_compute_task

        transaction.on_commit(lambda: report_compute_task.delay(report.pk))
    return report


def report_compute(*, report_id: int, redelivered: bool = False) -> Report | None:
    """Compute a queued report. Safe to run twice: only the first run claims it (a redelivered
    task also takes up one left running by a worker that died)."""
    claimable = [Report.Status.QUEUED, *([Report.Status.RUNNING] if redelivered else [])]
    claimed = Report.objects.filter(pk=report_id, status__in=claimable).update(
        status=Report.Status.RUNNING, stage="reading the labels and verdicts", progress=0.0
    )
    if not claimed:
        return None
    report = Report.objects.select_related("dataset", "campaign").get(pk=report_id)
    config = report.config
    started = time.monotonic()
    last = [0.0]

    def progress(share: float, stage: str) -> None:
        # At most a few writes a second: the page polls, it does not need every step.
        now = time.monotonic()
        if now - last[0] >= 0.3 or share >= 1.0:
            last[0] = now
            Report.objects.filter(pk=report_id).update(progress=0.1 + 0.9 * share, stage=stage)

    try:
        inputs = data.load(
            dataset=report.dataset,
            campaign=report.campaign,
            judge_ids=config["judges"],
            humans=config["humans"],
            breakdown=config["breakdown"],
        )
        result = assemble.build(inputs, config=config, progress=progress)
    except Exception as exc:
        log.exception("report %s failed", report_id)
        Report.objects.filter(pk=report_id).update(
            status=Report.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )  # fmt: skip
        report.refresh_from_db()
        return report
    result["scope"] = {
        "team": report.team.name,
        "dataset": {"id": report.dataset_id, "name": report.dataset.name},
        "campaign": (
            {"id": report.campaign_id, "name": report.campaign.name} if report.campaign else None
        ),
    }
    result["config"] = {**config, "judges": [j.name for j in inputs.judges]}
    result["fingerprint"] = report.fingerprint
    result["versions"] = {**assemble.versions(), "judgeapp": _version()}
    result["generated_at"] = timezone.now().isoformat(timespec="seconds")
    result["seconds"] = round(time.monotonic() - started, 3)
    Report.objects.filter(pk=report_id).update(
        status=Report.Status.DONE, result=result, progress=1.0, stage="done",
        finished_at=timezone.now(),
    )  # fmt: skip
    report.refresh_from_db()
    return report
