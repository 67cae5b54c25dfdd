from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from judgeapp.accounts.models import Team
from judgeapp.datasets.models import Comparison, Dataset


class Campaign(models.Model):
    """Annotation of a dataset (or a filtered subset) by a set of annotators."""

    class Scale(models.TextChoices):
        HELPSTEER3 = "helpsteer3", "HelpSteer3 -3..3 with tie"
        RANKING6 = "ranking6", "Ranking 1..6 (as the GenRM)"
        TERNARY = "ternary", "A / tie / B"
        BINARY = "binary", "A / B"

    class Rationale(models.TextChoices):
        OFF = "off", "Not asked"
        OPTIONAL = "optional", "Optional"
        REQUIRED = "required", "Required"

    class Assignment(models.TextChoices):
        LEAST_LABELLED = "least_labelled", "Least-labelled first"
        RANDOM = "random", "Random (seeded)"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="campaigns")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    filters = models.JSONField(default=dict, blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown, shown beside every item.")
    principles = models.JSONField(default=list, blank=True)
    scale = models.CharField(max_length=16, choices=Scale.choices, default=Scale.HELPSTEER3)
    ask_scores = models.BooleanField(default=False, help_text="Ask a 1..5 score per response.")
    rationale = models.CharField(
        max_length=8, choices=Rationale.choices, default=Rationale.OPTIONAL
    )
    overlap = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    assignment = models.CharField(
        max_length=16, choices=Assignment.choices, default=Assignment.LEAST_LABELLED
    )
    seed = models.IntegerField(default=0)
    randomise_order = models.BooleanField(default=True)
    show_model_verdicts = models.BooleanField(default=False)
    gold_rate = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    lock_minutes = models.PositiveIntegerField(default=30, validators=[MinValueValidator(1)])
    min_seconds = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.0)],
        help_text="Answers given faster than this count as too fast on the dashboard.",
    )
    deadline = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    annotators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="campaigns"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="campaign_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class GuidelineVersion(models.Model):
    """Each saved edit of a campaign's guidelines."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="guideline_versions"
    )
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "version"], name="guidelineversion_unique_campaign_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} guidelines v{self.version}"


class GoldItem(models.Model):
    """An item with a known answer, mixed into annotators' queues to measure accuracy."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="gold_items")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="+")
    expected_preference = models.SmallIntegerField(
        validators=[MinValueValidator(-3), MaxValueValidator(3)]
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "comparison"], name="golditem_unique_campaign_comparison"
            ),
        ]

    def __str__(self) -> str:
        return f"gold {self.comparison_id} in {self.campaign}"


class Assignment(models.Model):
    """An item handed to one annotator: locked to them until submitted, skipped or expired."""

    class Status(models.TextChoices):
        LOCKED = "locked", "In progress"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.LOCKED)
    shown_swapped = models.BooleanField(default=False, help_text="response_2 was shown first.")
    is_gold = models.BooleanField(default=False, help_text="A gold item, outside the overlap.")
    locked_until = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "comparison", "annotator"],
                name="assignment_unique_campaign_comparison_annotator",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="assignment_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk} ({self.status})"


class Label(models.Model):
    """One annotator's answer on one comparison, always stored in canonical order.

    Campaign labels carry the user; labels imported from files carry an annotator name; an
    adjudicated label is a reviewer's decision, kept apart from the annotators' own.
    """

    class Kind(models.TextChoices):
        ANNOTATION = "annotation", "Annotation"
        IMPORTED = "imported", "Imported"
        ADJUDICATION = "adjudication", "Adjudication"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="labels")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANNOTATION)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="labels",
    )
    annotator_name = models.CharField(max_length=150, blank=True)
    preference = models.SmallIntegerField(validators=[MinValueValidator(-3), MaxValueValidator(3)])
    score_1 = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    score_2 = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rationale = models.TextField(blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    shown_swapped = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "comparison", "annotator"],
                condition=Q(kind="annotation"),
                name="label_unique_campaign_item_annotator",
            ),
            models.UniqueConstraint(
                fields=["comparison", "annotator_name"],
                condition=Q(kind="imported"),
                name="label_unique_imported_item_annotator_name",
            ),
            models.UniqueConstraint(
                fields=["campaign", "comparison"],
                condition=Q(kind="adjudication"),
                name="label_unique_adjudication_per_item",
            ),
            models.CheckConstraint(
                condition=Q(preference__gte=-3) & Q(preference__lte=3),
                name="label_preference_range",
            ),
        ]

    def __str__(self) -> str:
        return f"label {self.pk} on {self.comparison_id}: {self.preference}"

    @property
    def annotator_display(self) -> str:
        return self.annotator.username if self.annotator_id else self.annotator_name


class LabelHistory(models.Model):
    """Every change of a label: who, when, and the values before and after."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="history")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField()

    class Meta:
        ordering = ["label", "changed_at", "id"]
        verbose_name_plural = "label histories"

    def __str__(self) -> str:
        return f"change of label {self.label_id} at {self.changed_at:%Y-%m-%d %H:%M}"


class CampaignItem(models.Model):
    """An item of a campaign and how many of its label slots are taken (labels given plus live
    locks): the row that the queue locks, so two annotators never take the same last slot."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="+")
    taken = models.PositiveSmallIntegerField(default=0)
    labels = models.PositiveSmallIntegerField(default=0)
    # Labels this item wants: the campaign's overlap, plus any added to disagreed items.
    wanted = models.PositiveSmallIntegerField(default=1)
    # Queue order among items equally taken: the item id, or a seeded shuffle.
    rank = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "comparison"], name="campaignitem_unique_campaign_comparison"
            ),
        ]
        indexes = [
            # Only items with a free slot: a full item leaves the index, so the queue never
            # walks past them (a finished campaign answers "nothing left" at once).
            models.Index(
                fields=["campaign", "taken", "rank"],
                name="campaignitem_queue_open",
                condition=Q(taken__lt=F("wanted")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.comparison_id} in {self.campaign} ({self.taken} taken)"
