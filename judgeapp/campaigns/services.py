"""Writes for campaigns: set-up, the annotator's queue (next, submit, skip) and label edits.

The queue's promise: an item never gets more labels than the campaign's overlap, and two
annotators never hold the same last slot. Each item's slots live in one ``CampaignItem`` row
(``taken`` = labels given + live locks); taking a slot locks that row (``SKIP LOCKED``: concurrent
annotators pass over it to the next item instead of waiting), checks ``taken < overlap`` and
increments it in the same transaction.
"""

import hashlib
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from judgeapp.accounts.models import Membership, Team, User
from judgeapp.campaigns.models import (
    Assignment,
    Campaign,
    CampaignItem,
    GuidelineVersion,
    Label,
    LabelHistory,
)
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Dataset
from judgeapp.datasets.selectors import ItemFilters, comparison_search
from judgeapp.judging.verdicts import RANKING_TO_PREFERENCE

# What an annotator may answer on each scale, in the order shown on screen.
SCALE_VALUES = {
    Campaign.Scale.HELPSTEER3: range(-3, 4),
    Campaign.Scale.RANKING6: range(1, 7),
    Campaign.Scale.TERNARY: range(-1, 2),
    Campaign.Scale.BINARY: (-1, 1),
}


def _stable_hash(*parts) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:7], "big")


