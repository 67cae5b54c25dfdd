"""Pumps: keep every judge's requests in flight and store each verdict as it arrives.

A pump is one long Celery task. It holds an asyncio event loop with the open requests (the async
OpenAI client) and does the database work between steps of that loop. How many requests a judge
may have open is decided in the database, so the cap holds across every pump, worker process and
machine:

- a pump is granted request *slots* per judge under a row lock on the judge: the slots of the other
  live pumps (recorded with their heartbeat) are read, and it takes the rest of ``max_in_flight``;
  a dead pump's slots go when its heartbeat stops;
- it leases queued judgments for its slots and a few more, and keeps them in a queue of its own,
  so that a finished request is replaced at once from that queue, without waiting for the
  database; it never has more requests open than its slots;
- a leased judgment carries a lease (owner + expiry) that the pump renews; a verdict is stored only
  by the lease holder, so a judgment ends ``done`` exactly once; a pump that dies leaves leases
  that run out, and the reconciler (``services.judging_reconcile``, run by beat) hands those
  judgments back to the queue and starts a new pump.

Judgments are rows, not broker messages: a Redis restart loses at most a pump's start message,
which the reconciler re-sends.
"""

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from judgeapp.core.secrets import decrypt
from judgeapp.datasets.models import Comparison
from judgeapp.judging import client as judge_client
from judgeapp.judging import verdicts
from judgeapp.judging.models import Judge, JudgeRun, JudgingPump, Judgment

log = logging.getLogger(__name__)

# How often the loop wakes with nothing finished, and how often it renews its heartbeat and looks
# for runs cancelled under it.
TICK_SECONDS = 0.2
CHECK_SECONDS = 1.0
# After a reply, keep collecting replies that follow within GATHER_QUIET_SECONDS of each other,
# for at most GATHER_MAX_SECONDS, before storing them together.
GATHER_QUIET_SECONDS = 0.002
GATHER_MAX_SECONDS = 0.010
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


# Database side: plain functions, run in the pump's database thread (and tested on their own).


def active_runs() -> list[dict]:
    """The runs a pump may claim from, highest priority first."""
    return list(
        JudgeRun.objects.filter(status__in=JudgeRun.ACTIVE)
        .order_by("-priority", "id")
        .values("id", "judge_id", "status", "principles_override", "config")
    )


_J = Judgment._meta.db_table
_R = JudgeRun._meta.db_table
_C = Comparison._meta.db_table
_ACTIVE_SQL = "('queued', 'running')"
# Raw SQL on this path: a pump claims many times a second, and the ORM's query building cost
# several times the database's own work.
_PICK_SQL = (
    f"SELECT id FROM {_J} WHERE run_id = %s AND status = 'queued' "  # noqa: S608 - constants
    f"AND (not_before IS NULL OR not_before <= %s) ORDER BY id LIMIT %s"
)
_LOCK_SQL = f"SELECT max_in_flight FROM {Judge._meta.db_table} WHERE id = %s"  # noqa: S608
_FETCH_SQL = (
    f"SELECT j.id, j.run_id, j.swapped, j.attempts, c.conversation, c.response_1, "  # noqa: S608
    f"c.response_2, c.principles FROM {_J} j JOIN {_C} c ON c.id = j.comparison_id "
    f"WHERE j.lease_owner = %s AND j.status = 'running' AND j.id IN ({{ids}})"
)


def _json(value):
    # A raw cursor hands back JSON columns as text on every backend Django supports here.
    return json.loads(value) if isinstance(value, str | bytes) else value


@dataclass
class Grant:
    """What a claim gave a pump for one judge: requests it may keep open, and rows to send."""

    slots: int
    claimed: list[Claimed]


