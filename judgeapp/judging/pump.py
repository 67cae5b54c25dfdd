"""Pumps: keep every judge's requests in flight and store each verdict as it arrives.

A pump is one long Celery task running an asyncio loop. It claims queued judgments in the database
and sends them with the async OpenAI client; how many a judge may have open is decided in the
database, so the cap holds across every pump, worker process and machine:

- claiming happens under a row lock on the judge: count the judge's judgments in state ``running``
  (each one is an open request, or one about to open), claim at most ``max_in_flight`` minus that;
- a claimed judgment carries a lease (owner + expiry) that the pump renews while the request is
  open; a verdict is stored only by the lease holder, so a judgment ends ``done`` exactly once;
- a pump that dies leaves leases that run out; the reconciler (``services.judging_reconcile``, run
  by beat) hands those judgments back to the queue and starts a new pump.

Judgments are rows, not broker messages: a Redis restart loses at most a pump's start message,
which the reconciler re-sends.
"""

import asyncio
import logging
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from judgeapp.core.secrets import decrypt
from judgeapp.judging import client as judge_client
from judgeapp.judging import verdicts
from judgeapp.judging.models import Judge, JudgeRun, JudgingPump, Judgment

log = logging.getLogger(__name__)

# How often the loop wakes with nothing finished, and how often it renews its heartbeat and looks
# for runs cancelled under it.
TICK_SECONDS = 0.2
CHECK_SECONDS = 1.0
# A pump's heartbeat older than this (or a queued pump not started after the grace) is dead.
PUMP_START_GRACE_SECONDS = 120


def pump_stale_seconds() -> float:
    return max(3 * CHECK_SECONDS, settings.JUDGING_LEASE_SECONDS / 2)


def judge_spec(judge: Judge, config: dict | None = None) -> judge_client.JudgeSpec:
    """The judge's connection settings with the sampling a run recorded at its start."""
    config = config or {}
    api_key = ""
    if judge.api_key_env:
        api_key = os.environ.get(judge.api_key_env, "")
    elif judge.api_key_encrypted:
        api_key = decrypt(judge.api_key_encrypted)
    return judge_client.JudgeSpec(
        protocol=config.get("protocol", judge.protocol),
        base_url=judge.base_url,
        model=config.get("model", judge.model),
        api_key=api_key,
        temperature=config.get("temperature", judge.temperature),
        top_p=config.get("top_p", judge.top_p),
        max_tokens=config.get("max_tokens", judge.max_tokens),
        timeout=judge.timeout_seconds,
        principle_position=config.get("principle_position", judge.principle_position),
        principles_one_message_each=config.get(
            "principles_one_message_each", judge.principles_one_message_each
        ),
        structured_output=config.get("structured_output", judge.structured_output),
    )


@dataclass(frozen=True)
class Claimed:
    judgment_id: int
    run_id: int
    judge_id: int
    swapped: bool
    attempts: int
    max_attempts: int
    spec: judge_client.JudgeSpec
    item: judge_client.Item


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    completion: judge_client.Completion | None = None
    verdict: verdicts.Verdict | None = None
    error: judge_client.JudgeError | None = None


_COMPARISON_FIELDS = tuple(
    f"comparison__{name}" for name in ("conversation", "response_1", "response_2", "principles")
)

# Database side: plain functions, run in the pump's database thread (and tested on their own).


