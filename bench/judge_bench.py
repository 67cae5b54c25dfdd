#!/usr/bin/env python
"""Judging benchmark: how close the app's judging path comes to the judge server's own pace.

It starts the fake GenRM server (tests/genrm_server.py) with a service time and a capacity and
real Celery workers, then, for each repetition:

- raw: the bare AsyncOpenAI client (max_retries=0) sends the N requests the app would send (the
  same messages and sampling, built by judgeapp.judging.client), at most --max-in-flight at once;
- app: `manage.py run_judge` queues a run of N judgments and the workers' pumps send them; the
  clock runs from the run's creation (in the command, before its N judgment rows are inserted and
  its pump is queued through Redis) to the run marked done, by the run's own timestamps. The
  command's Python start-up before that (about a second) is reported apart, as the raw client's
  start-up is not timed either. The workers were started, and answered a ping, beforehand.

ratio = app_per_s / raw_per_s. It also checks that the server never had more than --max-in-flight
requests open, that each judgment ended done exactly once (one request each, none failed), and
measures the workers' CPU time per judgment (their whole process tree, read from /proc).

    .venv/bin/python bench/judge_bench.py                 # 2,000 judgments, 0.5 s, capacity 64
    .venv/bin/python bench/judge_bench.py --judgments 500 --service-time 0.2 --repeat 3
    .venv/bin/python bench/judge_bench.py --workers 2 --pumps 2

It re-creates the database named in --database-url and flushes the Redis database of --redis-url
(a database number of its own, so the queues of tests or a dev server are never touched); the
database is dropped at the end unless --keep-db. A second run started meanwhile waits for the
first (a lock file in the temp folder). The workers run in production mode (DEBUG=0).
The last line of output is one JSON object with the figures (medians over --repeat).
"""

import argparse
import asyncio
import fcntl
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    create_database,
    drop_database,
    make_text,
    migrate,
    process_cpu_seconds,
    stop_tree,
    tree_cpu_seconds,
    tree_peak_rss_mb,
    tree_pids,
)

TEAM, DATASET, JUDGE = "bench", "judge-bench", "bench-genrm"
MODEL = "nvidia/Qwen3-Nemotron-235B-A22B-GenRM"


# The fake server -------------------------------------------------------------------------------


def start_server(args) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable, "tests/genrm_server.py", "--port", "0",
        "--service-time", str(args.service_time), "--capacity", str(args.capacity),
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        stop_tree(proc)
        sys.exit(f"the fake GenRM server did not start (it printed {base_url!r})")
    return proc, base_url


def server_call(base_url: str, path: str, post: bool = False) -> dict:
    url = base_url.removesuffix("/v1") + path
    request = urllib.request.Request(  # noqa: S310 - our own local server
        url, data=b"{}" if post else None, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        return json.loads(reply.read())


# Setup -----------------------------------------------------------------------------------------


def prepare_database(url: str, env: dict) -> None:
    create_database(url)
    migrate(env)


def create_fixtures(args, base_url: str):
    """The team, a dataset of N items (~2 KB of text each) and a GenRM judge on the server."""
    from judgeapp.accounts.services import team_setup
    from judgeapp.datasets.models import Comparison, Dataset
    from judgeapp.judging.services import judge_create

    team, user, _ = team_setup(name=TEAM, admin_username="bench", password="bench-password-1")  # noqa: S106
    dataset = Dataset.objects.create(
        team=team, name=DATASET, created_by=user, metadata_keys=["domain"]
    )
    rng = random.Random(7)
    comparisons = []
    for i in range(1, args.judgments + 1):
        conversation = [{"role": "user", "content": make_text(rng, rng.randint(300, 700))}]
        if i % 3 == 0:  # some multi-turn histories
            conversation = [
                {"role": "user", "content": make_text(rng, 200)},
                {"role": "assistant", "content": make_text(rng, 300)},
                *conversation,
            ]
        comparisons.append(
            Comparison(
                dataset=dataset,
                external_id=f"bench-{i}",
                conversation=conversation,
                response_1=make_text(rng, rng.randint(500, 1000)),
                response_2=make_text(rng, rng.randint(500, 1000)),
                metadata={"domain": rng.choice(["code", "general", "stem"])},
            )
        )
    Comparison.objects.bulk_create(comparisons, batch_size=1000)
    judge = judge_create(
        team=team,
        by=user,
        name=JUDGE,
        protocol="genrm",
        base_url=base_url,
        model=MODEL,
        max_in_flight=args.max_in_flight,
        timeout_seconds=60,
    )
    return dataset, judge


# Raw phase -------------------------------------------------------------------------------------


async def raw_send(spec, items, max_in_flight: int) -> float:
    from openai import AsyncOpenAI

    from judgeapp.judging.client import build_messages, request_kwargs

    client = AsyncOpenAI(
        base_url=spec.base_url, api_key=spec.api_key or "none", timeout=spec.timeout, max_retries=0
    )
    gate = asyncio.Semaphore(max_in_flight)

    async def one(item) -> str:
        async with gate:
            reply = await client.chat.completions.create(
                **request_kwargs(spec, build_messages(spec, item))
            )
            return reply.choices[0].message.content

    started = time.perf_counter()
    results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
    seconds = time.perf_counter() - started
    await client.close()
    errors = [r for r in results if isinstance(r, BaseException) or not r]
    if errors:
        sys.exit(f"raw phase: {len(errors)} requests failed, the first: {errors[0]!r}")
    return seconds


def raw_phase(args, judge, dataset, base_url: str) -> dict:
    from judgeapp.datasets.models import Comparison
    from judgeapp.judging import client as judge_client
    from judgeapp.judging.pump import judge_spec

    spec = judge_spec(judge)
    items = [
        judge_client.Item(c.conversation, c.response_1, c.response_2, list(c.principles))
        for c in Comparison.objects.filter(dataset=dataset).order_by("id")
    ]
    server_call(base_url, "/_reset", post=True)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    seconds = asyncio.run(raw_send(spec, items, args.max_in_flight))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    stats = server_call(base_url, "/_stats")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "seconds": seconds,
        "per_s": len(items) / seconds,
        "max_open": stats["max_open"],
        "requests": stats["total"],
        "cpu_ms_per_request": 1000 * cpu / len(items),
    }


