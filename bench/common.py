"""Pieces the benchmarks share: generated text, and a PostgreSQL database of their own."""

import random
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
