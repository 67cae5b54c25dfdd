#!/usr/bin/env python
"""Annotation queue benchmark: latency and throughput of the annotator's API (next item, submit)
under concurrent annotators, against gunicorn and PostgreSQL in production mode.

Set-up (not timed): a database of its own, N items of ~2 KB (bench/import_bench.py's generator,
imported with `manage.py import_dataset`), a team with an admin and C annotators, each with an API
token, and one campaign over all the items (overlap 3, least-labelled first). Then gunicorn serves
judgeapp.wsgi:application on a free 127.0.0.1 port (DEBUG=0, persistent database connections).

C client threads, each an annotator with its own token and its own keep-alive HTTP connection
(http.client), loop:

    POST /api/assignments/next/?campaign=ID      -> 200, the item locked to them
    POST /api/assignments/ID/submit/             -> 201 (answer random on -3..3, seconds_spent)

pausing --think-ms on average after each response (0: back to back, the hardest case; the pauses
are exponentially distributed, so arrivals come in bursts as people's do). Each request's latency is
taken with time.perf_counter from sending it to having read the whole response. Requests started
in the first --warmup seconds are not counted; the next --duration seconds are. It reports p50,
p99 and max for next, for submit and overall, requests and labels per second, the errors, and
where the CPU went over the measured window: the client process (to show it was not the
bottleneck), gunicorn's process tree, the database's server processes, and the whole machine.

With no think time the clients form a closed loop: each sends its next request as soon as the
last one answers, so by Little's law the mean latency is about clients / throughput, and p99
measures how much work per request the machine (server, PostgreSQL and clients sharing its
cores) can get through, not an idle server's response time. --think-ms models annotators who
read the item first (a real one spends seconds to minutes on it).

Afterwards it checks the database: no item has more labels than the overlap, nor more slots
taken than it wants; no (item, annotator) pair is labelled twice; every 201 answer matches one
label (the ids returned are the campaign's labels, one each), with one history row and one done
assignment each; the slot counters agree (labels = labels given, taken = labels + live locks).

Gunicorn: by default as bin/web deploys it, --worker-class sync with --workers 2 x cores + 1
(WEB_CONCURRENCY; WEB_THREADS 1). Sync workers close the connection after each response, so each
request pays for a new TCP connection, but goes to whichever worker is free. --worker-class
gthread --threads 4 keeps the clients' connections alive instead. No access log is written. The
app sees the requests as coming through a TLS proxy (SECURE_PROXY_SSL_HEADER=1 and
X-Forwarded-Proto: https), so the production settings (SSL redirect, HSTS) apply as deployed.

    .venv/bin/python bench/annotate_bench.py                         # 100,000 items, 16 clients
    .venv/bin/python bench/annotate_bench.py --items 20000 --duration 10 --warmup 2
    .venv/bin/python bench/annotate_bench.py --think-ms 500          # annotators who pause
    .venv/bin/python bench/annotate_bench.py --worker-class gthread --workers 2 --threads 4

It re-creates the database named in --database-url (dropped at the end unless --keep-db) and
runs VACUUM ANALYZE after the set-up and ANALYZE of the queue's tables at the end of the warm-up
(as autovacuum would within a minute), so the plans do not change during the measurement: with
the statistics of the empty assignments table, PostgreSQL scans all of the campaign's assignments
for each next item. A second run started meanwhile waits for the first (a lock file in the
temp folder). The last line of output is one JSON object with the figures; target_met says
whether next and submit both stayed at p99 <= 50 ms.
"""

import argparse
import contextlib
import fcntl
import http.client
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    create_database,
    drop_database,
    migrate,
    stop_tree,
    tree_cpu_seconds,
    tree_peak_rss_mb,
    tree_pids,
)
from import_bench import generate

TEAM, DATASET, CAMPAIGN = "bench", "annotate-bench", "bench"
TARGET_P99_MS = 50.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# CPU (% of one core) of processes other than the client, gunicorn and the database's
# connections above which the machine counts as busy with something else.
NOISY_OTHER_PCT = 15


# Set-up ----------------------------------------------------------------------------------------


