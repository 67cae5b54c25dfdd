"""Planner statistics are refreshed after bulk writes, by autovacuum's rule."""

import pytest
from django.db import connection

from judgeapp.core.statistics import analyze_if_stale, stale_tables
from judgeapp.datasets.models import Comparison
from tests.datasets.conftest import jsonl, native

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics"),
]

TABLE = Comparison._meta.db_table


def believed_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [TABLE])
        return cursor.fetchone()[0]


def test_an_import_leaves_the_planner_knowing_how_many_items_there_are(dataset, run_import):
    assert believed_rows() <= 0  # never analysed: the planner assumes a near-empty table
    job = run_import(dataset, jsonl(native(i) for i in range(60)))
    assert job.items_created == 60
    assert believed_rows() == 60


def test_only_tables_past_autovacuums_threshold_are_analysed(dataset, run_import):
    run_import(dataset, jsonl(native(i) for i in range(60)))  # analysed: 60 rows believed
    # 50 + 10% of 60 = 56 changes are allowed before the statistics count as stale.
    assert stale_tables({TABLE: 56}) == []
    assert stale_tables({TABLE: 57}) == [TABLE]
    assert analyze_if_stale({TABLE: 5}) == []
    assert analyze_if_stale({TABLE: 0}) == []
