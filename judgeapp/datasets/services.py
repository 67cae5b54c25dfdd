"""Writes for datasets and comparisons."""

from collections.abc import Iterable

from django.db import transaction

from judgeapp.accounts.models import Team, User
from judgeapp.campaigns.models import Label
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Comparison, Dataset


def dataset_create(
    *, team: Team, name: str, description: str = "", by: User | None = None
) -> Dataset:
    name = name.strip()
    if not name:
        raise ApplicationError("A dataset needs a name.")
    if Dataset.objects.filter(team=team, name=name).exists():
        raise ApplicationError(f"The team already has a dataset named {name!r}.")
    return Dataset.objects.create(team=team, name=name, description=description, created_by=by)


@transaction.atomic
def comparisons_add(*, dataset: Dataset, records: Iterable[dict]) -> tuple[int, int]:
    """Add records in the native shape (already validated); ids already present are skipped.

    Returns (created, duplicates). Labels embedded in new records are added as imported labels.
    """
    records = list(records)
    existing = set(
        Comparison.objects.filter(
            dataset=dataset, external_id__in=[r["id"] for r in records]
        ).values_list("external_id", flat=True)
    )
    fresh = [r for r in records if r["id"] not in existing]
    created = Comparison.objects.bulk_create(
        Comparison(
            dataset=dataset,
            external_id=r["id"],
            conversation=r["conversation"],
            response_1=r["response_1"],
            response_2=r["response_2"],
            principles=r.get("principles", []),
            metadata=r.get("metadata", {}),
        )
        for r in fresh
    )
    by_id = {c.external_id: c for c in Comparison.objects.filter(
        dataset=dataset, external_id__in=[r["id"] for r in fresh]
    )}  # fmt: skip
    Label.objects.bulk_create(
        Label(
            comparison=by_id[r["id"]],
            kind=Label.Kind.IMPORTED,
            annotator_name=label["annotator"],
            preference=label["preference"],
            score_1=label.get("score_1"),
            score_2=label.get("score_2"),
            rationale=label.get("rationale", ""),
        )
        for r in fresh
        for label in r.get("labels", [])
    )
    return len(created), len(records) - len(fresh)
