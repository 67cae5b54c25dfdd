"""PostgreSQL-only indexes: full-text search over the texts of an item, and metadata filters.

SQLite (the embedded default) has neither tsvector nor GIN; its selectors fall back to scans.
"""

from django.db import migrations

SEARCH_EXPRESSION = (
    "(jsonb_to_tsvector('simple'::regconfig, conversation, '[\"string\"]') || "
    "to_tsvector('simple'::regconfig, response_1 || ' ' || response_2))"
)

CREATE = [
    f"CREATE INDEX IF NOT EXISTS comparison_search ON datasets_comparison USING gin ({SEARCH_EXPRESSION})",
    "CREATE INDEX IF NOT EXISTS comparison_metadata ON datasets_comparison "
    "USING gin (metadata jsonb_path_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS comparison_search",
    "DROP INDEX IF EXISTS comparison_metadata",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("datasets", "0002_imports")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
