"""Reads for campaigns and labels, scoped by the user's teams and roles.

Admins and viewers see every campaign of their teams; an annotator sees only the campaigns they
annotate, and no label but their own.
"""

import statistics
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, Least, Sign
from django.utils import timezone

from judgeapp.accounts.models import Membership, Team, User
from judgeapp.accounts.selectors import ADMIN_ROLES, DATA_ROLES, team_ids
from judgeapp.campaigns.models import (
    Assignment,
    Campaign,
    GoldItem,
    GuidelineVersion,
    Label,
    LabelHistory,
)
from judgeapp.judging.models import Judge, Judgment


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


def campaign_admin_list(*, user: User, team: Team | None = None) -> QuerySet[Campaign]:
    """Campaigns the user may change: those of the teams they administer."""
    qs = Campaign.objects.filter(team__in=team_ids(user=user, roles=ADMIN_ROLES))
    return qs.filter(team=team) if team is not None else qs


def guideline_versions(*, campaign: Campaign) -> QuerySet[GuidelineVersion]:
    return campaign.guideline_versions.select_related("created_by").order_by("-version")


def own_labels(*, campaign: Campaign, user: User) -> QuerySet[Label]:
    """The user's own labels in the campaign, oldest first (the order prev/next walks)."""
    return Label.objects.filter(
        campaign=campaign, kind=Label.Kind.ANNOTATION, annotator=user
    ).order_by("id")


def label_history(*, label: Label) -> QuerySet[LabelHistory]:
    return label.history.select_related("changed_by").order_by("changed_at", "id")


def item_verdicts(*, campaign: Campaign, comparison_id: int) -> list[Judgment]:
    """The campaign team's verdicts on the item (reviewers see them all)."""
    return list(
        Judgment.objects.filter(
            comparison_id=comparison_id,
            status=Judgment.Status.DONE,
            preference__isnull=False,
            run__team=campaign.team_id,
        )
        .select_related("run__judge")
        .order_by("run__judge__name", "swapped", "sample")
    )


def visible_verdicts(*, campaign: Campaign, comparison_id: int) -> list[Judgment]:
    """Model verdicts an annotator may see on the item: none unless the campaign shows them."""
    if not campaign.show_model_verdicts:
        return []
    return item_verdicts(campaign=campaign, comparison_id=comparison_id)


_SIGN = Sign("preference")


def disagreed_items(*, campaign: Campaign, judge: Judge | None = None) -> QuerySet:
    """Items of the campaign whose annotators' labels fall on different sides (response 1
    better / tie / response 2 better); with ``judge``, also those where the judge's side (of
    the mean of its verdicts on the item, both orders and samples) differs from an annotator's.
    Rows: comparison_id, low, high (the sides as -1/0/1), labels."""
    rows = (
        Label.objects.filter(campaign=campaign, kind=Label.Kind.ANNOTATION)
        .values("comparison_id")
        .annotate(low=Min(_SIGN), high=Max(_SIGN), labels=Count("id"))
    )
    if judge is None:
        return rows.filter(low__lt=F("high")).order_by("comparison_id")
    verdict = (
        Judgment.objects.filter(
            comparison_id=OuterRef("comparison_id"),
            run__judge=judge,
            status=Judgment.Status.DONE,
            preference__isnull=False,
        )
        .order_by()
        .values("comparison_id")
        .annotate(mean=Avg("preference"))
        .values("mean")
    )
    rows = rows.annotate(judge_mean=Subquery(verdict, output_field=FloatField()))
    judge_side = Sign("judge_mean")
    judge_differs = Q(judge_mean__isnull=False) & (Q(low__lt=judge_side) | Q(high__gt=judge_side))
    return rows.filter(Q(low__lt=F("high")) | judge_differs).order_by("comparison_id")


def review_items(
    *, campaign: Campaign, judge: Judge | None = None, pending_only: bool = True
) -> QuerySet:
    """The review queue: disagreed items, those without an adjudicated label first unless
    ``pending_only`` leaves the decided ones out."""
    rows = disagreed_items(campaign=campaign, judge=judge)
    decided = Label.objects.filter(
        campaign=campaign, kind=Label.Kind.ADJUDICATION, comparison_id=OuterRef("comparison_id")
    )
    rows = rows.annotate(decided=Exists(decided))
    if pending_only:
        rows = rows.filter(decided=False)
    return rows.order_by("decided", "comparison_id")


def item_labels(*, campaign: Campaign, comparison_id: int) -> QuerySet[Label]:
    """Every label of the campaign on the item (reviewers' view): annotators' and adjudicated."""
    return (
        Label.objects.filter(campaign=campaign, comparison_id=comparison_id)
        .select_related("annotator")
        .order_by("kind", "id")
    )