def campaign_create(
    *,
    team: Team,
    dataset: Dataset,
    name: str,
    by: User | None,
    annotators: list[User],
    filters: ItemFilters | None = None,
    guidelines: str = "",
    **options,
) -> Campaign:
    """A campaign over the dataset (or the items matching ``filters``), with its item slots."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("A campaign needs a name.")
    if dataset.team_id != team.pk:
        raise ApplicationError("The dataset must belong to the team.")
    if Campaign.objects.filter(team=team, name=name).exists():
        raise ApplicationError(f"The team already has a campaign named {name!r}.")
    members = set(
        Membership.objects.filter(
            team=team, role=Membership.Role.ANNOTATOR, user__in=annotators
        ).values_list("user_id", flat=True)
    )
    outside = [u.username for u in annotators if u.pk not in members]
    if outside:
        raise ApplicationError(f"Not annotators of the team: {', '.join(sorted(outside))}.")
    filters = filters or ItemFilters()
    campaign = Campaign(
        team=team, dataset=dataset, name=name, filters=filters.as_query(),
        guidelines=guidelines, created_by=by, **options,
    )  # fmt: skip
    if campaign.overlap < 1:
        raise ApplicationError("overlap: at least one label per item.")
    if campaign.scale not in SCALE_VALUES:
        raise ApplicationError(f"scale: expected one of {', '.join(SCALE_VALUES)}.")
    with transaction.atomic():
        campaign.save()
        campaign.annotators.set(annotators)
        if guidelines:
            GuidelineVersion.objects.create(
                campaign=campaign, version=1, text=guidelines, created_by=by
            )
        items = comparison_search(user=None, dataset=dataset, filters=filters)
        CampaignItem.objects.bulk_create(
            [
                CampaignItem(
                    campaign=campaign,
                    comparison_id=pk,
                    rank=pk
                    if campaign.assignment == Campaign.Assignment.LEAST_LABELLED
                    else _stable_hash(campaign.seed, pk),
                )
                for pk in items.values_list("id", flat=True).iterator(chunk_size=5000)
            ],
            batch_size=5000,
        )
        if not campaign.items.exists():
            raise ApplicationError("No items: the dataset is empty or no item matches the filters.")
    return campaign


def _expire_locks(campaign: Campaign, now) -> None:
    """Locks past their time go back to the pool (their slot is freed)."""
    stale = list(
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(campaign=campaign, status=Assignment.Status.LOCKED, locked_until__lt=now)
        .values_list("id", "comparison_id")
    )
    if not stale:
        return
    Assignment.objects.filter(pk__in=[a for a, _ in stale]).update(
        status=Assignment.Status.EXPIRED, finished_at=now
    )
    for _, comparison_id in stale:
        CampaignItem.objects.filter(
            campaign=campaign, comparison_id=comparison_id, taken__gt=0
        ).update(taken=F("taken") - 1)


def _check_annotator(campaign: Campaign, annotator: User) -> None:
    if campaign.status != Campaign.Status.OPEN:
        raise ApplicationError("The campaign is closed.")
    if not campaign.annotators.filter(pk=annotator.pk).exists():
        raise ApplicationError("You are not an annotator of this campaign.")


def assignment_next(*, campaign: Campaign, annotator: User) -> Assignment | None:
    """The annotator's current item, or a new one locked to them; None when nothing is left."""
    _check_annotator(campaign, annotator)
    now = timezone.now()
    current = (
        Assignment.objects.filter(
            campaign=campaign,
            annotator=annotator,
            status=Assignment.Status.LOCKED,
            locked_until__gte=now,
        )
        .order_by("id")
        .first()
    )
    if current is not None:
        return current
    with transaction.atomic():
        _expire_locks(campaign, now)
        seen = Assignment.objects.filter(
            campaign=campaign, annotator=annotator, comparison=OuterRef("comparison")
        ).exclude(status=Assignment.Status.EXPIRED)
        lock = (
            {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
        )
        item = (
            CampaignItem.objects.select_for_update(**lock)
            .filter(campaign=campaign, taken__lt=campaign.overlap)
            .filter(~Exists(seen))
            .order_by("taken", "rank")
            .first()
        )
        if item is None:
            return None
        CampaignItem.objects.filter(pk=item.pk).update(taken=F("taken") + 1)
        locked_until = now + timedelta(minutes=campaign.lock_minutes)
        swapped = campaign.randomise_order and bool(
            _stable_hash(campaign.seed, annotator.pk, item.comparison_id) & 1
        )
        assignment, created = Assignment.objects.get_or_create(
            campaign=campaign,
            comparison_id=item.comparison_id,
            annotator=annotator,
            defaults={"locked_until": locked_until, "shown_swapped": swapped},
        )
        if not created:  # an expired lock of theirs on this item: take it up again
            assignment.status = Assignment.Status.LOCKED
            assignment.locked_until = locked_until
            assignment.finished_at = None
            assignment.save(update_fields=["status", "locked_until", "finished_at"])
    return assignment


def _canonical(campaign: Campaign, answer: int, swapped: bool) -> int:
    values = SCALE_VALUES[campaign.scale]
    if isinstance(answer, bool) or not isinstance(answer, int) or answer not in values:
        shown = f"{values[0]}..{values[-1]}" if isinstance(values, range) else "-1 or 1"
        raise ApplicationError(f"answer: expected {shown} on the {campaign.scale} scale.")
    preference = (
        RANKING_TO_PREFERENCE[answer] if campaign.scale == Campaign.Scale.RANKING6 else answer
    )
    return -preference if swapped else preference


def _check_scores(campaign: Campaign, score_1, score_2) -> None:
    for field, value in (("score_1", score_1), ("score_2", score_2)):
        if value is None:
            if campaign.ask_scores:
                raise ApplicationError(f"{field}: this campaign asks a 1..5 score per response.")
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise ApplicationError(f"{field}: expected 1..5.")


def _label_values(label: Label) -> dict:
    return {
        "preference": label.preference,
        "score_1": label.score_1,
        "score_2": label.score_2,
        "rationale": label.rationale,
    }


def label_submit(
    *,
    assignment: Assignment,
    annotator: User,
    answer: int,
    score_1: int | None = None,
    score_2: int | None = None,
    rationale: str = "",
    seconds_spent: float | None = None,
) -> Label:
    """Record the annotator's answer, given in the order shown, as a label in canonical order."""
    campaign = assignment.campaign
    if assignment.annotator_id != annotator.pk:
        raise ApplicationError("This item is assigned to someone else.")
    _check_annotator(campaign, annotator)
    rationale = (rationale or "").strip()
    if campaign.rationale == Campaign.Rationale.REQUIRED and not rationale:
        raise ApplicationError("rationale: this campaign asks why.")
    shown_1, shown_2 = score_1, score_2
    _check_scores(campaign, shown_1, shown_2)
    swapped = assignment.shown_swapped
    preference = _canonical(campaign, answer, swapped)
    # Scores arrive for the responses as shown; stored for response_1 / response_2.
    score_1, score_2 = (shown_2, shown_1) if swapped else (shown_1, shown_2)
    now = timezone.now()
    with transaction.atomic():
        row = Assignment.objects.select_for_update().get(pk=assignment.pk)
        if row.status == Assignment.Status.DONE:
            raise ApplicationError("This item is labelled already; edit your label instead.")
        if row.status != Assignment.Status.LOCKED:
            # Expired (and swept) or skipped: its slot went back to the pool and may be gone.
            item = CampaignItem.objects.select_for_update().get(
                campaign=campaign, comparison_id=row.comparison_id
            )
            if item.taken >= campaign.overlap:
                raise ApplicationError(
                    "Your time on this item ran out and it has all its labels; take the next one."
                )
            CampaignItem.objects.filter(pk=item.pk).update(taken=F("taken") + 1)
        label = Label.objects.create(
            comparison_id=row.comparison_id,
            campaign=campaign,
            kind=Label.Kind.ANNOTATION,
            annotator=annotator,
            preference=preference,
            score_1=score_1,
            score_2=score_2,
            rationale=rationale,
            seconds_spent=seconds_spent,
            shown_swapped=swapped,
        )
        LabelHistory.objects.create(
            label=label, changed_by=annotator, before=None, after=_label_values(label)
        )
        Assignment.objects.filter(pk=row.pk).update(status=Assignment.Status.DONE, finished_at=now)
        CampaignItem.objects.filter(campaign=campaign, comparison_id=row.comparison_id).update(
            labels=F("labels") + 1
        )
    return label


def assignment_skip(*, assignment: Assignment, annotator: User, reason: str = "") -> Assignment:
    """Give the item back (its slot returns to the pool); it is not offered to them again."""
    if assignment.annotator_id != annotator.pk:
        raise ApplicationError("This item is assigned to someone else.")
    now = timezone.now()
    with transaction.atomic():
        changed = Assignment.objects.filter(
            pk=assignment.pk, status=Assignment.Status.LOCKED
        ).update(
            status=Assignment.Status.SKIPPED, skip_reason=(reason or "")[:500], finished_at=now
        )
        if not changed:
            raise ApplicationError("Only the item you hold can be skipped.")
        CampaignItem.objects.filter(
            campaign=assignment.campaign, comparison_id=assignment.comparison_id, taken__gt=0
        ).update(taken=F("taken") - 1)
    assignment.refresh_from_db()
    return assignment


def label_update(
    *,
    label: Label,
    by: User,
    answer: int,
    score_1: int | None = None,
    score_2: int | None = None,
    rationale: str | None = None,
) -> Label:
    """An annotator changes their own label (answer in the order they were shown); the change is
    kept in the label's history with who, when, before and after."""
    if label.kind != Label.Kind.ANNOTATION or label.annotator_id != by.pk:
        raise ApplicationError("Only your own labels can be changed.")
    campaign = label.campaign
    if campaign.status != Campaign.Status.OPEN:
        raise ApplicationError("The campaign is closed.")
    _check_scores(campaign, score_1, score_2)
    swapped = bool(label.shown_swapped)
    with transaction.atomic():
        label = Label.objects.select_for_update().get(pk=label.pk)
        before = _label_values(label)
        label.preference = _canonical(campaign, answer, swapped)
        label.score_1, label.score_2 = (score_2, score_1) if swapped else (score_1, score_2)
        if rationale is not None:
            label.rationale = rationale.strip()
        after = _label_values(label)
        if after != before:
            label.save()
            LabelHistory.objects.create(label=label, changed_by=by, before=before, after=after)
    return label
