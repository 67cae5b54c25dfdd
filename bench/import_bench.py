#!/usr/bin/env python
"""Import benchmark: generate N native-JSONL items (~2 KB each), import them into PostgreSQL with
`manage.py import_dataset`, and print items/s and the importing process's peak RSS.

`items_per_s` counts the whole command (interpreter and Django start-up included);
`import_items_per_s` the import itself (read, validate, write, commit).

    .venv/bin/python bench/import_bench.py                      # 100,000 items
    .venv/bin/python bench/import_bench.py --repeat 5           # medians of 5 imports
    .venv/bin/python bench/import_bench.py --items 20000 --labels 3
    .venv/bin/python bench/import_bench.py --corrupt-line 50001  # expect a rejection naming it
    .venv/bin/python bench/import_bench.py --corrupt-line 50001 --skip-invalid

It creates (and by default re-creates) the database named in --database-url, migrates it, and
runs the import as a child process, so the RSS measured is the importer's alone; with --repeat
the database is emptied before each import. The last line of output is one JSON object with the
figures: medians over the runs (peak RSS: the largest).
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, create_database, make_text, migrate


def generate(path: Path, *, items: int, size: int, labels: int, corrupt_line: int | None) -> int:
    rng = random.Random(7)
    per_text = max(size // 3 - 60, 20)
    total = 0
    with path.open("wb") as f:
        for i in range(1, items + 1):
            record = {
                "id": f"bench-{i}",
                "conversation": [{"role": "user", "content": make_text(rng, per_text)}],
                "response_1": make_text(rng, per_text),
                "response_2": make_text(rng, per_text),
                "metadata": {"domain": rng.choice(["code", "general", "stem"]), "n": i},
                "labels": [
                    {"annotator": f"ann-{k}", "preference": rng.randint(-3, 3)}
                    for k in range(labels)
                ],
            }
            if i == corrupt_line:
                record["labels"] = [{"annotator": "ann-x", "preference": 9}]
                record.pop("response_2")
            line = json.dumps(record).encode() + b"\n"
            total += len(line)
            f.write(line)
    return total


def prepare_database(url: str, fresh: bool, env: dict) -> None:
    create_database(url, fresh=fresh)
    migrate(env)
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "create_team", "bench", "--admin", "bench", "--password", "bench-password-1"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def run_import(path: Path, env: dict, *, skip_invalid: bool) -> dict:
    """One ``manage.py import_dataset`` in a child process: its wall time, the import's own time
    as the command reports it, its peak RSS and CPU, and what it printed."""
    command = [
        sys.executable, "manage.py", "import_dataset", str(path), "--team", "bench",
        "--dataset", f"bench-{time.time_ns()}",
    ]  # fmt: skip
    if skip_invalid:
        command.append("--skip-invalid")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        # wait4 gives this child's own resource usage: its peak RSS, not its siblings'.
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    # The command reports the import's own time (reading, validating, writing, commit), without
    # the interpreter and Django starting up.
    match = re.search(r"\(([0-9.]+) s\)", stdout)
    return {
        "seconds": seconds,
        "import_seconds": float(match.group(1)) if match else None,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "exit_code": os.waitstatus_to_exitcode(status),
        "stdout": stdout,
        "stderr": stderr,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000, help="items to import (100000)")
    parser.add_argument("--size", type=int, default=2048, help="approximate bytes per item (2048)")
    parser.add_argument("--labels", type=int, default=0, help="labels per item (0)")
    parser.add_argument("--repeat", type=int, default=1, help="imports to run; medians reported")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/judgeapp_bench"
        ),
        help="PostgreSQL database to (re)create and import into",
    )
    parser.add_argument("--keep-database", action="store_true", help="don't drop it first")
    parser.add_argument("--corrupt-line", type=int, help="make this line invalid")
    parser.add_argument("--skip-invalid", action="store_true", help="import with --skip-invalid")
    args = parser.parse_args()

    env = {**os.environ, "DATABASE_URL": args.database_url, "DEBUG": "1", "LOG_LEVEL": "WARNING"}
    runs = []
    with tempfile.TemporaryDirectory(prefix="judgeapp-bench-") as tmp:
        path = Path(tmp) / "bench.jsonl"
        size = generate(
            path,
            items=args.items,
            size=args.size,
            labels=args.labels,
            corrupt_line=args.corrupt_line,
        )
        print(f"generated {args.items} items, {size / 1e6:.1f} MB, {size / args.items:.0f} B/item")
        for i in range(args.repeat):
            # Each import goes into an empty database (unless --keep-database), so every run
            # does the same work.
            prepare_database(args.database_url, not args.keep_database, env)
            run = run_import(path, env, skip_invalid=args.skip_invalid)
            print(run["stdout"].strip())
            if run["stderr"].strip():
                print(run["stderr"].strip()[:2000])
            print(
                f"run {i + 1}: {run['seconds']:.2f} s, import {run['import_seconds']} s, "
                f"peak RSS {run['peak_rss_mb']:.1f} MB"
            )
            runs.append(run)
    seconds = statistics.median(r["seconds"] for r in runs)
    timed = [r["import_seconds"] for r in runs if r["import_seconds"]]
    import_seconds = statistics.median(timed) if timed else None
    result = {
        "items": args.items,
        "bytes": size,
        "repeat": args.repeat,
        "seconds": round(seconds, 2),
        "items_per_s": round(args.items / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "import_seconds": import_seconds,
        "import_items_per_s": round(args.items / import_seconds) if import_seconds else None,
        "items_per_s_runs": [round(args.items / r["seconds"]) for r in runs],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "importer_cpu_s": round(statistics.median(r["cpu_s"] for r in runs), 2),
        "exit_code": max(r["exit_code"] for r in runs),
        "database": "postgresql",
        "labels_per_item": args.labels,
    }
    if args.corrupt_line:
        result["corrupt_line"] = args.corrupt_line
        result["reported"] = all(f"line {args.corrupt_line}" in r["stderr"] for r in runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
