from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from judgeapp.accounts.models import Team
from judgeapp.datasets.models import Comparison, Dataset


class Judge(models.Model):
    """A configured judge backend, or the name under which imported verdicts are kept."""

    class Protocol(models.TextChoices):
        GENRM = "genrm", "GenRM (response_1/response_2 roles)"
        LLM_JUDGE = "llm-judge", "LLM judge (system + user prompt)"
        IMPORTED = "imported", "Imported verdicts"

    class StructuredOutput(models.TextChoices):
        JSON_SCHEMA = "json_schema", "JSON schema (OpenAI, vLLM, newer llama.cpp)"
        JSON_OBJECT = "json_object", "JSON object with schema (llama-cpp-python)"
        NONE = "none", "None (prompt only)"

    class PrinciplePosition(models.TextChoices):
        BEFORE = "before", "Before the responses"
        AFTER = "after", "After the responses"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="judges")
    name = models.CharField(max_length=100)
    protocol = models.CharField(max_length=16, choices=Protocol.choices, default=Protocol.GENRM)
    base_url = models.URLField(max_length=500, blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The key is write-only: kept encrypted here, or read from the environment variable named in
    # api_key_env; it is never rendered back in a page, an API reply or a log line.
    api_key_encrypted = models.TextField(blank=True)
    api_key_env = models.CharField(max_length=100, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_in_flight = models.PositiveIntegerField(default=8, validators=[MinValueValidator(1)])
    timeout_seconds = models.FloatField(default=600, validators=[MinValueValidator(1)])
    principle_position = models.CharField(
        max_length=8, choices=PrinciplePosition.choices, default=PrinciplePosition.BEFORE
    )
    principles_one_message_each = models.BooleanField(default=False)
    # llm-judge only: how the verdict's JSON schema is asked for (servers differ).
    structured_output = models.CharField(
        max_length=16, choices=StructuredOutput.choices, default=StructuredOutput.JSON_SCHEMA
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="judge_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class PrincipleSet(models.Model):
    """A named list of principles; editing it adds a new version, old runs keep theirs."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="principle_sets")
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    principles = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name", "version"], name="principleset_unique_team_name_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class JudgeRun(models.Model):
    """One judge over a dataset (or a filtered subset of it) with its options."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    judge = models.ForeignKey(Judge, on_delete=models.PROTECT, related_name="runs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="runs")
    filters = models.JSONField(default=dict, blank=True)
    principle_set = models.ForeignKey(
        PrincipleSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # The exact principle text sent, when it overrides the comparisons' own principles.
    principles_override = models.JSONField(null=True, blank=True)
    # Set on runs that hold imported verdicts: the run key from the file ("" when it gave none).
    import_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - None = not imported
    both_orders = models.BooleanField(default=False)
    samples = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Why the run stopped, when the judge itself failed (a refused key, roles the server rejects).
    error = models.TextField(blank=True)
    # What was sent: protocol, model, sampling and principle placement at the start of the run.
    config = models.JSONField(default=dict, blank=True)
    # Higher first: the playground's single judgments go ahead of a long run of the same judge.
    priority = models.SmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One imported run per judge, dataset and run key: re-imports attach to it.
            models.UniqueConstraint(
                fields=["judge", "dataset", "import_key"],
                condition=models.Q(import_key__isnull=False),
                name="judgerun_unique_import_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.judge} on {self.dataset} (#{self.pk})"


class Judgment(models.Model):
    """One verdict of one judge on one comparison in one order (and one sample)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class ParseStatus(models.TextChoices):
        OK = "ok", "Parsed"
        PARTIAL = "partial", "Some fields missing"
        OUT_OF_RANGE = "out_of_range", "Out of range"
        UNPARSEABLE = "unparseable", "Unparseable"
        TRUNCATED = "truncated", "Truncated"
        INCONSISTENT = "inconsistent", "Ranking contradicts scores"

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="judgments")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="judgments")
    swapped = models.BooleanField(default=False, help_text="The judge saw response_2 first.")
    sample = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    score_1 = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    score_2 = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    ranking = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(6)]
    )
    # Canonical order (response_1 of the comparison first), -3..3, negative = response_1 better.
    preference = models.SmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(-3), MaxValueValidator(3)]
    )
    reasoning = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    parse_status = models.CharField(max_length=16, choices=ParseStatus.choices, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # The process holding the lease; a verdict is stored only by its holder.
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A transient failure waits until then before the next attempt.
    not_before = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # A redelivered task never creates a second verdict.
            models.UniqueConstraint(
                fields=["run", "comparison", "swapped", "sample"],
                name="judgment_unique_run_comparison_order_sample",
            ),
        ]
        indexes = [
            # Claiming takes the lowest queued ids of a run: an index range scan.
            models.Index(fields=["run", "status", "id"], name="judgment_run_status_id"),
            models.Index(fields=["status", "lease_expires_at"], name="judgment_status_lease"),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk} ({self.status})"


class JudgingPump(models.Model):
    """A pump task, from the moment it is queued: its heartbeat tells the reconciler it lives."""

    owner = models.CharField(max_length=32, primary_key=True)
    enqueued_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # Requests this pump may keep open, by judge id: across the live pumps, at most each judge's
    # max_in_flight (granted under a lock on the judge's row).
    slots = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"pump {self.owner}"
