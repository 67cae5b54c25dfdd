from django.conf import settings
from django.db import models

from judgeapp.accounts.models import Team
from judgeapp.campaigns.models import Campaign
from judgeapp.datasets.models import Dataset


class Report(models.Model):
    """One computed agreement report. Reports are cached by ``fingerprint`` (the configuration
    plus a digest of the labels and verdicts it reads): asking again for the same figures over
    unchanged data returns the stored result instead of computing it anew."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Computing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="reports")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="reports")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    config = models.JSONField(default=dict)
    fingerprint = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=200, blank=True)
    progress = models.FloatField(default=0.0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        scope = self.campaign.name if self.campaign_id else self.dataset.name
        return f"report {self.pk} on {scope}"

    @property
    def scope_name(self) -> str:
        if self.campaign_id:
            return f"{self.dataset.name} / campaign {self.campaign.name}"
        return self.dataset.name
