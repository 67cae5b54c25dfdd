#!/usr/bin/env python
"""Report benchmark: an agreement report over N items (default 100,000), each with 3 human
labels and the verdicts of 2 judges in both orders, with 1,000 bootstrap resamples, computed
from PostgreSQL by `manage.py agreement_report` in a child process.

`seconds` is the command's whole run (Python and Django start-up, reading the labels and verdicts,
every figure with its intervals, storing and writing the JSON); `compute_seconds` the report
alone as it records it (from reading its inputs to its last figure); `peak_rss_mb` the command's
peak resident memory. Labels agree with a hidden truth 70% of the time; one judge is better
than the other and flips with the order now and then, so no figure is degenerate.

    .venv/bin/python bench/report_bench.py                      # 100,000 items, 1,000 resamples
    .venv/bin/python bench/report_bench.py --items 20000 --resamples 200
    .venv/bin/python bench/report_bench.py --repeat 3 --keep-db

It re-creates the database named in --database-url, imports the generated file with
`manage.py import_dataset` (not timed), then runs the report --repeat times, each time from a
fresh state (the stored report is deleted first, so the cache does not answer). The last line
of output is one JSON object with the figures (medians over --repeat).
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, create_database, drop_database, migrate


def generate(path: Path, *, items: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(items):
            truth = rng.randint(-3, 3)
            labels = [
                {
                    "annotator": f"ann-{k}",
                    "preference": truth if rng.random() < 0.7 else rng.randint(-3, 3),
                }
                for k in range(3)
            ]
            judgments = []
            for judge, skill in (("genrm", 0.8), ("baseline", 0.6)):
                verdict = truth if rng.random() < skill else rng.randint(-3, 3)
                for swapped in (False, True):
                    flip = rng.random() < 0.1
                    judgments.append(
                        {"judge": judge, "preference": -verdict if flip else verdict,
                         "swapped": swapped}
                    )  # fmt: skip
            record = {
                "id": f"r-{i}",
                "conversation": [{"role": "user", "content": f"question {i}"}],
                "response_1": f"first answer {i}",
                "response_2": f"second answer {i}",
                "metadata": {"domain": rng.choice(["code", "chat", "stem", "safety"])},
                "labels": labels,
                "judgments": judgments,
            }
            f.write(json.dumps(record) + "\n")


def run(cmd: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--breakdown", action="store_true", help="also break down by domain")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/judgeapp_report_bench"
        ),
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DEBUG": "0",
        "SECRET_KEY": "report-bench-secret-key-not-for-production-use-0123456789",
        "REDIS_URL": "",  # no broker needed: the report is computed in the command
        "JUDGEAPP_VAR_DIR": tempfile.mkdtemp(prefix="report-bench-"),
    }
    manage = [sys.executable, "manage.py"]
    create_database(args.database_url)
    try:
        migrate(env)
        run(
            [*manage, "create_team", "bench", "--admin", "bench", "--password", "bench-pw-1234"],
            env,
        )
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "report.jsonl"
            started = time.perf_counter()
            generate(data, items=args.items, seed=11)
            run(
                [*manage, "import_dataset", str(data), "--team", "bench", "--dataset", "bench"], env
            )
            print(f"prepared {args.items:,} items in {time.perf_counter() - started:.1f} s")
            out = Path(tmp) / "report.json"
            command = [
                *manage, "agreement_report", "--team", "bench", "--dataset", "bench",
                "--resamples", str(args.resamples), "--format", "json", "-o", str(out),
                *(["--breakdown", "domain"] if args.breakdown else []),
            ]  # fmt: skip
            walls, computes, rss = [], [], []
            for _ in range(args.repeat):
                run([*manage, "shell", "-c", "from judgeapp.reports.models import Report; "
                     "Report.objects.all().delete()"], env)  # fmt: skip
                before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                started = time.perf_counter()
                run(command, env)
                walls.append(time.perf_counter() - started)
                peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                # ru_maxrss of children is the largest child so far: this child's when larger.
                rss.append(max(peak, before) / 1024)
                result = json.loads(out.read_text())
                computes.append(result["seconds"])
                print(
                    f"report: {walls[-1]:.2f} s in all, {computes[-1]:.2f} s computing, "
                    f"peak RSS {rss[-1]:.0f} MB"
                )
            judges = result["judges"]
            print(
                f"{result['counts']['items']:,} items, {result['counts']['labels']:,} labels, "
                f"judges {', '.join(judges)}; genrm accuracy without ties "
                f"{judges['genrm']['accuracy_without_ties']['value']:.4f} "
                f"[{judges['genrm']['accuracy_without_ties']['ci_low']:.4f}, "
                f"{judges['genrm']['accuracy_without_ties']['ci_high']:.4f}]"
            )
    finally:
        if not args.keep_db:
            drop_database(args.database_url)
    figures = {
        "items_per_s": round(args.items / statistics.median(walls)),
        "seconds": round(statistics.median(walls), 2),
        "compute_seconds": round(statistics.median(computes), 2),
        "peak_rss_mb": round(max(rss), 1),
        "items": args.items,
        "labels": result["counts"]["labels"],
        "judges": len(judges),
        "resamples": args.resamples,
        "repeat": args.repeat,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