def create_fixtures(args, env: dict, tmp: Path):
    """The team, its admin and annotators with their tokens, the dataset and the campaign."""
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from judgeapp.accounts.models import Membership, Team, User
    from judgeapp.campaigns.services import campaign_create
    from judgeapp.datasets.models import Dataset

    team = Team.objects.create(name=TEAM)
    # No passwords: the API is reached with tokens, and hashing one per user takes seconds.
    admin = User.objects.create_user(username="bench-admin")
    Membership.objects.create(team=team, user=admin, role=Membership.Role.ADMIN)
    annotators, tokens = [], []
    for i in range(1, args.clients + 1):
        user = User.objects.create_user(username=f"bench-annotator-{i:02d}")
        Membership.objects.create(team=team, user=user, role=Membership.Role.ANNOTATOR)
        annotators.append(user)
        tokens.append(Token.objects.create(user=user).key)

    path = tmp / "items.jsonl"
    size = generate(path, items=args.items, size=2048, labels=0, corrupt_line=None)
    started = time.perf_counter()
    command = [
        sys.executable, "manage.py", "import_dataset", str(path), "--team", TEAM,
        "--dataset", DATASET,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"import_dataset failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    print(
        f"imported {args.items} items ({size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - started:.1f} s: {done.stdout.strip()}"
    )
    dataset = Dataset.objects.get(team=team, name=DATASET)
    started = time.perf_counter()
    campaign = campaign_create(
        team=team,
        dataset=dataset,
        name=CAMPAIGN,
        by=admin,
        annotators=annotators,
        overlap=args.overlap,
    )
    seconds = time.perf_counter() - started
    print(f"campaign {campaign.pk} over {campaign.items.count()} items in {seconds:.1f} s")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
    return campaign, tokens


