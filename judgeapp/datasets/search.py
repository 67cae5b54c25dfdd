"""Full-text search documents for items (PostgreSQL only).

Documents sit in ``datasets_comparison_search`` (migration datasets 0003). A small import computes
them at once; a larger one leaves them to a worker, in chunks, after it commits: computing tsvectors
for 100k items of 2 KB costs the database far more than writing the items, so it is kept off the
import's path. Items not yet indexed are not found by search until the worker (or the periodic
catch-up task) reaches them.
"""

from django.db import connection

CHUNK = 5000

DOCUMENT_SQL = (
    "json_to_tsvector('simple'::regconfig, c.conversation, '[\"string\"]') || "
    "to_tsvector('simple'::regconfig, c.response_1 || ' ' || c.response_2)"
)

# Used by the selectors: ids of items whose document matches a web-style query.
MATCH_SQL = (
    "datasets_comparison.id IN (SELECT s.comparison_id FROM datasets_comparison_search s "
    "WHERE s.dataset_id = %s AND s.document @@ websearch_to_tsquery('simple'::regconfig, %s))"
)


def search_available() -> bool:
    return connection.vendor == "postgresql"


def search_index_chunk(*, dataset_id: int, chunk: int = CHUNK) -> int:
    """Index up to ``chunk`` items of the dataset that have no document yet; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO datasets_comparison_search (comparison_id, dataset_id, document)
            SELECT c.id, c.dataset_id, {DOCUMENT_SQL}
            FROM datasets_comparison c
            WHERE c.dataset_id = %s AND NOT EXISTS (
                SELECT 1 FROM datasets_comparison_search s WHERE s.comparison_id = c.id)
            ORDER BY c.id
            LIMIT %s
            ON CONFLICT (comparison_id) DO NOTHING
            """,  # noqa: S608 - DOCUMENT_SQL is a constant; values are parameters
            [dataset_id, chunk],
        )
        return cursor.rowcount


def search_index_dataset(*, dataset_id: int) -> int:
    """Index every item of the dataset that has no document yet, a chunk per transaction."""
    if not search_available():
        return 0
    total = 0
    while done := search_index_chunk(dataset_id=dataset_id):
        total += done
    return total


def search_pending_datasets() -> list[int]:
    """Datasets with items that have no search document."""
    if not search_available():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT c.dataset_id FROM datasets_comparison c
            WHERE NOT EXISTS (
                SELECT 1 FROM datasets_comparison_search s WHERE s.comparison_id = c.id)
            """
        )
        return [row[0] for row in cursor.fetchall()]


def search_indexed_count(*, dataset_id: int) -> int | None:
    """How many items of the dataset search can find (None where there is no search index)."""
    if not search_available():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM datasets_comparison_search WHERE dataset_id = %s", [dataset_id]
        )
        return cursor.fetchone()[0]