def claim(*, owner: str, limit: int | None = None) -> list[Claimed]:
    """Lease queued judgments of active runs, never past any judge's max_in_flight."""
    now = timezone.now()
    runs = list(
        JudgeRun.objects.filter(status__in=JudgeRun.ACTIVE)
        .order_by("-priority", "id")
        .values("id", "judge_id", "principles_override", "config")
    )
    by_judge: dict[int, list[dict]] = {}
    for run in runs:
        by_judge.setdefault(run["judge_id"], []).append(run)
    claimed: list[Claimed] = []
    for judge_id, judge_runs in by_judge.items():
        if limit is not None and len(claimed) >= limit:
            break
        with transaction.atomic():
            judge = Judge.objects.select_for_update().filter(pk=judge_id).first()
            if judge is None:
                continue
            open_now = Judgment.objects.filter(
                status=Judgment.Status.RUNNING, run__judge_id=judge_id
            ).count()
            free = judge.max_in_flight - open_now
            if limit is not None:
                free = min(free, limit - len(claimed))
            ids: list[int] = []
            for run in judge_runs:
                if free - len(ids) <= 0:
                    break
                ids += (
                    Judgment.objects.filter(run_id=run["id"], status=Judgment.Status.QUEUED)
                    .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
                    .order_by("id")
                    .values_list("id", flat=True)[: free - len(ids)]
                )
            if not ids:
                continue
            Judgment.objects.filter(pk__in=ids, status=Judgment.Status.QUEUED).update(
                status=Judgment.Status.RUNNING,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=settings.JUDGING_LEASE_SECONDS),
                not_before=None,
                started_at=now,
                attempts=F("attempts") + 1,
            )
        run_by_id = {run["id"]: run for run in judge_runs}
        specs: dict[int, judge_client.JudgeSpec] = {}
        rows = (
            Judgment.objects.filter(pk__in=ids, lease_owner=owner, status=Judgment.Status.RUNNING)
            .select_related("comparison")
            .only("id", "run_id", "swapped", "attempts", *_COMPARISON_FIELDS)
        )
        for row in rows:
            run = run_by_id[row.run_id]
            if row.run_id not in specs:
                specs[row.run_id] = judge_spec(judge, run["config"])
            comparison = row.comparison
            principles = run["principles_override"]
            claimed.append(
                Claimed(
                    judgment_id=row.id,
                    run_id=row.run_id,
                    judge_id=judge_id,
                    swapped=row.swapped,
                    attempts=row.attempts,
                    max_attempts=run["config"].get("max_attempts", settings.JUDGING_MAX_ATTEMPTS),
                    spec=specs[row.run_id],
                    item=judge_client.Item(
                        conversation=comparison.conversation,
                        response_1=comparison.response_1,
                        response_2=comparison.response_2,
                        principles=list(
                            comparison.principles if principles is None else principles
                        ),
                    ),
                )
            )
    if claimed:
        JudgeRun.objects.filter(
            pk__in={c.run_id for c in claimed}, status=JudgeRun.Status.QUEUED
        ).update(status=JudgeRun.Status.RUNNING, started_at=now)
    return claimed


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is a floor."""
    ceiling = min(
        settings.JUDGING_RETRY_MAX_SECONDS,
        settings.JUDGING_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.JUDGING_RETRY_MAX_SECONDS))
    return delay


def store(*, owner: str, outcomes: list[Outcome]) -> set[int]:
    """Store what came back; a row whose lease this pump lost is left alone. Returns run ids."""
    now = timezone.now()
    touched: set[int] = set()
    with transaction.atomic():
        for outcome in outcomes:
            c = outcome.claimed
            touched.add(c.run_id)
            mine = Judgment.objects.filter(
                pk=c.judgment_id, status=Judgment.Status.RUNNING, lease_owner=owner
            )
            done = {"lease_owner": "", "lease_expires_at": None, "finished_at": now}
            if outcome.error is None:
                mine.update(status=Judgment.Status.DONE, **done, **_verdict_fields(outcome))
                continue
            error = outcome.error
            reason = error.reason[:2000]
            if isinstance(error, judge_client.TransientError):
                if c.attempts < c.max_attempts:
                    delay = retry_delay(c.attempts, error.retry_after)
                    mine.update(
                        status=Judgment.Status.QUEUED,
                        lease_owner="",
                        lease_expires_at=None,
                        not_before=now + timedelta(seconds=delay),
                        error=reason,
                    )
                else:
                    mine.update(
                        status=Judgment.Status.FAILED,
                        error=f"Gave up after {c.attempts} attempts: {reason}",
                        **done,
                    )
                continue
            mine.update(status=Judgment.Status.FAILED, error=reason, **done)
            if isinstance(error, judge_client.ConfigurationError):
                JudgeRun.objects.filter(pk=c.run_id, status__in=JudgeRun.ACTIVE).update(
                    status=JudgeRun.Status.FAILED, error=reason, finished_at=now
                )
    return touched


def _verdict_fields(outcome: Outcome) -> dict:
    completion, verdict, c = outcome.completion, outcome.verdict, outcome.claimed
    score_1, score_2, ranking, preference = verdicts.canonical(
        score_1=verdict.score_1, score_2=verdict.score_2, ranking=verdict.ranking, swapped=c.swapped
    )
    return {
        "score_1": score_1,
        "score_2": score_2,
        "ranking": ranking,
        "preference": preference,
        "reasoning": verdict.reasoning,
        "raw_output": completion.content,
        "parse_status": verdict.status,
        "finish_reason": completion.finish_reason[:32],
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency_ms": completion.latency_ms,
        "error": "" if verdict.status == verdicts.OK else verdict.detail[:2000],
    }


def runs_finish(*, run_ids: set[int]) -> None:
    """Mark runs done once nothing of theirs is queued or open."""
    now = timezone.now()
    for run_id in run_ids:
        pending = Judgment.objects.filter(
            run_id=run_id, status__in=(Judgment.Status.QUEUED, Judgment.Status.RUNNING)
        ).exists()
        if not pending:
            JudgeRun.objects.filter(pk=run_id, status__in=JudgeRun.ACTIVE).update(
                status=JudgeRun.Status.DONE, finished_at=now
            )


def heartbeat(*, owner: str, renew_leases: bool) -> None:
    now = timezone.now()
    JudgingPump.objects.filter(pk=owner).update(beat_at=now)
    if renew_leases:
        Judgment.objects.filter(lease_owner=owner, status=Judgment.Status.RUNNING).update(
            lease_expires_at=now + timedelta(seconds=settings.JUDGING_LEASE_SECONDS)
        )


def inactive_runs(*, run_ids: set[int]) -> dict[int, str]:
    """Of these runs, the ones no longer active (cancelled, failed), with their status."""
    return dict(
        JudgeRun.objects.filter(pk__in=run_ids)
        .exclude(status__in=JudgeRun.ACTIVE)
        .values_list("id", "status")
    )


def release(*, owner: str, judgment_ids: list[int], run_status: dict[int, str]) -> None:
    """Hand judgments back: cancelled with their run, else to the queue for another pump."""
    now = timezone.now()
    rows = Judgment.objects.filter(
        pk__in=judgment_ids, lease_owner=owner, status=Judgment.Status.RUNNING
    )
    cancelled = [r for r, s in run_status.items() if s == JudgeRun.Status.CANCELLED]
    rows.filter(run_id__in=cancelled).update(
        status=Judgment.Status.CANCELLED, lease_owner="", lease_expires_at=None, finished_at=now
    )
    rows.exclude(run_id__in=cancelled).update(
        status=Judgment.Status.QUEUED,
        lease_owner="",
        lease_expires_at=None,
        attempts=F("attempts") - 1,
    )


def work_waiting() -> bool:
    """Is anything queued in an active run (now or after a backoff)?"""
    return Judgment.objects.filter(
        status=Judgment.Status.QUEUED, run__status__in=JudgeRun.ACTIVE
    ).exists()


def pump_started(*, owner: str) -> None:
    now = timezone.now()
    JudgingPump.objects.update_or_create(
        pk=owner, defaults={"beat_at": now, "started_at": now}, create_defaults={
            "enqueued_at": now, "beat_at": now, "started_at": now}
    )  # fmt: skip


def pump_stopped(*, owner: str) -> None:
    JudgingPump.objects.filter(pk=owner).delete()


# The loop.


@dataclass
class PumpStats:
    claimed: int = 0
    stored: int = 0
    seconds: float = 0.0
    handed_over: bool = False


class Pump:
    def __init__(self, *, owner: str, max_seconds: float | None = None, idle_seconds: float = 1.0):
        self.owner = owner
        self.max_seconds = settings.JUDGING_PUMP_MAX_SECONDS if max_seconds is None else max_seconds
        self.idle_seconds = idle_seconds
        self.tasks: dict[asyncio.Task, Claimed] = {}
        self.clients: dict[tuple, object] = {}
        self.stats = PumpStats()
        # One thread owns this pump's database connection; the loop never blocks on a query.
        self.db_thread = ThreadPoolExecutor(1, thread_name_prefix=f"pump-{owner[:8]}-db")

    async def _db(self, fn, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_thread, lambda: fn(**kwargs))

    def _client(self, c: Claimed):
        key = (c.judge_id, c.spec.base_url, c.spec.api_key, c.spec.timeout)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = judge_client.make_client(c.spec)
        return client

    async def _judge(self, c: Claimed) -> Outcome:
        try:
            completion = await judge_client.complete(
                self._client(c), c.spec, c.item.shown(swapped=c.swapped)
            )
        except judge_client.JudgeError as exc:
            return Outcome(c, error=exc)
        except Exception as exc:  # a bug must fail one judgment, not the pump
            log.exception("judgment %s failed unexpectedly", c.judgment_id)
            return Outcome(c, error=judge_client.PermanentError(f"Internal error: {exc!r}"))
        verdict = verdicts.parse_verdict(
            content=completion.content,
            reasoning=completion.reasoning,
            finish_reason=completion.finish_reason,
        )
        return Outcome(c, completion=completion, verdict=verdict)

    async def run(self) -> PumpStats:
        started = time.monotonic()
        await self._db(close_old_connections)
        await self._db(pump_started, owner=self.owner)
        next_check = started + CHECK_SECONDS
        next_renew = started + settings.JUDGING_LEASE_SECONDS / 3
        idle_since: float | None = None
        try:
            while True:
                now = time.monotonic()
                draining = now - started >= self.max_seconds
                claimed = [] if draining else await self._db(claim, owner=self.owner)
                for c in claimed:
                    self.tasks[asyncio.ensure_future(self._judge(c))] = c
                self.stats.claimed += len(claimed)
                if self.tasks:
                    idle_since = None
                    finished, _ = await asyncio.wait(
                        self.tasks, timeout=TICK_SECONDS, return_when=asyncio.FIRST_COMPLETED
                    )
                    if finished:
                        outcomes = [task.result() for task in finished]
                        for task in finished:
                            del self.tasks[task]
                        touched = await self._db(store, owner=self.owner, outcomes=outcomes)
                        await self._db(runs_finish, run_ids=touched)
                        self.stats.stored += len(outcomes)
                elif not claimed:
                    if draining:
                        self.stats.handed_over = await self._db(work_waiting)
                        break
                    idle_since = idle_since or now
                    if now - idle_since >= self.idle_seconds and not await self._db(work_waiting):
                        break
                    await asyncio.sleep(TICK_SECONDS)  # polling the queue: work may come later
                now = time.monotonic()
                if now >= next_check:
                    renew = now >= next_renew
                    await self._db(heartbeat, owner=self.owner, renew_leases=renew)
                    if renew:
                        next_renew = now + settings.JUDGING_LEASE_SECONDS / 3
                    next_check = now + CHECK_SECONDS
                    await self._drop_inactive_runs()
        finally:
            await self._shutdown()
            self.stats.seconds = time.monotonic() - started
        return self.stats

    async def _drop_inactive_runs(self) -> None:
        if not self.tasks:
            return
        statuses = await self._db(inactive_runs, run_ids={c.run_id for c in self.tasks.values()})
        if not statuses:
            return
        dropped = [t for t, c in self.tasks.items() if c.run_id in statuses]
        for task in dropped:
            task.cancel()
        await asyncio.gather(*dropped, return_exceptions=True)
        ids = [self.tasks.pop(task).judgment_id for task in dropped]
        await self._db(release, owner=self.owner, judgment_ids=ids, run_status=statuses)

    async def _shutdown(self) -> None:
        # Leaving early (an error, a worker shutting down): hand open judgments back at once
        # rather than let their leases run out.
        if self.tasks:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            ids = [c.judgment_id for c in self.tasks.values()]
            self.tasks.clear()
            await self._db(release, owner=self.owner, judgment_ids=ids, run_status={})
        for client in self.clients.values():
            await client.close()
        await self._db(pump_stopped, owner=self.owner)
        await self._db(connections.close_all)
        self.db_thread.shutdown(wait=True)


def pump_run(*, owner: str, max_seconds: float | None = None) -> PumpStats:
    """Run one pump to the end (no work left, or its time is up) in this thread."""
    return asyncio.run(Pump(owner=owner, max_seconds=max_seconds).run())
