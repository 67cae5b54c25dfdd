"""Reads for campaigns and labels, scoped by the user's teams and roles.

Admins and viewers see every campaign of their teams; an annotator sees only the campaigns they
annotate, and no label but their own.
"""

from django.db.models import Q, QuerySet

from judgeapp.accounts.models import Membership, Team, User
from judgeapp.accounts.selectors import DATA_ROLES, team_ids
from judgeapp.campaigns.models import Assignment, Campaign, Label


def campaign_list(*, user: User, team: Team | None = None) -> QuerySet[Campaign]:
    if not user.is_authenticated:
        return Campaign.objects.none()
    readable = Q(team__in=team_ids(user=user, roles=DATA_ROLES))
    annotated = Q(team__in=team_ids(user=user, roles=[Membership.Role.ANNOTATOR]), annotators=user)
    qs = Campaign.objects.filter(readable | annotated).select_related("dataset").distinct()
    return qs.filter(team=team) if team is not None else qs


def label_list(*, user: User, campaign: Campaign | None = None) -> QuerySet[Label]:
    if not user.is_authenticated:
        return Label.objects.none()
    readable = Q(comparison__dataset__team__in=team_ids(user=user, roles=DATA_ROLES))
    own = Q(
        annotator=user,
        campaign__team__in=team_ids(user=user, roles=[Membership.Role.ANNOTATOR]),
    )
    qs = Label.objects.filter(readable | own)
    return qs.filter(campaign=campaign) if campaign is not None else qs


def assignment_list(*, user: User) -> QuerySet[Assignment]:
    """An annotator's own assignments, in campaigns they still annotate."""
    if not user.is_authenticated:
        return Assignment.objects.none()
    return Assignment.objects.filter(
        annotator=user,
        campaign__annotators=user,
        campaign__team__in=team_ids(user=user, roles=[Membership.Role.ANNOTATOR]),
    ).select_related("campaign", "comparison")


def annotated_campaigns(*, user: User) -> QuerySet[Campaign]:
    """Campaigns the user labels in (as an annotator of the campaign's team)."""
    if not user.is_authenticated:
        return Campaign.objects.none()
    return Campaign.objects.filter(
        annotators=user,
        team__in=team_ids(user=user, roles=[Membership.Role.ANNOTATOR]),
    )