# Gunicorn --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(args, env: dict, port: int, log_path: Path) -> subprocess.Popen:
    keep_alive = max(5, int(3 * args.think_ms / 1000) + 5)  # outlives a client's pause
    command = [
        sys.executable, "-m", "gunicorn", "judgeapp.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
        "--worker-class", args.worker_class, "--threads", str(args.threads),
        "--keep-alive", str(keep_alive), "--timeout", "120", "--log-level", "warning",
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_tree(proc)
            sys.exit(f"gunicorn did not start:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health/?checks=database", headers=PROXY_HEADERS)
            reply = conn.getresponse()
            reply.read()
            conn.close()
            if reply.status == 200:
                break
        time.sleep(0.2)
    # The first worker answered; wait until all are forked (the warm-up covers their start-up).
    while len(tree_pids(proc.pid)) < args.workers + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


# CPU accounting --------------------------------------------------------------------------------


def pid_cpu_seconds(pid: int) -> float | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all cores."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


class CpuMeter:
    """CPU time of the client process, gunicorn's tree, the database's server processes and the
    machine between ``start()`` and ``stop()``."""

    def __init__(self, gunicorn_pid: int, database_url: str):
        import psycopg

        self.gunicorn_pid = gunicorn_pid
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.name = urlparse(database_url).path.lstrip("/")

    def _backends(self) -> dict[int, float]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.name],
        ).fetchall()
        cpu = {pid: pid_cpu_seconds(pid) for (pid,) in rows}
        return {pid: seconds for pid, seconds in cpu.items() if seconds is not None}

    def _sample(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall": time.perf_counter(),
            "client": usage.ru_utime + usage.ru_stime,
            "gunicorn": tree_cpu_seconds(self.gunicorn_pid),
            "backends": self._backends(),
            "machine": machine_ticks(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict:
        after, before = self._sample(), self.before
        wall = after["wall"] - before["wall"]
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        database = sum(
            seconds - before["backends"].get(pid, 0.0) for pid, seconds in after["backends"].items()
        )
        return {
            "wall_s": wall,
            "client_cpu_s": after["client"] - before["client"],
            "gunicorn_cpu_s": after["gunicorn"] - before["gunicorn"],
            "database_cpu_s": database,
            "database_connections": len(after["backends"]),
            "machine_busy": busy / total if total else None,
            # Busy ticks are summed over the cores: CPU seconds of every process and the kernel.
            "machine_cpu_s": busy / CLOCK_TICKS,
            "cores": os.cpu_count(),
        }

    def close(self) -> None:
        self.conn.close()


# Clients ---------------------------------------------------------------------------------------

PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


class Annotator(threading.Thread):
    """One annotator: next, submit, next, ... on its own connection until ``stop`` is set.

    ``records`` holds (kind, started, milliseconds, status) per request; ``label_ids`` the ids of
    the labels its 201 answers returned."""

    def __init__(self, index: int, token: str, port: int, campaign_id: int, args, stop):
        super().__init__(name=f"annotator-{index}", daemon=True)
        self.port, self.stop, self.think = port, stop, args.think_ms / 1000
        self.rng = random.Random(index)
        self.headers = {
            **PROXY_HEADERS,
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self.next_path = f"/api/assignments/next/?campaign={campaign_id}"
        self.records: list[tuple[str, float, float, int]] = []
        self.label_ids: list[int] = []
        self.errors: Counter = Counter()
        self.error_samples: list[str] = []
        self.exhausted = False
        self.conn = None

    def _connect(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def _request(self, kind: str, path: str, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body=body, headers=self.headers)
                reply = self.conn.getresponse()
                data = reply.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                # A kept-alive connection the server had closed: retry once on a new one.
                self._connect()
                if attempt == 2:
                    raise
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.records.append((kind, started, elapsed_ms, reply.status))
            return reply.status, data
        raise AssertionError("unreachable")

    def _error(self, kind: str, what: str, detail: str) -> None:
        self.errors[f"{kind} {what}"] += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(f"{kind} {what}: {detail[:300]}")

    def _pause(self) -> None:
        if self.think:
            self.stop.wait(self.rng.expovariate(1 / self.think))

    def run(self) -> None:
        self._connect()
        while not self.stop.is_set():
            try:
                status, data = self._request("next", self.next_path, b"")
                if status == 204:
                    self.exhausted = True
                    return
                if status != 200:
                    self._error("next", str(status), data.decode(errors="replace"))
                    self.stop.wait(0.05)
                    continue
                assignment = json.loads(data)["id"]
                self._pause()
                body = json.dumps(
                    {
                        "answer": self.rng.randint(-3, 3),
                        "rationale": "",
                        "seconds_spent": round(self.rng.uniform(5, 120), 1),
                    }
                ).encode()
                status, data = self._request(
                    "submit", f"/api/assignments/{assignment}/submit/", body
                )
                if status == 201:
                    self.label_ids.append(json.loads(data)["id"])
                else:
                    self._error("submit", str(status), data.decode(errors="replace"))
                    self.stop.wait(0.05)
                    continue
                self._pause()
            except Exception as exc:  # a failed request is a figure, not a crash
                self._error("request", type(exc).__name__, str(exc))
                self._connect()
                self.stop.wait(0.05)
        self.conn.close()


def run_clients(args, tokens: list[str], port: int, campaign_id: int, meter: CpuMeter) -> dict:
    stop = threading.Event()
    clients = [
        Annotator(i, token, port, campaign_id, args, stop) for i, token in enumerate(tokens, 1)
    ]
    for client in clients:
        client.start()
    time.sleep(args.warmup)
    # The tables the queue writes were analysed empty; autovacuum would analyse them again
    # within its next minute, changing the plans mid-run. Analyse them now, as it would have.
    meter.conn.execute(
        "ANALYZE campaigns_assignment, campaigns_label, campaigns_labelhistory,"
        " campaigns_campaignitem"
    )
    window_start = time.perf_counter()
    window_end = window_start + args.duration
    meter.start()
    while time.perf_counter() < window_end and not all(c.exhausted for c in clients):
        time.sleep(min(0.2, max(0.0, window_end - time.perf_counter())))
    cpu = meter.stop()
    stop.set()
    for client in clients:
        client.join(90)
    return {
        "clients": clients,
        "window": (window_start, min(window_end, window_start + cpu["wall_s"])),
        "cpu": cpu,
    }


# Figures ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), interpolated between the nearest ranks."""
    if not values:
        return None
    values = sorted(values)
    rank = (len(values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def latency(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def integrity(campaign_id: int, label_ids: list[int]) -> dict:
    """What the database holds after the run, against what the clients were told."""
    from django.db.models import Count, F, Q, Sum

    from judgeapp.campaigns.models import Assignment, Campaign, CampaignItem, Label, LabelHistory

    campaign = Campaign.objects.get(pk=campaign_id)
    labels = Label.objects.filter(campaign=campaign, kind=Label.Kind.ANNOTATION)
    per_item = labels.values("comparison").annotate(n=Count("id")).order_by()
    pairs = labels.values("comparison", "annotator").annotate(n=Count("id")).order_by()
    stored = set(labels.values_list("id", flat=True))
    live_locks = Assignment.objects.filter(campaign=campaign, status=Assignment.Status.LOCKED)
    items = CampaignItem.objects.filter(campaign=campaign)
    label_counts = dict(per_item.values_list("comparison", "n"))
    lock_counts = dict(
        live_locks.values("comparison").annotate(n=Count("id")).values_list("comparison", "n")
    )
    counters_off = 0
    for comparison_id, taken, given in items.filter(Q(taken__gt=0) | Q(labels__gt=0)).values_list(
        "comparison_id", "taken", "labels"
    ):
        expected = label_counts.get(comparison_id, 0)
        if given != expected or taken != expected + lock_counts.get(comparison_id, 0):
            counters_off += 1
    report = {
        "labels": len(stored),
        "items_labelled": len(label_counts),
        "max_labels_per_item": max(label_counts.values(), default=0),
        "items_over_overlap": per_item.filter(n__gt=campaign.overlap).count(),
        "pairs_twice": pairs.filter(n__gt=1).count(),
        "submits_201": len(label_ids),
        "submits_201_distinct": len(set(label_ids)),
        "labels_without_201": len(stored - set(label_ids)),
        "201_without_label": len(set(label_ids) - stored),
        "history_rows": LabelHistory.objects.filter(label__campaign=campaign).count(),
        "assignments_done": Assignment.objects.filter(
            campaign=campaign, status=Assignment.Status.DONE
        ).count(),
        "live_locks": live_locks.count(),
        "slot_counters_off": counters_off,
        "taken_sum": items.aggregate(n=Sum("taken"))["n"],
        # Slots taken beyond the labels an item wants (its overlap).
        "items_over_wanted": items.filter(taken__gt=F("wanted")).count(),
    }
    report["ok"] = (
        report["items_over_overlap"] == 0
        and report["pairs_twice"] == 0
        and report["items_over_wanted"] == 0
        and report["submits_201"] == report["submits_201_distinct"] == report["labels"]
        and report["labels_without_201"] == 0
        and report["201_without_label"] == 0
        and report["history_rows"] == report["labels"]
        and report["assignments_done"] == report["labels"]
        and report["slot_counters_off"] == 0
    )
    return report


def ms(value, digits: int = 1):
    return None if value is None else round(value, digits)


# Main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000, help="items in the campaign (100000)")
    parser.add_argument(
        "--clients", type=int, default=16, help="concurrent annotators, one connection each (16)"
    )
    parser.add_argument("--overlap", type=int, default=3, help="labels per item (3)")
    parser.add_argument("--duration", type=float, default=30, help="measured seconds (30)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds not counted first (5)")
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="mean pause after each response, exponentially distributed (0: back to back)",
    )
    # Measured on 2 cores (100,000 items, 16 clients): back to back, both reach 170-190
    # requests/s, with p99 ~250 ms for gthread 2x4 and ~120-150 ms for sync 2; at --think-ms 250,
    # ~60 ms against ~30-35 ms. A gthread worker keeps each kept-alive connection it accepted, so
    # requests queue behind a busy worker while the other is idle; sync workers take each request
    # from the shared listen queue, whichever is free. The default is what bin/web deploys.
    parser.add_argument(
        "--worker-class", choices=["gthread", "sync"], default="sync", help="(sync)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn worker processes (2 x cores + 1)",
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gthread worker (4; not used by sync)"
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        help="DB_CONN_MAX_AGE: seconds a database connection is kept (the app's default, 60)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "ANNOTATE_BENCH_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/judgeapp_annotate_bench",
        ),
        help="PostgreSQL database to re-create (not the other benchmarks', so all can be kept)",
    )
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database at the end")
    args = parser.parse_args()
    if args.worker_class == "sync":
        args.threads = 1
    # Two runs at once would re-create each other's database and share the same cores.
    lock = (Path(tempfile.gettempdir()) / "judgeapp-annotate-bench.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another annotate_bench run to finish", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)

    tmp_dir = tempfile.TemporaryDirectory(prefix="judgeapp-annotate-bench-")
    tmp = Path(tmp_dir.name)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "judgeapp.settings",
        "DATABASE_URL": args.database_url,
        "DEBUG": "0",
        "SECRET_KEY": "annotate-bench-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_PROXY_SSL_HEADER": "1",
        "LOG_LEVEL": "WARNING",
        # The queue needs no cache or broker: the file-based ones, in a folder of its own (the
        # import queues a search-index task there that nothing consumes).
        "JUDGEAPP_VAR_DIR": str(tmp / "var"),
    }
    if args.conn_max_age is not None:
        env["DB_CONN_MAX_AGE"] = str(args.conn_max_age)
    env.pop("REDIS_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env)  # this process sets up the fixtures and checks the results
    sys.path.insert(0, str(ROOT))

    create_database(args.database_url)
    migrate(env)

    import django

    django.setup()
    from django.db import connections

    gunicorn = meter = None
    try:
        started = time.perf_counter()
        campaign, tokens = create_fixtures(args, env, tmp)
        print(f"set-up in {time.perf_counter() - started:.1f} s (not timed)")
        connections.close_all()
        port = free_port()
        log_path = tmp / "gunicorn.log"
        gunicorn = start_gunicorn(args, env, port, log_path)
        print(
            f"gunicorn on 127.0.0.1:{port}: {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + f"; {args.clients} clients, think {args.think_ms:g} ms, "
            f"warm-up {args.warmup:g} s, measured {args.duration:g} s"
        )
        meter = CpuMeter(gunicorn.pid, args.database_url)
        run = run_clients(args, tokens, port, campaign.pk, meter)
        web_peak_rss_mb = tree_peak_rss_mb(gunicorn.pid)
        stop_tree(gunicorn)
        log = log_path.read_text()
        if "Traceback" in log or "ERROR" in log:
            print("gunicorn log (tail):\n" + log[-3000:])
        clients = run["clients"]
        label_ids = [i for c in clients for i in c.label_ids]
        check = integrity(campaign.pk, label_ids)
    finally:
        if meter is not None:
            meter.close()
        with contextlib.suppress(Exception):
            stop_tree(gunicorn)
        connections.close_all()
        if not args.keep_db:
            drop_database(args.database_url)
        tmp_dir.cleanup()

    window_start, window_end = run["window"]
    seconds = window_end - window_start
    measured = [r for c in clients for r in c.records if window_start <= r[1] < window_end]
    by_kind = {
        kind: latency([r[2] for r in measured if r[0] == kind]) for kind in ("next", "submit")
    }
    overall = latency([r[2] for r in measured])
    labels_measured = sum(1 for r in measured if r[0] == "submit" and r[3] == 201)
    errors = Counter()
    for client in clients:
        errors.update(client.errors)
    samples = [s for c in clients for s in c.error_samples][:5]
    cpu = run["cpu"]
    requests_per_s = len(measured) / seconds
    # What the machine spent beyond the three: PostgreSQL's own background processes (WAL
    # writer, autovacuum), the kernel's work not charged to a process, anything else running.
    cpu["other_cpu_s"] = cpu["machine_cpu_s"] - sum(
        cpu[f"{name}_cpu_s"] for name in ("client", "gunicorn", "database")
    )
    cpu_ms = {
        name: 1000 * cpu[f"{name}_cpu_s"] / len(measured) if measured else None
        for name in ("client", "gunicorn", "database", "other")
    }

    print(
        f"{len(measured)} requests in {seconds:.1f} s: {requests_per_s:.0f} requests/s, "
        f"{labels_measured / seconds:.0f} labels/s"
    )
    for name, figures in (("next", by_kind["next"]), ("submit", by_kind["submit"])):
        print(
            f"  {name:<7}n={figures['n']:<6} p50 {ms(figures['p50'])} ms  p90 {ms(figures['p90'])}"
            f" ms  p99 {ms(figures['p99'])} ms  max {ms(figures['max'])} ms"
        )
    print(
        f"  overall p50 {ms(overall['p50'])} ms  p99 {ms(overall['p99'])} ms "
        f"(target p99 <= {TARGET_P99_MS:g} ms for next and submit)"
    )
    print(
        f"CPU per request: client {cpu_ms['client']:.2f} ms, gunicorn {cpu_ms['gunicorn']:.2f} ms,"
        f" PostgreSQL {cpu_ms['database']:.2f} ms ({cpu['database_connections']} connections),"
        f" other {cpu_ms['other']:.2f} ms; "
        f"client process {100 * cpu['client_cpu_s'] / seconds:.0f}% of a core; machine "
        f"{100 * cpu['machine_busy']:.0f}% busy of {cpu['cores']} cores"
    )
    other_pct = 100 * cpu["other_cpu_s"] / seconds
    if other_pct > NOISY_OTHER_PCT:
        print(
            f"note: {other_pct:.0f}% of a core went to other processes during the measurement "
            "(another program was running?): the figures understate what the app can do"
        )
    print(f"errors: {dict(errors) or 'none'}" + (f"; first: {samples}" if samples else ""))
    print(f"integrity: {'ok' if check['ok'] else 'FAILED'} {check}")

    p99_next, p99_submit = by_kind["next"]["p99"], by_kind["submit"]["p99"]
    result = {
        # The keys every benchmark prints: labels submitted per second, and the largest peak RSS
        # of gunicorn's processes.
        "items_per_s": round(labels_measured / seconds, 1),
        "peak_rss_mb": round(web_peak_rss_mb, 1),
        "p50_ms": ms(overall["p50"], 2),
        "p99_ms": ms(overall["p99"], 2),
        "requests_per_s": round(requests_per_s, 1),
        "next_p50_ms": ms(by_kind["next"]["p50"], 2),
        "next_p99_ms": ms(p99_next, 2),
        "submit_p50_ms": ms(by_kind["submit"]["p50"], 2),
        "submit_p99_ms": ms(p99_submit, 2),
        "max_ms": ms(overall["max"], 2),
        "target_met": (
            p99_next is not None
            and p99_submit is not None
            and max(p99_next, p99_submit) <= TARGET_P99_MS
        ),
        "labels_per_s": round(labels_measured / seconds, 1),
        "requests": len(measured),
        "labels": check["labels"],
        "labels_measured": labels_measured,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "exhausted": any(c.exhausted for c in clients),
        "integrity_ok": check["ok"],
        "items_over_overlap": check["items_over_overlap"],
        "pairs_twice": check["pairs_twice"],
        "items": args.items,
        "clients": args.clients,
        "overlap": args.overlap,
        "think_ms": args.think_ms,
        "duration_s": round(seconds, 2),
        "warmup_s": args.warmup,
        "worker_class": args.worker_class,
        "workers": args.workers,
        "threads": args.threads,
        "client_cpu_pct": round(100 * cpu["client_cpu_s"] / seconds, 1),
        "client_cpu_ms_per_request": ms(cpu_ms["client"], 3),
        "gunicorn_cpu_ms_per_request": ms(cpu_ms["gunicorn"], 3),
        "database_cpu_ms_per_request": ms(cpu_ms["database"], 3),
        "other_cpu_ms_per_request": ms(cpu_ms["other"], 3),
        "other_cpu_pct": ms(other_pct),
        "machine_busy_pct": ms(100 * cpu["machine_busy"]),
        "cores": cpu["cores"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
