"""Helpers the campaign tests share: annotators of a team, datasets and campaigns over them."""

from judgeapp.accounts.models import Membership
from judgeapp.campaigns.services import campaign_create
from tests.factories import ComparisonFactory, DatasetFactory, MembershipFactory


def annotators_named(team, *names):
    return [
        MembershipFactory(team=team, role=Membership.Role.ANNOTATOR, user__username=name).user
        for name in names
    ]


def dataset_with(team, items):
    """A dataset of ``items`` comparisons with external ids c-0, c-1, ..."""
    dataset = DatasetFactory(team=team)
    for i in range(items):
        ComparisonFactory(dataset=dataset, external_id=f"c-{i}")
    return dataset


def make_campaign(team, admin, annotators, *, items=4, name="camp", dataset=None, **options):
    """A campaign over ``dataset``, or over a new dataset of ``items`` comparisons."""
    return campaign_create(
        team=team, dataset=dataset or dataset_with(team, items), name=name, by=admin,
        annotators=annotators, **options,
    )  # fmt: skip
