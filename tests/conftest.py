"""Fixtures: three users as the house style asks (an admin and an annotator of team A, and an
outsider who belongs to another team), plus the real Celery broker, isolated per test process."""

import contextlib
import os
import tempfile
import threading
from pathlib import Path

import pytest
from celery.signals import task_postrun
from django.conf import settings

from judgeapp.accounts.models import Membership
from judgeapp.celery import app as celery_app
from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # Each test process gets its own queue, so tasks of parallel tests (or of a JudgeApp running
    # on the same machine) never reach each other's workers.
    celery_app.conf.task_default_queue = f"judgeapp-test-{worker}"
    if not settings.REDIS_URL:
        root = Path(tempfile.mkdtemp(prefix=f"judgeapp-broker-{worker}-"))
        for folder in ("queue", "control", "results"):
            (root / folder).mkdir()
        celery_app.conf.broker_transport_options = {
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "data_folder_in": str(root / "queue"),
            "data_folder_out": str(root / "queue"),
            "control_folder": str(root / "control"),
        }
        celery_app.conf.result_backend = f"file://{root / 'results'}"


@pytest.fixture(autouse=True)
def _no_pump_tasks(settings):
    """Tests drive pumps themselves (tests/judging/conftest.py run_pumps); a test that wants the
    workers to run them sets JUDGING_PUMPS. Otherwise every started run would leave a pump
    message in this process's queue for the next in-process worker to run first."""
    settings.JUDGING_PUMPS = 0


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def team(db):
    return TeamFactory(name="Team A")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Team B")


@pytest.fixture
def admin(team):
    return MembershipFactory(team=team, user__username="alice", role=Membership.Role.ADMIN).user


@pytest.fixture
def annotator(team):
    return MembershipFactory(team=team, user__username="annie", role=Membership.Role.ANNOTATOR).user


@pytest.fixture
def viewer(team):
    return MembershipFactory(team=team, user__username="victor", role=Membership.Role.VIEWER).user


@pytest.fixture
def outsider(other_team):
    return MembershipFactory(
        team=other_team, user__username="oscar", role=Membership.Role.ADMIN
    ).user


@pytest.fixture
def user_without_team(db):
    return UserFactory(username="nobody")


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker consuming this test process's queue on the configured broker."""
    from celery.contrib.testing.worker import start_worker

    celery_app.control.purge()  # messages left by earlier tests of this process
    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=[celery_app.conf.task_default_queue],
        shutdown_timeout=10,
    ) as worker:
        yield worker


@contextlib.contextmanager
def task_finished(task):
    """An event set when a worker has finished running ``task`` (any call of it)."""
    finished = threading.Event()

    def on_postrun(sender=None, **kwargs):
        if getattr(sender, "name", None) == task.name:
            finished.set()

    task_postrun.connect(on_postrun, weak=False)
    try:
        yield finished
    finally:
        task_postrun.disconnect(on_postrun)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    yield
    # Threads that served the tests (the live server, in-process workers) may still hold a pooled
    # PostgreSQL connection; end them so the test database can be dropped.
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
