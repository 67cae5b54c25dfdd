"""Checks of the parts the app needs: the database, the broker, and a worker that answers."""

import time
from dataclasses import asdict, dataclass

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.db import connection

from judgeapp.celery import app as celery_app
from judgeapp.core.tasks import ping


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict:
        return asdict(self)


def _timed(name: str, probe) -> Check:
    start = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # every failure is a finding here, not a crash
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return Check(name=name, ok=ok, detail=detail, ms=round((time.perf_counter() - start) * 1000, 1))


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} ({connection.settings_dict.get('NAME')})"


def _broker_name() -> str:
    url = settings.CELERY_BROKER_URL
    return url.split("@")[-1] if "@" in url else url


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
    return _broker_name()


def _worker() -> str:
    timeout = settings.HEALTH_WORKER_TIMEOUT
    result = ping.apply_async(expires=timeout + 5)
    try:
        answer = result.get(timeout=timeout)
    except CeleryTimeoutError:
        raise RuntimeError(f"no worker answered a ping within {timeout:g} s") from None
    result.forget()
    if answer != "pong":
        raise RuntimeError(f"unexpected answer {answer!r}")
    return "a worker answered the ping"


PROBES = {"database": _database, "broker": _broker, "worker": _worker}


def health_check(names: list[str] | None = None) -> list[Check]:
    chosen = names or list(PROBES)
    checks = [_timed(name, PROBES[name]) for name in chosen if name in PROBES and name != "worker"]
    # A worker can only answer through a working broker.
    if "worker" in chosen:
        broker_ok = all(c.ok for c in checks if c.name == "broker")
        if broker_ok:
            checks.append(_timed("worker", _worker))
        else:
            checks.append(Check("worker", False, "not tried: the broker is unreachable", 0.0))
    return checks