class Median(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass
class AnnotatorStats:
    username: str
    done: int = 0
    skipped: int = 0
    locked: int = 0
    median_seconds: float | None = None
    gold_done: int = 0
    gold_correct: int = 0
    too_fast: int = 0
    first_preferred: int = 0
    decided: int = 0  # answers with a side (not a tie)
    ties: int = 0

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_done if self.gold_done else None

    @property
    def too_fast_share(self) -> float | None:
        return self.too_fast / self.done if self.done else None

    @property
    def first_position_rate(self) -> float | None:
        """Of the answers with a side, the share that chose the response shown first."""
        return self.first_preferred / self.decided if self.decided else None

    @property
    def tie_rate(self) -> float | None:
        return self.ties / self.done if self.done else None


@dataclass
class Progress:
    items: int
    complete: int
    labels_wanted: int
    labels_given: int
    locked: int
    gold_items: int
    adjudicated: int
    annotators: list[AnnotatorStats]

    @property
    def percent(self) -> float:
        return 100.0 * self.labels_given / self.labels_wanted if self.labels_wanted else 100.0


# Labels the items want, and those given (an item's extra labels beyond its want not counted).
_LABELS = {
    "labels_wanted": Coalesce(Sum("wanted"), 0),
    "labels_given": Coalesce(Sum(Least("labels", "wanted")), 0),
}


def campaign_progress(*, campaign: Campaign) -> Progress:
    """Progress overall and per annotator, in a fixed number of queries whatever the size."""
    now = timezone.now()
    totals = campaign.items.filter(wanted__gt=0).aggregate(
        items=Count("id"), complete=Count("id", filter=Q(labels__gte=F("wanted"))), **_LABELS
    )
    gold = GoldItem.objects.filter(
        campaign=campaign, comparison_id=OuterRef("comparison_id")
    ).values("expected_preference")[:1]
    labels = (
        Label.objects.filter(campaign=campaign, kind=Label.Kind.ANNOTATION)
        .annotate(expected_side=Sign(Subquery(gold)), side=_SIGN)
        .values("annotator_id")
    )
    shown_first = Q(preference__lt=0, shown_swapped=False) | Q(preference__gt=0, shown_swapped=True)
    per_label = labels.annotate(
        done=Count("id"),
        gold_done=Count("id", filter=Q(expected_side__isnull=False)),
        gold_correct=Count("id", filter=Q(expected_side=F("side"))),
        too_fast=Count("id", filter=Q(seconds_spent__lt=campaign.min_seconds)),
        first_preferred=Count("id", filter=shown_first),
        decided=Count("id", filter=~Q(preference=0)),
        ties=Count("id", filter=Q(preference=0)),
    ).order_by()
    postgres = connection.vendor == "postgresql"
    if postgres:
        per_label = per_label.annotate(median=Median("seconds_spent"))
    per_assignment = (
        Assignment.objects.filter(campaign=campaign)
        .values("annotator_id")
        .annotate(
            skipped=Count("id", filter=Q(status=Assignment.Status.SKIPPED)),
            locked=Count("id", filter=Q(status=Assignment.Status.LOCKED, locked_until__gte=now)),
        )
        .order_by()
    )
    people = {
        pk: AnnotatorStats(username)
        for pk, username in campaign.annotators.values_list("pk", "username")
    }
    names = dict(
        User.objects.filter(
            Q(labels__campaign=campaign, labels__kind=Label.Kind.ANNOTATION)
            | Q(assignments__campaign=campaign)
        )
        .values_list("pk", "username")
        .distinct()
    )
    for pk, username in names.items():
        people.setdefault(pk, AnnotatorStats(username))
    for row in per_label:
        stats = people.get(row["annotator_id"])
        if stats is None:  # an account since deleted
            continue
        for name in ("done", "gold_done", "gold_correct", "too_fast", "first_preferred"):
            setattr(stats, name, row[name])
        stats.decided, stats.ties = row["decided"], row["ties"]
        stats.median_seconds = row.get("median")
    if not postgres:
        times: dict[int, list[float]] = {}
        for pk, seconds in labels.filter(seconds_spent__isnull=False).values_list(
            "annotator_id", "seconds_spent"
        ):
            times.setdefault(pk, []).append(seconds)
        for pk, values in times.items():
            if pk in people:
                people[pk].median_seconds = statistics.median(values)
    locked = 0
    for row in per_assignment:
        stats = people.get(row["annotator_id"])
        locked += row["locked"]
        if stats is not None:
            stats.skipped, stats.locked = row["skipped"], row["locked"]
    return Progress(
        items=totals["items"],
        complete=totals["complete"],
        labels_wanted=totals["labels_wanted"],
        labels_given=totals["labels_given"],
        locked=locked,
        gold_items=campaign.gold_items.count(),
        adjudicated=Label.objects.filter(campaign=campaign, kind=Label.Kind.ADJUDICATION).count(),
        annotators=sorted(people.values(), key=lambda s: s.username),
    )


def annotator_progress(*, campaign: Campaign, user: User) -> dict:
    """What the labelling page shows: the annotator's own counts and the campaign's share done."""
    totals = campaign.items.filter(wanted__gt=0).aggregate(**_LABELS)
    mine = own_labels(campaign=campaign, user=user).count()
    wanted, given = totals["labels_wanted"], totals["labels_given"]
    percent = 100.0 * given / wanted if wanted else 100.0
    return {"mine": mine, "percent": percent, "wanted": wanted, "given": given}
