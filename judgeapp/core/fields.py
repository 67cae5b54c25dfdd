from django.db import models


class TSVectorField(models.Field):
    """PostgreSQL's tsvector; plain text elsewhere (where nothing searches it)."""

    description = "Full-text search document"

    def db_type(self, connection) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"
