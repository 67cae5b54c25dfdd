"""Reads for datasets and comparisons, scoped by the user's teams and roles."""

from django.db.models import QuerySet

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import DATA_ROLES, team_ids
from judgeapp.datasets.models import Comparison, Dataset, ImportJob


def dataset_list(*, user: User, team: Team | None = None) -> QuerySet[Dataset]:
    qs = Dataset.objects.filter(team__in=team_ids(user=user, roles=DATA_ROLES)).select_related(
        "team"
    )
    if team is not None:
        qs = qs.filter(team=team)
    return qs


def comparison_list(*, user: User, dataset: Dataset | None = None) -> QuerySet[Comparison]:
    qs = Comparison.objects.filter(dataset__team__in=team_ids(user=user, roles=DATA_ROLES))
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.order_by("id")


def import_job_list(*, user: User, dataset: Dataset | None = None) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.filter(dataset__team__in=team_ids(user=user, roles=DATA_ROLES))
    if dataset is not None:
        qs = qs.filter(dataset=dataset)
    return qs.select_related("dataset")
