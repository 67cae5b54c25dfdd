from django.db import models


class TSVectorField(models.Field):
    """PostgreSQL's tsvector; plain text elsewhere (where nothing searches it)."""

    description = "Full-text search document"

    def db_type(self, connection) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"


class WholeJSONField(models.JSONField):
    """JSON that is written and read whole, never queried inside: PostgreSQL's ``json`` (checked
    on the way in and kept as written) rather than ``jsonb``, which takes every value apart into
    a binary tree as it is stored: for conversations of a few kilobytes that parsing was a third
    of the database's work in a bulk import. Key lookups and containment are not offered by
    ``json`` (nor equality, so no DISTINCT over it); elsewhere the field is a plain JSONField."""

    description = "JSON document, stored as written"

    def db_type(self, connection) -> str:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value, expression, connection):
        # psycopg hands ``json`` columns back already parsed (Django loads only jsonb as text).
        if connection.vendor == "postgresql" and not isinstance(value, str | bytes):
            return value
        return super().from_db_value(value, expression, connection)
