"""Pieces the benchmarks share: generated text, a PostgreSQL database of their own, and the CPU
time, peak memory and stopping of process trees."""

import contextlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "the model response answer user question because however python function return value "
    "list string number error result example code should would could data table first second "
    "better worse correct wrong helpful concise detailed explain reason step sum prime capital "
    "city river language translate summary paragraph sentence token reward judge score rank"
).split()


def make_text(rng: random.Random, size: int) -> str:
    """About ``size`` characters of English-looking words."""
    words, length = [], 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def _admin(url: str):
    import psycopg

    parsed = urlparse(url)
    admin_url = parsed._replace(path="/postgres").geturl()
    return psycopg.connect(admin_url, autocommit=True), parsed.path.lstrip("/")


def create_database(url: str, *, fresh: bool = True) -> None:
    """Create the database named in ``url`` (dropping it first when ``fresh``)."""
    conn, name = _admin(url)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    conn, name = _admin(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )


# Processes -------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(raw[raw.rindex(")") + 2 :].split()[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        found += frontier
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process tree: the live processes' own time and that of the children
    they reaped (a prefork child that was replaced)."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / CLOCK_TICKS


def tree_peak_rss_mb(root: int) -> float:
    """The largest peak resident set (VmHWM) of any live process in the tree, in MB."""
    peaks = [0]
    for pid in tree_pids(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
    return max(peaks) / 1024


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text()
    fields = fields[fields.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def stop_tree(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """SIGTERM (a Celery worker's warm shutdown), then SIGKILL what is left of its tree."""
    if proc is None or proc.poll() is not None:
        return
    pids = tree_pids(proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in pids[1:]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
