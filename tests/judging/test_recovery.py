"""Runs survive what production throws at them, through real Celery worker processes.

Each test starts its own ``celery worker`` processes (prefork, with beat running the reconciler)
on the test database and a real Redis, consuming a queue of their own, and starts the run the way
an operator does (``manage.py run_judge``). The test process only holds the fake judge server and
watches the database:

- the workers are killed with SIGKILL (their whole process group) in the middle of a run and new
  ones started: every judgment still ends ``done``, exactly once;
- the Redis server is killed and started again in the middle of a run (nothing persisted, so every
  queued message is lost): the run still completes; Redis away for seconds while pumps hand over
  must not stall the run either (expected to fail until ``pumps_ensure`` forgets unsent pumps);
- a judge failing 30% of its calls: the retries finish every judgment.

PostgreSQL and Redis only: worker processes cannot share the embedded SQLite test setup.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from judgeapp.datasets.models import Comparison
from judgeapp.judging import verdicts
from judgeapp.judging.models import JudgeRun, JudgingPump, Judgment
from tests.factories import DatasetFactory
from tests.genrm_server import expected_verdict

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): the worker processes share the test database",
    ),
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="needs Redis (REDIS_URL) as the workers' Celery broker"
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.02

# What the worker processes get on top of this process's environment: leases that run out in
# seconds, a reconciler every second, quick retries, two pumps.
WORKER_ENV = {
    "JUDGING_LEASE_SECONDS": "3",
    "JUDGING_RECONCILE_SECONDS": "1",
    "JUDGING_RETRY_BASE_SECONDS": "0.05",
    "JUDGING_RETRY_MAX_SECONDS": "0.5",
    "JUDGING_PUMPS": "2",
    "LOG_LEVEL": "INFO",
}


def wait_for(predicate: Callable[[], object], timeout: float, what: str, describe=None):
    """Poll ``predicate`` until it returns something true (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(POLL_SECONDS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started with ``start_new_session`` and everything it forked."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_...`` database)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"--- {path.name}: missing"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text)


class RedisServer:
    """A private ``redis-server`` on a free port, persisting nothing, that a test may kill."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        """One PING, at once (a client library would retry with backoff for seconds)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.starts += 1
        log = self.directory / f"redis-{self.starts}.log"
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.ping, 10, f"redis-server on port {self.port}", lambda: tail(log))

    def kill(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None


@dataclass
class Worker:
    proc: subprocess.Popen
    beat: bool


class Cluster:
    """Celery workers (one of them running beat) of one test, each in its own process group,
    consuming a queue no other test uses."""

    def __init__(self, directory: Path, broker_url: str, env: dict[str, str]):
        self.directory = directory
        self.broker_url = broker_url
        self.token = uuid.uuid4().hex[:12]
        self.queue = f"judgeapp-recovery-{self.token}"
        self.env = {
            **os.environ,
            **WORKER_ENV,
            **env,
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "PYTHONUNBUFFERED": "1",
        }
        self.workers: list[Worker] = []
        self.logs: list[Path] = []
        self.restarts = 0

    def start_worker(self, *, beat: bool) -> None:
        """A worker of two prefork processes, with beat (the reconciler's clock) if asked."""
        name = f"w{len(self.logs) + 1}"
        log = self.directory / f"worker-{name}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "judgeapp", "worker", "-Q", self.queue,
            "-n", f"{name}-{self.token}@%h",
            *"--pool prefork --concurrency 2 --loglevel INFO".split(),
            *"--without-gossip --without-mingle --without-heartbeat".split(),
        ]  # fmt: skip
        if beat:
            command += ["-B", "--schedule", str(self.directory / f"beat-{name}")]
        with log.open("w") as out:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(Worker(proc, beat))
        self.logs.append(log)

    def start_workers(self, count: int = 2) -> None:
        for index in range(count):
            self.start_worker(beat=index == 0)

    def kill_workers(self) -> None:
        for worker in self.workers:
            kill_group(worker.proc)
        self.workers = []

    def supervise(self) -> None:
        """Start again any worker that exited, as a process supervisor does (docker compose's
        ``restart: unless-stopped``)."""
        for worker in list(self.workers):
            if worker.proc.poll() is not None:
                kill_group(worker.proc)  # its pool processes, if any are left
                self.workers.remove(worker)
                self.start_worker(beat=worker.beat)
                self.restarts += 1

    def exited(self) -> list[int]:
        return [w.proc.returncode for w in self.workers if w.proc.poll() is not None]

    def start_run(self, *, team, dataset, judge) -> int:
        """Start a run as an operator does; the command queues the pumps and returns."""
        command = [sys.executable, "manage.py", "run_judge", "--team", team.name]
        command += ["--dataset", dataset.name, "--judge", judge.name]
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        match = re.search(r"^Run (\d+):", done.stdout, re.M)
        assert match, done.stdout
        return int(match.group(1))

    def describe(self) -> str:
        return "\n".join(tail(log) for log in self.logs[-4:])

    def close(self) -> None:
        self.kill_workers()
        if self.broker_url == settings.REDIS_URL:
            self._forget_broker_state()

    def _forget_broker_state(self) -> None:
        """Remove what the killed workers left in the shared Redis: this queue, the messages
        they held unacknowledged (Redis would hand them back in two hours), their bindings."""
        client = redis.Redis.from_url(self.broker_url)
        token = self.token.encode()
        try:
            for key in client.scan_iter(match=f"*{self.token}*"):
                client.delete(key)
            for key in client.scan_iter(match="_kombu.binding.*"):
                for member in client.smembers(key):
                    if token in member:
                        client.srem(key, member)
            for tag, raw in client.hscan_iter("unacked"):
                if token in raw:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
        except redis.exceptions.RedisError:
            pass
        finally:
            client.close()


@pytest.fixture
def clusters(transactional_db, genrm, tmp_path):
    """Make clusters; each is killed at the end, before the judge server and the database go."""
    made: list[Cluster] = []

    def make(broker_url: str | None = None, **env: str) -> Cluster:
        cluster = Cluster(tmp_path, broker_url or settings.REDIS_URL, env)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.close()


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server program to restart a Redis of its own")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def make_dataset(team, n: int):
    dataset = DatasetFactory(team=team, name=f"recovery-{uuid.uuid4().hex[:8]}")
    Comparison.objects.bulk_create(
        Comparison(
            dataset=dataset,
            external_id=f"item-{i}",
            conversation=[{"role": "user", "content": f"Question {i}?"}],
            response_1=f"Answer A{i}",
            response_2=f"Answer B{i} is longer",
        )
        for i in range(n)
    )
    return dataset


def progress(run_id: int) -> Counter:
    """How many of the run's judgments are in each status."""
    rows = Judgment.objects.filter(run_id=run_id).values_list("status").annotate(n=Count("id"))
    return Counter(dict(rows))


def describer(run_id: int, cluster: Cluster, server) -> Callable[[], str]:
    def describe() -> str:
        run = JudgeRun.objects.filter(pk=run_id).values("status", "error").first()
        return (
            f"run: {run}\njudgments: {dict(progress(run_id))}\nserver: {server.stats()}\n"
            f"pumps: {list(JudgingPump.objects.values_list('owner', 'started_at', 'beat_at'))}\n"
            f"{cluster.describe()}"
        )

    return describe


def wait_until_run_ends(run_id: int, timeout: float, describe) -> None:
    wait_for(
        lambda: JudgeRun.objects.filter(pk=run_id).exclude(status__in=JudgeRun.ACTIVE).exists(),
        timeout,
        f"run {run_id} to end",
        describe,
    )


def wait_mid_run(run_id: int, server, total: int, describe, queued: int | None = None) -> Counter:
    """Wait until some judgments are stored, many still wait, and requests are open."""
    queued = total // 5 if queued is None else queued

    def mid_run():
        counts = progress(run_id)
        done, waiting = counts[Judgment.Status.DONE], counts[Judgment.Status.QUEUED]
        if done >= total // 10 and waiting >= queued and server.stats()["open_now"] >= 4:
            return counts
        return None

    return wait_for(mid_run, 60, "the run to be under way", describe)


def response_1_of(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "response_1")


def assert_every_judgment_done_once(run_id: int, server, total: int) -> Counter:
    """The run is done with one stored verdict per judgment, the one the judge gives for that
    item; returns how many verdicts the judge sent per item (response_1 text)."""
    run = JudgeRun.objects.get(pk=run_id)
    assert run.status == JudgeRun.Status.DONE, (run.status, run.error)
    assert run.finished_at is not None
    rows = list(Judgment.objects.filter(run_id=run_id).select_related("comparison"))
    assert len(rows) == total
    keys = Counter((j.comparison_id, j.swapped, j.sample) for j in rows)
    assert len(keys) == total and set(keys.values()) == {1}
    assert Counter(j.status for j in rows) == {Judgment.Status.DONE: total}
    for j in rows:
        s1, s2, ranking = expected_verdict(j.comparison.response_1, j.comparison.response_2)
        assert (j.score_1, j.score_2, j.ranking) == (s1, s2, ranking), j.pk
        assert j.preference == verdicts.preference_from_ranking(ranking)
        assert j.parse_status in (Judgment.ParseStatus.OK, Judgment.ParseStatus.INCONSISTENT)
        assert (j.lease_owner, j.lease_expires_at) == ("", None)
        assert j.finished_at is not None and j.raw_output
    # Every stored verdict was really answered by the judge.
    answered = Counter(response_1_of(r) for r in list(server.requests) if r.get("outcome") == "ok")
    assert set(answered) == {j.comparison.response_1 for j in rows}
    return answered


def test_killed_workers_lose_no_judgment_and_store_none_twice(team, make_judge, genrm, clusters):
    total = 500
    genrm.configure(service_time=0.1)
    judge = make_judge(max_in_flight=16)
    dataset = make_dataset(team, total)
    cluster = clusters()
    cluster.start_workers()
    started = time.monotonic()
    run_id = cluster.start_run(team=team, dataset=dataset, judge=judge)
    describe = describer(run_id, cluster, genrm)

    before = wait_mid_run(run_id, genrm, total, describe)
    cluster.kill_workers()
    killed_at = time.monotonic()
    # Nothing writes any more: what the dead pumps held stays leased until the leases run out.
    orphaned = set(
        Judgment.objects.filter(run_id=run_id, status=Judgment.Status.RUNNING).values_list(
            "id", flat=True
        )
    )
    after = progress(run_id)
    assert after[Judgment.Status.DONE] >= before[Judgment.Status.DONE]
    assert 0 < after[Judgment.Status.DONE] < total and orphaned, after

    cluster.start_workers()
    wait_until_run_ends(run_id, 120, describe)
    recovered = time.monotonic() - killed_at
    assert not cluster.exited(), cluster.describe()

    answered = assert_every_judgment_done_once(run_id, genrm, total)
    # The judge answered the requests open when the workers died, and answered those judgments
    # again after they were handed back; each one was still stored once.
    twice = {text for text, n in answered.items() if n > 1}
    assert twice, answered.most_common(3)
    assert sum(answered.values()) > total
    assert Judgment.objects.filter(run_id=run_id).count() == total
    sent_again = Judgment.objects.filter(pk__in=orphaned, attempts__gte=2)
    assert sent_again.count() == len(orphaned)
    # Every pump ends once the work is done, the dead ones' records included.
    wait_for(lambda: not JudgingPump.objects.exists(), 30, "the pumps to stop", describe)
    print(
        f"\nkill -9 at {after[Judgment.Status.DONE]}/{total} done with {len(orphaned)} leased; "
        f"run done {recovered:.1f}s later ({time.monotonic() - started:.1f}s in all); "
        f"{sum(answered.values())} verdicts sent, {len(twice)} items judged twice"
    )


def restart_redis_mid_run(server: RedisServer, run_id: int, total: int, describe):
    """Kill the Redis server (SIGKILL: every queued message is lost) and start it again."""
    server.kill()
    assert not server.ping()
    server.start()
    at_restart = progress(run_id)
    assert 0 < at_restart[Judgment.Status.DONE] < total, (at_restart, describe())
    return at_restart


def test_redis_restart_mid_run_loses_no_judgment(team, make_judge, genrm, clusters, private_redis):
    total = 500
    genrm.configure(service_time=0.2)
    judge = make_judge(max_in_flight=16)
    dataset = make_dataset(team, total)
    # Pumps hand over every two seconds, so the run needs the broker again after the restart.
    cluster = clusters(private_redis.url, JUDGING_PUMP_MAX_SECONDS="2")
    cluster.start_workers()
    started = time.monotonic()
    run_id = cluster.start_run(team=team, dataset=dataset, judge=judge)
    describe = describer(run_id, cluster, genrm)

    wait_mid_run(run_id, genrm, total, describe, queued=total // 2)
    restarted_at = timezone.now()
    at_restart = restart_redis_mid_run(private_redis, run_id, total, describe)

    # No supervisor: the workers themselves ride out the restart. (A Celery 5.7.0 worker holding
    # an unacknowledged message can exit when the broker connection drops; pumps are acknowledged
    # on receipt for that reason, see judgeapp/judging/tasks.py.)
    pumps_after: set[str] = set()

    def run_ended():
        pumps_after.update(
            JudgingPump.objects.filter(started_at__gt=restarted_at).values_list("owner", flat=True)
        )
        return JudgeRun.objects.filter(pk=run_id).exclude(status__in=JudgeRun.ACTIVE).exists()

    wait_for(run_ended, 120, f"run {run_id} to end", describe)
    assert_every_judgment_done_once(run_id, genrm, total)
    # Pumps started after the restart: their start messages went through the new Redis.
    assert pumps_after
    assert not cluster.exited() and cluster.restarts == 0, cluster.describe()
    print(
        f"\nRedis restarted at {at_restart[Judgment.Status.DONE]}/{total} done; "
        f"{cluster.restarts} workers restarted, {len(pumps_after)} pumps started since; "
        f"run done in {time.monotonic() - started:.1f}s"
    )


def test_redis_down_while_pumps_hand_over_does_not_stall_the_run(
    team, make_judge, genrm, clusters, private_redis
):
    total = 500
    genrm.configure(service_time=0.2)
    judge = make_judge(max_in_flight=16)
    dataset = make_dataset(team, total)
    cluster = clusters(private_redis.url, JUDGING_PUMP_MAX_SECONDS="2")
    cluster.start_workers()
    run_id = cluster.start_run(team=team, dataset=dataset, judge=judge)
    describe = describer(run_id, cluster, genrm)

    wait_mid_run(run_id, genrm, total, describe, queued=total // 2)
    # Redis stays away for longer than a pump's turn (2 s): every pump hands over meanwhile, and
    # its successor's start message cannot be sent.
    private_redis.kill()
    time.sleep(4)  # the outage itself, not a wait for something to happen
    private_redis.start()

    def ended_or_stalled():
        cluster.supervise()
        if JudgeRun.objects.filter(pk=run_id).exclude(status__in=JudgeRun.ACTIVE).exists():
            return "ended"
        # Workers have free processes: a pump queued this long ago was never sent.
        unsent = JudgingPump.objects.filter(
            started_at__isnull=True, enqueued_at__lt=timezone.now() - timedelta(seconds=15)
        )
        return "stalled" if unsent.exists() else None

    outcome = wait_for(ended_or_stalled, 120, f"run {run_id} to end", describe)
    assert outcome == "ended", describe()
    assert_every_judgment_done_once(run_id, genrm, total)


def test_judge_failing_a_third_of_its_calls_still_finishes_every_judgment(
    team, make_judge, genrm, clusters
):
    total = 300
    genrm.configure(service_time=0.05, fail_rate=0.3)
    judge = make_judge(max_in_flight=16)
    dataset = make_dataset(team, total)
    # 20 attempts: 0.3 ** 20 makes giving up on any of 300 judgments practically impossible.
    cluster = clusters(JUDGING_MAX_ATTEMPTS="20")
    cluster.start_workers()
    started = time.monotonic()
    run_id = cluster.start_run(team=team, dataset=dataset, judge=judge)
    describe = describer(run_id, cluster, genrm)

    wait_until_run_ends(run_id, 120, describe)
    assert not cluster.exited(), cluster.describe()
    answered = assert_every_judgment_done_once(run_id, genrm, total)
    failures = genrm.stats()["served"].get("fail_rate", 0)
    assert failures > 0.2 * total
    assert Judgment.objects.filter(run_id=run_id, attempts__gt=1).count() > 0.2 * total
    # A failed call is retried; a verdict, once stored, is never asked for again.
    assert set(answered.values()) == {1}
    wait_for(lambda: not JudgingPump.objects.exists(), 30, "the pumps to stop", describe)
    print(
        f"\n{failures} injected 500s over {total} judgments; run done in "
        f"{time.monotonic() - started:.1f}s"
    )