def claim(
    *,
    owner: str,
    limit: int | None = None,
    runs: list[dict] | None = None,
    specs: dict[int, judge_client.JudgeSpec] | None = None,
    holding: dict[int, int] | None = None,
    buffer: float = 0.5,
) -> dict[int, Grant]:
    """Grant this pump request slots per judge and lease it queued judgments to fill them.

    Under a lock on the judge's row, the slots held by the other live pumps are read and this
    pump takes the rest of ``max_in_flight``, so the judge's open requests stay within its cap
    across every pump (a pump keeps its slots while it has work; a dead pump's go with its
    heartbeat). It leases rows for
    its slots plus ``buffer`` of them, minus the ``holding`` rows it already has, so that a
    finished request is replaced at once from its own queue.

    ``runs`` (from ``active_runs``) saves a query when the caller has a recent list: each run is
    checked again under the lock. ``specs`` caches the judges' request settings by run.
    ``limit`` caps the rows leased in all (tests)."""
    now = timezone.now()
    if runs is None:
        runs = active_runs()
    if specs is None:
        specs = {}
    holding = holding or {}
    by_judge: dict[int, list[dict]] = {}
    for run in runs:
        by_judge.setdefault(run["judge_id"], []).append(run)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    lease_until = now + timedelta(seconds=settings.JUDGING_LEASE_SECONDS)
    stale = now - timedelta(seconds=pump_stale_seconds())
    grants: dict[int, Grant] = {}
    total = 0
    for judge_id, judge_runs in by_judge.items():
        if limit is not None and total >= limit:
            break
        rows: list = []
        with transaction.atomic(), connection.cursor() as cursor:
            # The judge's row lock makes read-slots-then-grant atomic across every pump.
            cursor.execute(_LOCK_SQL + lock, [judge_id])
            row = cursor.fetchone()
            if row is None:
                continue
            cap = row[0]
            pumps = list(
                JudgingPump.objects.filter(beat_at__gte=stale)
                .exclude(pk=owner)
                .values_list("slots", flat=True)
            )
            others = sum(int((p or {}).get(str(judge_id), 0)) for p in pumps)
            have = holding.get(judge_id, 0)
            slots = max(0, cap - others)
            # Re-read under the lock: a run may have been cancelled or stopped a moment ago.
            marks = ", ".join(["%s"] * len(judge_runs))
            cursor.execute(
                f"SELECT id FROM {_R} WHERE id IN ({marks}) AND status IN {_ACTIVE_SQL}",  # noqa: S608
                [run["id"] for run in judge_runs],
            )
            still_active = {r[0] for r in cursor.fetchall()}
            judge_runs = [run for run in judge_runs if run["id"] in still_active]
            want = slots + int(slots * buffer) - have
            if limit is not None:
                want = min(want, limit - total)
            ids: list[int] = []
            for run in judge_runs:
                if want - len(ids) <= 0:
                    break
                cursor.execute(_PICK_SQL, [run["id"], now, want - len(ids)])
                ids += [r[0] for r in cursor.fetchall()]
            if ids:
                marks = ", ".join(["%s"] * len(ids))
                cursor.execute(
                    f"UPDATE {_J} SET status = 'running', lease_owner = %s, "  # noqa: S608
                    f"lease_expires_at = %s, not_before = NULL, started_at = %s, "
                    f"attempts = attempts + 1 WHERE status = 'queued' AND id IN ({marks})",
                    [owner, lease_until, now, *ids],
                )
                cursor.execute(_FETCH_SQL.format(ids=marks), [owner, *ids])
                rows = cursor.fetchall()
            if not judge_runs and not have:
                slots = 0  # nothing to send for this judge: leave its slots to others
            mine, _ = JudgingPump.objects.get_or_create(
                pk=owner, defaults={"enqueued_at": now, "beat_at": now, "started_at": now}
            )
            if mine.slots.get(str(judge_id)) != slots:
                mine.slots[str(judge_id)] = slots
                JudgingPump.objects.filter(pk=owner).update(slots=mine.slots, beat_at=now)
        run_by_id = {run["id"]: run for run in judge_runs}
        claimed = []
        for jid, run_id, swapped, attempts, conversation, response_1, response_2, own in rows:
            run = run_by_id[run_id]
            if run_id not in specs:
                specs[run_id] = judge_spec(Judge.objects.get(pk=judge_id), run["config"])
            principles = run["principles_override"]
            claimed.append(
                Claimed(
                    judgment_id=jid,
                    run_id=run_id,
                    judge_id=judge_id,
                    swapped=bool(swapped),
                    attempts=attempts,
                    max_attempts=run["config"].get("max_attempts", settings.JUDGING_MAX_ATTEMPTS),
                    spec=specs[run_id],
                    item=judge_client.Item(
                        conversation=_json(conversation),
                        response_1=response_1,
                        response_2=response_2,
                        principles=list(_json(own) if principles is None else principles),
                    ),
                )
            )
        grants[judge_id] = Grant(slots=slots, claimed=claimed)
        total += len(claimed)
    # Slots kept for judges this pump no longer has work for go back to the others.
    held = JudgingPump.objects.filter(pk=owner).values_list("slots", flat=True).first() or {}
    unused = {
        key: 0
        for key, value in held.items()
        if value and int(key) not in by_judge and not holding.get(int(key))
    }
    if unused:
        JudgingPump.objects.filter(pk=owner).update(slots={**held, **unused})
    claimed_runs = {c.run_id for g in grants.values() for c in g.claimed}
    starting = claimed_runs & {r["id"] for r in runs if r["status"] == "queued"}
    if starting:
        JudgeRun.objects.filter(pk__in=starting, status=JudgeRun.Status.QUEUED).update(
            status=JudgeRun.Status.RUNNING, started_at=now
        )
    return grants


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


