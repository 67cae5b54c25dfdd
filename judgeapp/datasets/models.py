from django.conf import settings
from django.db import models

from judgeapp.accounts.models import Team
from judgeapp.core.fields import TSVectorField, WholeJSONField


class Dataset(models.Model):
    """A named set of comparisons, owned by one team."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The metadata keys seen in its items, kept by the import so filters can offer them.
    metadata_keys = models.JSONField(default=list, blank=True)
    # The team's playground: where verdicts tried in the playground page keep their items.
    is_playground = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="dataset_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Comparison(models.Model):
    """One item: a conversation (last turn from the user) and two candidate responses."""

    # No separate index: the unique (dataset, external_id) index leads with dataset_id. No
    # database-level constraint either: checking it row by row costs a bulk import a third of its
    # time, and the rows come only from the importer, which holds the dataset row locked while
    # it writes; deleting a dataset goes through the ORM, which deletes its comparisons.
    dataset = models.ForeignKey(
        Dataset,
        on_delete=models.CASCADE,
        related_name="comparisons",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField(max_length=255)
    conversation = WholeJSONField(help_text="List of {role, content}, oldest first.")
    response_1 = models.TextField()
    response_2 = models.TextField()
    principles = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Re-importing a record whose id exists adds nothing.
            models.UniqueConstraint(
                fields=["dataset", "external_id"], name="comparison_unique_dataset_external_id"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def prompt(self) -> str:
        """The last user turn, for lists and titles."""
        for turn in reversed(self.conversation or []):
            if turn.get("role") == "user":
                return str(turn.get("content", ""))
        return ""


class ComparisonSearch(models.Model):
    """The full-text search document of one item (PostgreSQL), written after its import by
    ``datasets.search``; items without one are not found by search yet."""

    comparison = models.OneToOneField(
        Comparison, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    dataset_id = models.BigIntegerField(db_index=True)
    document = TSVectorField()

    class Meta:
        db_table = "datasets_comparison_search"

    def __str__(self) -> str:
        return f"search document of {self.comparison_id}"


class ImportJob(models.Model):
    """One upload into a dataset: its options, progress, counts and every error found."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to="imports/", blank=True)
    format = models.CharField(max_length=32, blank=True, help_text="Detected or requested format.")
    skip_invalid = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    records_read = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    labels_created = models.PositiveIntegerField(default=0)
    judgments_created = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    bytes_read = models.PositiveBigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors found.")
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.dataset}"