# App phase -------------------------------------------------------------------------------------


def start_worker(args, env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    """One `celery worker` with --workers prefork processes, as bin/worker deploys it, on the
    queue tasks are sent to."""
    from judgeapp.celery import app

    name = f"judge-bench-{os.getpid()}@{socket.gethostname()}"
    command = [
        sys.executable, "-m", "celery", "-A", "judgeapp", "worker", "--pool", "prefork",
        "--concurrency", str(args.workers), "-Q", app.conf.task_default_queue, "-n", name,
        "--loglevel", "WARNING",
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while not app.control.ping(destination=[name], timeout=0.5, limit=1):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_tree(proc)
            sys.exit(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
    # The pool's processes are forked before the worker answers; make sure they are all there.
    while len(tree_pids(proc.pid)) < args.workers + 1:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return proc, name


def app_phase(args, env: dict, worker: subprocess.Popen, base_url: str, tmp: Path) -> dict:
    from django.db.models import Count, Sum

    from judgeapp.judging.models import JudgeRun, JudgingPump, Judgment

    last_run = JudgeRun.objects.order_by("-id").values_list("id", flat=True).first() or 0
    server_call(base_url, "/_reset", post=True)
    command = [
        sys.executable, "manage.py", "run_judge", "--team", TEAM, "--dataset", DATASET,
        "--judge", JUDGE,
    ]  # fmt: skip
    out_path = tmp / "run_judge.out"
    timeout = 120 + 20 * args.judgments * args.service_time / args.max_in_flight
    cpu_before = tree_cpu_seconds(worker.pid)
    with out_path.open("w") as out:
        wall_start = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        command_seconds = None
        while True:
            row = JudgeRun.objects.filter(id__gt=last_run).values("id", "status").first()
            if row is not None and row["status"] not in JudgeRun.ACTIVE:
                break
            now = time.perf_counter()
            if command_seconds is None and child.poll() is not None:
                command_seconds = now - started
                if child.returncode != 0:
                    sys.exit(f"run_judge failed:\n{out_path.read_text()[-3000:]}")
            if worker.poll() is not None:
                sys.exit("the Celery worker died during the run")
            if now - started > timeout:
                sys.exit(f"the run did not end within {timeout:.0f} s")
            time.sleep(0.1)  # polling a row the workers write
        seconds = time.perf_counter() - started
        cpu = tree_cpu_seconds(worker.pid) - cpu_before
        stats = server_call(base_url, "/_stats")
        child.wait(30)
        if command_seconds is None:
            command_seconds = time.perf_counter() - started
    run = JudgeRun.objects.get(pk=row["id"])
    judgments = Judgment.objects.filter(run=run)
    counts = dict(judgments.values_list("status").annotate(n=Count("id")).order_by())
    latency_ms = judgments.aggregate(total=Sum("latency_ms"))["total"] or 0
    retried = judgments.filter(attempts__gt=1).count()
    # Let the pump see the queue empty and stop, so the next phase runs on a quiet machine.
    deadline = time.monotonic() + 30
    while JudgingPump.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    def since_start(moment) -> float | None:
        return None if moment is None else moment.timestamp() - wall_start

    created = since_start(run.created_at)
    first_claim = since_start(run.started_at)
    finished = since_start(run.finished_at)
    judging = (finished - first_claim) if first_claim is not None else None
    app_seconds = (run.finished_at - run.created_at).total_seconds()
    done = counts.get(Judgment.Status.DONE, 0)
    return {
        "run": run.pk,
        "status": run.status,
        # From the run's creation (inside the command, before its judgments are inserted and its
        # pump is queued) to the run marked done, by the run's own timestamps. The command's
        # Python start-up before that is reported apart (command_seconds, run_created_s), as the
        # raw client's own start-up is not timed either.
        "seconds": app_seconds,
        "per_s": args.judgments / app_seconds,
        "wall_seconds": seconds,
        "max_open": stats["max_open"],
        "requests": stats["total"],
        "counts": counts,
        "done_once": (
            done == args.judgments
            and sum(counts.values()) == args.judgments
            and stats["total"] == args.judgments
            and retried == 0
        ),
        "cpu_ms_per_judgment": 1000 * cpu / args.judgments,
        "command_seconds": command_seconds,
        # Where the time went, from the run's own timestamps (seconds after the clock started):
        # the command created the run, the first claim, the run marked done.
        "run_created_s": created,
        "first_claim_s": first_claim,
        "run_finished_s": finished,
        # Open requests over the claim-to-done span, as a share of max_in_flight.
        "slot_use": (latency_ms / 1000) / (args.max_in_flight * judging) if judging else None,
    }


# Main ------------------------------------------------------------------------------------------


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--judgments", type=int, default=2000, help="judgments per run (2000)")
    parser.add_argument(
        "--service-time", type=float, default=0.5, help="server seconds per request (0.5)"
    )
    parser.add_argument("--capacity", type=int, default=64, help="server capacity (64)")
    parser.add_argument(
        "--max-in-flight", type=int, default=64, help="the judge's max_in_flight (64)"
    )
    # Measured on 2 cores (2,000 judgments, 0.5 s, 64): --workers 1/2 and --pumps 1/2 are within
    # the run-to-run noise of each other; one pump holds one worker process for the whole run and
    # the other process stays free for other tasks (imports, reports), as a deployment has it.
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="Celery worker processes: one worker with this --concurrency, as bin/worker (2)",
    )
    parser.add_argument("--pumps", type=int, default=1, help="JUDGING_PUMPS (1)")
    parser.add_argument("--repeat", type=int, default=1, help="raw+app rounds; medians (1)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "JUDGE_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/judgeapp_judge_bench"
        ),
        help="PostgreSQL database to re-create (not import_bench's, so both can be kept)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("JUDGE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        help="Redis database (flushed) for the broker and the cache",
    )
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database at the end")
    args = parser.parse_args()
    # Two runs at once would re-create each other's database, flush each other's queue and share
    # the same cores: a second run waits for the first.
    lock = (Path(tempfile.gettempdir()) / "judgeapp-judge-bench.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another judge_bench run to finish", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    if args.pumps > args.workers:
        print(f"note: {args.pumps} pumps on {args.workers} worker processes; some will wait")

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "judgeapp.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DEBUG": "0",
        "SECRET_KEY": "judge-bench-secret-key-not-for-production-0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "JUDGING_PUMPS": str(args.pumps),
    }
    os.environ.update(env)  # this process uses the ORM and Celery's control channel too
    sys.path.insert(0, str(ROOT))

    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    prepare_database(args.database_url, env)

    import django

    django.setup()
    from django.db import connections

    server = worker = None
    raws, apps = [], []
    try:
        server, base_url = start_server(args)
        server_cpu_before = process_cpu_seconds(server.pid)
        started = time.perf_counter()
        dataset, judge = create_fixtures(args, base_url)
        print(
            f"{args.judgments} items in {time.perf_counter() - started:.1f} s; "
            f"server {base_url} (service {args.service_time} s, capacity {args.capacity})"
        )
        with tempfile.TemporaryDirectory(prefix="judgeapp-judge-bench-") as tmp_name:
            tmp = Path(tmp_name)
            started = time.perf_counter()
            worker, _ = start_worker(args, env, tmp / "worker.log")
            print(
                f"worker up with {args.workers} processes, {args.pumps} pump(s) "
                f"({time.perf_counter() - started:.1f} s, not timed)"
            )
            for round_ in range(1, args.repeat + 1):
                raw = raw_phase(args, judge, dataset, base_url)
                raws.append(raw)
                print(
                    f"[{round_}] raw: {raw['seconds']:.2f} s, {raw['per_s']:.1f}/s, "
                    f"max open {raw['max_open']}, {raw['cpu_ms_per_request']:.2f} ms CPU/request"
                )
                app = app_phase(args, env, worker, base_url, tmp)
                apps.append(app)
                print(
                    f"[{round_}] app: {app['seconds']:.2f} s, {app['per_s']:.1f}/s, "
                    f"max open {app['max_open']}, {app['cpu_ms_per_judgment']:.2f} ms CPU/judgment"
                    f", ratio {app['per_s'] / raw['per_s']:.3f}; run {app['status']} "
                    f"{app['counts']}, {app['requests']} requests, once: {app['done_once']}"
                )
                print(
                    f"      command {app['command_seconds']:.2f} s, run created at "
                    f"{app['run_created_s']:.2f} s, first claim {app['first_claim_s']:.2f} s, "
                    f"done {app['run_finished_s']:.2f} s, slot use {app['slot_use']:.3f}"
                )
            worker_peak_rss_mb = tree_peak_rss_mb(worker.pid)
            log = (tmp / "worker.log").read_text()
            if "Traceback" in log or "ERROR" in log:
                print("worker log (tail):\n" + log[-3000:])
        server_cpu = process_cpu_seconds(server.pid) - server_cpu_before
    finally:
        for proc in (worker, server):
            try:
                stop_tree(proc)
            except Exception as exc:
                print(f"could not stop process {proc.pid}: {exc!r}", file=sys.stderr)
        connections.close_all()
        redis.Redis.from_url(args.redis_url).flushdb()
        if not args.keep_db:
            drop_database(args.database_url)

    raw_per_s = median([r["per_s"] for r in raws])
    app_per_s = median([a["per_s"] for a in apps])
    ideal = args.service_time * -(-args.judgments // min(args.max_in_flight, args.capacity))

    def rounded(value, digits=2):
        return None if value is None else round(value, digits)

    result = {
        # The keys every benchmark prints: judgments per second through the app, and the largest
        # peak RSS of the worker's processes.
        "items_per_s": rounded(app_per_s, 1),
        "peak_rss_mb": rounded(worker_peak_rss_mb, 1),
        "app_per_s": rounded(app_per_s, 1),
        "raw_per_s": rounded(raw_per_s, 1),
        "ratio": rounded(app_per_s / raw_per_s, 3),
        "max_open_at_server": max(a["max_open"] for a in apps),
        "raw_max_open_at_server": max(r["max_open"] for r in raws),
        "cpu_ms_per_judgment": rounded(median([a["cpu_ms_per_judgment"] for a in apps])),
        "raw_cpu_ms_per_request": rounded(median([r["cpu_ms_per_request"] for r in raws])),
        "judgments": args.judgments,
        "service_time": args.service_time,
        "capacity": args.capacity,
        "max_in_flight": args.max_in_flight,
        "workers": args.workers,
        "pumps": args.pumps,
        "repeat": args.repeat,
        "app_seconds": rounded(median([a["seconds"] for a in apps])),
        "raw_seconds": rounded(median([r["seconds"] for r in raws])),
        "ideal_seconds": rounded(ideal),
        "command_seconds": rounded(median([a["command_seconds"] for a in apps])),
        "first_claim_s": rounded(median([a["first_claim_s"] for a in apps])),
        "run_finished_s": rounded(median([a["run_finished_s"] for a in apps])),
        "slot_use": rounded(median([a["slot_use"] for a in apps]), 3),
        "done_once": all(a["done_once"] for a in apps),
        "server_cpu_s": rounded(server_cpu),
        "app_per_s_all": [round(a["per_s"], 1) for a in apps],
        "raw_per_s_all": [round(r["per_s"], 1) for r in raws],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
