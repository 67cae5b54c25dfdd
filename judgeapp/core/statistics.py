"""Planner statistics after bulk writes (PostgreSQL).

A bulk import adds rows faster than autovacuum looks (and some servers run without it): until the
tables are analysed the planner still believes them nearly empty, and a page of a 100k-item
dataset was planned as "read every remaining item, then sort" (60 ms a page; an export of 100k
items spent 7 of its 10 s that way). ``analyze_if_stale`` applies autovacuum's own rule at once,
to the tables a write just grew.
"""

from django.db import connection

# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor at their defaults.
BASE_THRESHOLD = 50
SCALE_FACTOR = 0.1


def stale_tables(written: dict[str, int]) -> list[str]:
    """The tables of ``written`` (table: rows just written) changed by more rows since their last
    analysis than autovacuum's rule allows: 50 + 10% of the rows the planner believes they hold.
    The rows just written count even if the statistics collector has not caught up with them."""
    tables = sorted(written)
    with connection.cursor() as cursor:
        # Statistics views are read once per transaction unless told otherwise: read them now.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            """
            SELECT c.relname, GREATEST(c.reltuples, 0), COALESCE(s.n_mod_since_analyze, 0)
            FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.oid = ANY(%s::regclass[])
            """,
            [tables],
        )
        rows = cursor.fetchall()
    return sorted(
        name
        for name, believed, changed in rows
        if max(changed, written[name]) > BASE_THRESHOLD + SCALE_FACTOR * believed
    )


def analyze_if_stale(written: dict[str, int]) -> list[str]:
    """ANALYZE the tables of ``written`` (table: rows just written) whose statistics are stale by
    autovacuum's rule; returns their names. Call it after the write committed. A no-op off
    PostgreSQL."""
    written = {table: rows for table, rows in written.items() if rows}
    if connection.vendor != "postgresql" or not written:
        return []
    stale = stale_tables(written)
    with connection.cursor() as cursor:
        for table in stale:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return stale