_EMPTY_VERDICT = {
    "score_1": None, "score_2": None, "ranking": None, "preference": None, "reasoning": "",
    "raw_output": "", "parse_status": "", "finish_reason": "", "prompt_tokens": None,
    "completion_tokens": None, "latency_ms": None,
}  # fmt: skip
_STORED_FIELDS = [
    *_EMPTY_VERDICT, "status", "error", "lease_owner", "lease_expires_at", "not_before",
    "finished_at",
]  # fmt: skip


_STORE_SQL = (
    f"UPDATE {Judgment._meta.db_table} SET "  # noqa: S608 - constant names only
    + ", ".join(f"{name} = %s" for name in _STORED_FIELDS)
    + " WHERE id = %s AND status = 'running' AND lease_owner = %s"
)


def store(*, owner: str, outcomes: list[Outcome]) -> set[int]:
    """Store what came back, one batched statement for the lot; a row whose lease this pump lost
    (the reconciler gave it to another) is left alone. Returns the run ids touched."""
    now = timezone.now()
    touched = {o.claimed.run_id for o in outcomes}
    stopped: dict[int, str] = {}
    rows: list[list] = []
    for outcome in outcomes:
        c = outcome.claimed
        values = {**_EMPTY_VERDICT, "lease_owner": "", "lease_expires_at": None}
        values.update(not_before=None, finished_at=now, error="")
        error = outcome.error
        if error is None:
            values.update(status=Judgment.Status.DONE, **_verdict_fields(outcome))
        elif isinstance(error, judge_client.TransientError) and c.attempts < c.max_attempts:
            delay = retry_delay(c.attempts, error.retry_after)
            values.update(
                status=Judgment.Status.QUEUED,
                not_before=now + timedelta(seconds=delay),
                finished_at=None,
                error=error.reason[:2000],
            )
        elif isinstance(error, judge_client.TransientError):
            values.update(
                status=Judgment.Status.FAILED,
                error=f"Gave up after {c.attempts} attempts: {error.reason}"[:2000],
            )
        else:
            values.update(status=Judgment.Status.FAILED, error=error.reason[:2000])
            if isinstance(error, judge_client.ConfigurationError):
                stopped[c.run_id] = error.reason[:2000]
        rows.append([*(values[name] for name in _STORED_FIELDS), c.judgment_id, owner])
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One round trip for the batch (psycopg pipelines executemany).
            cursor.executemany(_STORE_SQL, rows)
        for run_id, reason in stopped.items():
            JudgeRun.objects.filter(pk=run_id, status__in=JudgeRun.ACTIVE).update(
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


def runs_finish(*, run_ids: set[int]) -> int:
    """Mark runs done once nothing of theirs is queued or open; returns how many were."""
    now = timezone.now()
    finished = 0
    for run_id in run_ids:
        pending = Judgment.objects.filter(
            run_id=run_id, status__in=(Judgment.Status.QUEUED, Judgment.Status.RUNNING)
        ).exists()
        if not pending:
            finished += JudgeRun.objects.filter(pk=run_id, status__in=JudgeRun.ACTIVE).update(
                status=JudgeRun.Status.DONE, finished_at=now
            )
    return finished


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
    """The loop. Each judge's granted slots are filled from a queue of leased judgments held in
    this process: a finished request is replaced at once, inside the event loop, while the
    database work (storing verdicts, leasing more) runs between steps of the loop, in this
    thread. (A separate database thread would queue behind the requests' Python work for the
    GIL.)"""

    def __init__(self, *, owner: str, max_seconds: float | None = None, idle_seconds: float = 1.0):
        self.owner = owner
        self.max_seconds = settings.JUDGING_PUMP_MAX_SECONDS if max_seconds is None else max_seconds
        self.idle_seconds = idle_seconds
        self.tasks: dict[asyncio.Task, Claimed] = {}
        self.queued: dict[int, deque[Claimed]] = {}
        self.slots: dict[int, int] = {}
        self.open: dict[int, int] = {}
        self.outcomes: list[Outcome] = []
        self.clients: dict[tuple, object] = {}
        self.stats = PumpStats()
        self.loop = asyncio.new_event_loop()
        self.arrived = asyncio.Event()

    def _client(self, c: Claimed):
        key = (c.judge_id, c.spec.base_url, c.spec.api_key, c.spec.timeout)
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = judge_client.make_client(c.spec)
        return client

    def _fill(self, judge_id: int) -> None:
        queue = self.queued.get(judge_id)
        while queue and self.open.get(judge_id, 0) < self.slots.get(judge_id, 0):
            c = queue.popleft()
            self.open[judge_id] = self.open.get(judge_id, 0) + 1
            self.tasks[self.loop.create_task(self._judge(c))] = c

    async def _judge(self, c: Claimed) -> None:
        try:
            completion = await judge_client.complete(
                self._client(c), c.spec, c.item.shown(swapped=c.swapped)
            )
        except judge_client.JudgeError as exc:
            outcome = Outcome(c, error=exc)
        except Exception as exc:  # a bug must fail one judgment, not the pump
            log.exception("judgment %s failed unexpectedly", c.judgment_id)
            outcome = Outcome(c, error=judge_client.PermanentError(f"Internal error: {exc!r}"))
        else:
            verdict = verdicts.parse_verdict(
                content=completion.content,
                reasoning=completion.reasoning,
                finish_reason=completion.finish_reason,
            )
            outcome = Outcome(c, completion=completion, verdict=verdict)
        self.outcomes.append(outcome)
        self.open[c.judge_id] -= 1
        self.tasks.pop(asyncio.current_task(), None)
        if not isinstance(outcome.error, judge_client.ConfigurationError):
            self._fill(c.judge_id)  # the next one goes out now, not after the database work
        self.arrived.set()

    async def _collect(self, timeout: float) -> None:
        """Run the loop until replies arrived (and the ones right behind them), or ``timeout``."""
        if not self.outcomes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout)
        # Replies come in waves (a server batches its requests): take the ones arriving right
        # behind, so that one round of database work stores them all.
        deadline = time.monotonic() + GATHER_MAX_SECONDS
        while self.outcomes and self.tasks and time.monotonic() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), GATHER_QUIET_SECONDS)
            except TimeoutError:
                break
        self.arrived.clear()

    def _holding(self) -> dict[int, int]:
        judges = set(self.open) | set(self.queued)
        return {j: self.open.get(j, 0) + len(self.queued.get(j, ())) for j in judges}

    def _claim(self, runs: list[dict], specs: dict) -> int:
        grants = claim(owner=self.owner, runs=runs, specs=specs, holding=self._holding())
        count = 0
        for judge_id, grant in grants.items():
            self.slots[judge_id] = grant.slots
            self.queued.setdefault(judge_id, deque()).extend(grant.claimed)
            count += len(grant.claimed)
            self._fill(judge_id)
        self.stats.claimed += count
        return count

    def _low(self) -> bool:
        """Is some judge's queue of leased judgments running short of its slots?"""
        return (
            any(len(self.queued.get(j, ())) < max(1, slots // 4) for j, slots in self.slots.items())
            or not self.slots
        )

    def run(self) -> PumpStats:
        started = time.monotonic()
        asyncio.set_event_loop(self.loop)
        close_old_connections()
        pump_started(owner=self.owner)
        next_check = started + CHECK_SECONDS
        next_renew = started + settings.JUDGING_LEASE_SECONDS / 3
        idle_since: float | None = None
        runs: list[dict] = []
        specs: dict[int, judge_client.JudgeSpec] = {}
        runs_read_at = -CHECK_SECONDS
        last_claim = -TICK_SECONDS
        try:
            while True:
                now = time.monotonic()
                draining = now - started >= self.max_seconds
                claimed = 0
                if not draining and (self._low() or now - last_claim >= TICK_SECONDS):
                    if not self.tasks or now - runs_read_at >= CHECK_SECONDS:
                        runs, runs_read_at = active_runs(), now
                        specs = {}  # judges' settings may have changed
                    if runs:
                        claimed = self._claim(runs, specs)
                    last_claim = now
                if draining and any(self.queued.values()):
                    self._release_queued()
                if self.tasks or self.outcomes:
                    idle_since = None
                    self.loop.run_until_complete(self._collect(TICK_SECONDS))
                    if self.outcomes:
                        self._store()
                elif not claimed:
                    if draining:
                        self.stats.handed_over = work_waiting()
                        break
                    idle_since = idle_since or now
                    if now - idle_since >= self.idle_seconds and not work_waiting():
                        break
                    time.sleep(TICK_SECONDS)  # polling the queue: work may come later
                now = time.monotonic()
                if now >= next_check:
                    renew = now >= next_renew
                    heartbeat(owner=self.owner, renew_leases=renew)
                    if renew:
                        next_renew = now + settings.JUDGING_LEASE_SECONDS / 3
                    next_check = now + CHECK_SECONDS
                    self._drop_inactive_runs()
        finally:
            self._shutdown()
            self.stats.seconds = time.monotonic() - started
        return self.stats

    def _store(self) -> None:
        outcomes, self.outcomes = self.outcomes, []
        touched = store(owner=self.owner, outcomes=outcomes)
        # A run can only have ended where this pump has nothing left of it.
        mine = {c.run_id for c in self.tasks.values()}
        mine |= {c.run_id for queue in self.queued.values() for c in queue}
        quiet = touched - mine
        if quiet:
            runs_finish(run_ids=quiet)
        self.stats.stored += len(outcomes)
        if any(isinstance(o.error, judge_client.ConfigurationError) for o in outcomes):
            self._drop_inactive_runs()  # the run just stopped: close its other requests now

    def _cancel(self, tasks: list[asyncio.Task]) -> list[int]:
        if not tasks:
            return []
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        ids = []
        for task in tasks:
            c = self.tasks.pop(task, None)
            if c is not None:
                self.open[c.judge_id] -= 1
                ids.append(c.judgment_id)
        return ids

    def _release_queued(self, run_ids: set[int] | None = None) -> list[int]:
        """Take leased, unsent judgments (of ``run_ids``, or all) off this pump's queues; with
        no ``run_ids`` they go back to the shared queue at once, else the caller releases them."""
        ids = []
        for judge_id, queue in self.queued.items():
            drop = [c for c in queue if run_ids is None or c.run_id in run_ids]
            ids += [c.judgment_id for c in drop]
            self.queued[judge_id] = deque(c for c in queue if c not in drop)
        if run_ids is None and ids:
            release(owner=self.owner, judgment_ids=ids, run_status={})
        return ids

    def _drop_inactive_runs(self) -> None:
        runs = {c.run_id for c in self.tasks.values()}
        runs |= {c.run_id for queue in self.queued.values() for c in queue}
        if not runs:
            return
        statuses = inactive_runs(run_ids=runs)
        if statuses:
            ids = self._cancel([t for t, c in self.tasks.items() if c.run_id in statuses])
            ids += self._release_queued(set(statuses))
            release(owner=self.owner, judgment_ids=ids, run_status=statuses)

    def _shutdown(self) -> None:
        # Leaving early (an error, a worker shutting down): hand leased judgments back at once
        # rather than let their leases run out.
        try:
            ids = self._cancel(list(self.tasks)) if self.tasks else []
            ids += [c.judgment_id for queue in self.queued.values() for c in queue]
            self.queued.clear()
            if ids:
                release(owner=self.owner, judgment_ids=ids, run_status={})
            if self.outcomes:
                self._store()
            for client in self.clients.values():
                self.loop.run_until_complete(client.close())
            pump_stopped(owner=self.owner)
        finally:
            asyncio.set_event_loop(None)
            self.loop.close()


def pump_run(*, owner: str, max_seconds: float | None = None) -> PumpStats:
    """Run one pump to the end (no work left, or its time is up) in this thread."""
    return Pump(owner=owner, max_seconds=max_seconds).run()
