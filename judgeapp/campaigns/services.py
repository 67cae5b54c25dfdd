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
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from judgeapp.accounts.models import Team, User
from judgeapp.accounts.selectors import team_annotators
from judgeapp.campaigns import scales
from judgeapp.campaigns.models import (
    Assignment,
    Campaign,
    CampaignItem,
    GoldItem,
    GuidelineVersion,
    Label,
    LabelHistory,
)
from judgeapp.campaigns.selectors import review_items
from judgeapp.core.errors import ApplicationError, Forbidden
from judgeapp.datasets.models import Comparison, Dataset
from judgeapp.datasets.selectors import ItemFilters, comparison_search
from judgeapp.judging.models import Judge


def _stable_hash(*parts) -> int:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:7], "big")


def _check_annotators(team: Team, annotators: list[User]) -> None:
    members = set(
        team_annotators(team=team)
        .filter(pk__in=[u.pk for u in annotators])
        .values_list("pk", flat=True)
    )
    outside = [u.username for u in annotators if u.pk not in members]
    if outside:
        raise ApplicationError(
            f"annotators: not annotators of the team: {', '.join(sorted(outside))}."
        )


def _check_options(campaign: Campaign) -> None:
    if campaign.overlap < 1:
        raise ApplicationError("overlap: at least one label per item.")
    if campaign.scale not in scales.SCALES:
        raise ApplicationError(f"scale: expected one of {', '.join(scales.SCALES)}.")
    if not 0.0 <= campaign.gold_rate <= 1.0:
        raise ApplicationError("gold_rate: expected a share between 0 and 1.")
    if campaign.lock_minutes < 1:
        raise ApplicationError("lock_minutes: at least one minute.")
    if campaign.min_seconds < 0:
        raise ApplicationError("min_seconds: cannot be negative.")


def _rank(campaign: Campaign, comparison_id: int) -> int:
    if campaign.assignment == Campaign.Assignment.LEAST_LABELLED:
        return comparison_id
    return _stable_hash(campaign.seed, comparison_id)


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
        raise ApplicationError("name: a campaign needs a name.")
    if dataset.team_id != team.pk:
        raise ApplicationError("dataset: the dataset must belong to the team.")
    if Campaign.objects.filter(team=team, name=name).exists():
        raise ApplicationError(f"name: the team already has a campaign named {name!r}.")
    _check_annotators(team, annotators)
    filters = filters or ItemFilters()
    campaign = Campaign(
        team=team, dataset=dataset, name=name, filters=filters.as_query(),
        guidelines=guidelines, created_by=by, **options,
    )  # fmt: skip
    _check_options(campaign)
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
                    wanted=campaign.overlap,
                    rank=_rank(campaign, pk),
                )
                for pk in items.values_list("id", flat=True).iterator(chunk_size=5000)
            ],
            batch_size=5000,
        )
        if not campaign.items.exists():
            raise ApplicationError("No items: the dataset is empty or no item matches the filters.")
    return campaign


# Settings that may change once items have been handed out, and those that may not.
_ALWAYS = (
    "name", "guidelines", "ask_scores", "rationale", "overlap", "lock_minutes", "min_seconds",
    "deadline", "randomise_order", "show_model_verdicts", "gold_rate", "principles",
)  # fmt: skip
_BEFORE_FIRST_ITEM = ("scale", "assignment", "seed")


def campaign_update(
    *, campaign: Campaign, by: User, annotators: list[User] | None = None, **changes
) -> Campaign:
    """Change a campaign's settings. Guidelines are versioned; a changed overlap moves every
    item's wanted labels by the same amount (items given more overlap keep their extra); the
    scale and the assignment order are fixed once the first item has been handed out."""
    unknown = set(changes) - set(_ALWAYS) - set(_BEFORE_FIRST_ITEM)
    if unknown:
        raise ApplicationError(f"Cannot change: {', '.join(sorted(unknown))}.")
    started = campaign.assignments.exists()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        before = {name: getattr(campaign, name) for name in changes}
        for name, value in changes.items():
            setattr(campaign, name, value)
        fixed = [n for n in _BEFORE_FIRST_ITEM if n in changes and changes[n] != before[n]]
        if started and fixed:
            raise ApplicationError(
                f"{fixed[0]}: cannot change once annotators have started; start a new campaign."
            )
        campaign.name = (campaign.name or "").strip()
        if not campaign.name:
            raise ApplicationError("name: a campaign needs a name.")
        if (
            Campaign.objects.filter(team_id=campaign.team_id, name=campaign.name)
            .exclude(pk=campaign.pk)
            .exists()
        ):
            raise ApplicationError(
                f"name: the team already has a campaign named {campaign.name!r}."
            )
        _check_options(campaign)
        if annotators is not None:
            _check_annotators(campaign.team, annotators)
            campaign.annotators.set(annotators)
        campaign.save()
        if "guidelines" in changes and campaign.guidelines != before["guidelines"]:
            last = campaign.guideline_versions.order_by("-version").first()
            GuidelineVersion.objects.create(
                campaign=campaign,
                version=(last.version if last else 0) + 1,
                text=campaign.guidelines,
                created_by=by,
            )
        if "overlap" in changes and campaign.overlap != before["overlap"]:
            delta = campaign.overlap - before["overlap"]
            campaign.items.filter(wanted__gt=0).update(
                wanted=Greatest(F("wanted") + delta, Value(1))
            )
        if any(n in changes and changes[n] != before[n] for n in ("assignment", "seed")):
            for item in campaign.items.only("pk", "comparison_id").iterator(chunk_size=5000):
                CampaignItem.objects.filter(pk=item.pk).update(
                    rank=_rank(campaign, item.comparison_id)
                )
    return campaign


def campaign_set_status(*, campaign: Campaign, by: User, status: str) -> Campaign:
    """Close (no more items handed out or labels taken; live locks released) or reopen."""
    if status not in Campaign.Status.values:
        raise ApplicationError(f"status: expected one of {', '.join(Campaign.Status.values)}.")
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status == status:
            return campaign
        campaign.status = status
        campaign.save(update_fields=["status"])
        if status == Campaign.Status.CLOSED:
            _release_locks(campaign, Assignment.objects.filter(status=Assignment.Status.LOCKED))
    return campaign


def parse_gold(text: str) -> list[tuple[int, str, int]]:
    """Lines of ``<item id> <expected preference -3..3>`` (comma, tab or space between; ``#``
    starts a comment) as (line number, item id, preference). Errors name every bad line."""
    entries, errors, seen = [], [], {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        if len(parts) != 2:
            errors.append(f"line {number}: expected '<item id> <preference -3..3>'")
            continue
        item, value = parts
        try:
            preference = int(value)
        except ValueError:
            preference = None
        if preference is None or not -3 <= preference <= 3:
            errors.append(f"line {number}: preference {value!r} is not a whole number -3..3")
            continue
        if item in seen:
            errors.append(f"line {number}: item {item!r} is listed already on line {seen[item]}")
            continue
        seen[item] = number
        entries.append((number, item, preference))
    if errors:
        raise ApplicationError(_capped(errors))
    return entries


def _capped(errors: list[str], cap: int = 20) -> str:
    more = f"; and {len(errors) - cap} more" if len(errors) > cap else ""
    return "; ".join(errors[:cap]) + more + "."


def gold_set(
    *, campaign: Campaign, by: User, entries: list[tuple[int, str, int]], unit: str = "line"
) -> int:
    """Replace the campaign's gold items with ``entries`` ((line, item id, expected preference),
    as ``parse_gold`` gives; ``unit`` names the line in errors). Gold items leave the overlap
    pool: every annotator gets each once, mixed in at the campaign's gold rate, to measure
    accuracy. Returns the number of gold items."""
    ids = [item for _, item, _ in entries]
    found = dict(
        Comparison.objects.filter(dataset=campaign.dataset_id, external_id__in=ids).values_list(
            "external_id", "pk"
        )
    )
    errors = [
        f"{unit} {number}: no item {item!r} in dataset {campaign.dataset.name!r}"
        for number, item, _ in entries
        if item not in found
    ]
    labelled = set(
        campaign.items.filter(comparison_id__in=found.values(), taken__gt=0).values_list(
            "comparison_id", flat=True
        )
    )
    errors += [
        f"{unit} {number}: item {item!r} is labelled already in this campaign; it cannot be gold"
        for number, item, _ in entries
        if found.get(item) in labelled
    ]
    if errors:
        raise ApplicationError(_capped(errors))
    chosen = {found[item]: preference for _, item, preference in entries}
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        dropped = list(
            campaign.gold_items.exclude(comparison_id__in=chosen).values_list(
                "comparison_id", flat=True
            )
        )
        campaign.gold_items.exclude(comparison_id__in=chosen).delete()
        # Items no longer gold rejoin the pool (those never in it stay out), their gold labels
        # counted as labels given.
        given = Subquery(
            Label.objects.filter(
                campaign=campaign,
                kind=Label.Kind.ANNOTATION,
                comparison_id=OuterRef("comparison_id"),
            )
            .order_by()
            .values("comparison_id")
            .annotate(n=Count("id"))
            .values("n"),
            output_field=IntegerField(),
        )
        campaign.items.filter(comparison_id__in=dropped, wanted=0).update(
            wanted=campaign.overlap, labels=Coalesce(given, 0), taken=Coalesce(given, 0)
        )
        for comparison_id, preference in chosen.items():
            GoldItem.objects.update_or_create(
                campaign=campaign,
                comparison_id=comparison_id,
                defaults={"expected_preference": preference},
            )
        campaign.items.filter(comparison_id__in=chosen).update(wanted=0)
    return len(chosen)


def campaign_add_overlap(
    *, campaign: Campaign, by: User, extra: int = 1, judge: Judge | None = None
) -> int:
    """Ask ``extra`` more labels for the items the annotators (or annotators and ``judge``)
    disagree on and no reviewer has adjudicated; returns how many items were given more."""
    if not 1 <= extra <= 10:
        raise ApplicationError("extra: between 1 and 10 more labels per item.")
    if campaign.status != Campaign.Status.OPEN:
        raise ApplicationError("The campaign is closed; reopen it first.")
    # Items a reviewer has decided are settled: they get no more labels.
    disagreed = review_items(campaign=campaign, judge=judge).values("comparison_id")
    return campaign.items.filter(comparison_id__in=disagreed, wanted__gt=0).update(
        wanted=Least(F("wanted") + extra, Value(32000))
    )


def label_adjudicate(
    *, campaign: Campaign, comparison_id: int, by: User, answer: int, rationale: str = ""
) -> Label:
    """A reviewer's decision on an item (answer on the campaign's scale, response 1 first): kept
    apart from the annotators' labels and used as the gold label in reports; changes are kept
    in its history."""
    if not campaign.items.filter(comparison_id=comparison_id).exists():
        raise ApplicationError("comparison: not an item of this campaign.")
    if not scales.is_answer(campaign.scale, answer):
        raise ApplicationError(
            f"answer: expected {scales.expected(campaign.scale)} on the {campaign.scale} scale."
        )
    preference = scales.to_preference(campaign.scale, answer, swapped=False)
    with transaction.atomic():
        label = (
            Label.objects.select_for_update()
            .filter(campaign=campaign, comparison_id=comparison_id, kind=Label.Kind.ADJUDICATION)
            .first()
        )
        before = _label_values(label) if label else None
        if label is None:
            label = Label(campaign=campaign, comparison_id=comparison_id)
            label.kind = Label.Kind.ADJUDICATION
        label.annotator = by
        label.preference = preference
        label.rationale = (rationale or "").strip()
        after = _label_values(label)
        if after != before:
            label.save()
            LabelHistory.objects.create(label=label, changed_by=by, before=before, after=after)
    return label


def _release_locks(campaign: Campaign, locks) -> int:
    """End these locks of the campaign (expired) and free the slots they held."""
    held = list(
        locks.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
        .filter(campaign=campaign, status=Assignment.Status.LOCKED)
        .values_list("id", "comparison_id", "is_gold")
    )
    if not held:
        return 0
    Assignment.objects.filter(pk__in=[pk for pk, _, _ in held]).update(
        status=Assignment.Status.EXPIRED, finished_at=timezone.now()
    )
    for _, comparison_id, is_gold in held:
        if not is_gold:
            CampaignItem.objects.filter(
                campaign=campaign, comparison_id=comparison_id, taken__gt=0
            ).update(taken=F("taken") - 1)
    return len(held)


def _expire_locks(campaign: Campaign, now) -> int:
    """Locks past their time go back to the pool (their slots are freed); how many."""
    return _release_locks(campaign, Assignment.objects.filter(locked_until__lt=now))


def locks_expire_all() -> int:
    """Sweep every open campaign's locks that ran out (the beat task, each minute)."""
    now = timezone.now()
    swept = 0
    stale = Assignment.objects.filter(status=Assignment.Status.LOCKED, locked_until__lt=now)
    for campaign in Campaign.objects.filter(
        status=Campaign.Status.OPEN, pk__in=stale.values("campaign_id")
    ):
        with transaction.atomic():
            swept += _expire_locks(campaign, now)
    return swept


def _check_annotator(campaign: Campaign, annotator: User) -> None:
    if campaign.status != Campaign.Status.OPEN:
        raise ApplicationError("The campaign is closed.")
    if not campaign.annotators.filter(pk=annotator.pk).exists():
        raise Forbidden("You are not an annotator of this campaign.")


def _gold_turn(campaign: Campaign, annotator: User) -> bool:
    """Whether this annotator's next item is a gold one: a seeded draw per (annotator, n-th
    item), so the share of gold items follows the campaign's rate."""
    if campaign.gold_rate <= 0:
        return False
    n = Assignment.objects.filter(campaign=campaign, annotator=annotator).count()
    draw = _stable_hash("gold", campaign.seed, annotator.pk, n) / float(1 << 56)
    return draw < campaign.gold_rate


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
    seen = Assignment.objects.filter(
        campaign=campaign, annotator=annotator, comparison=OuterRef("comparison")
    ).exclude(status=Assignment.Status.EXPIRED)
    with transaction.atomic():
        comparison_id, is_gold = None, False
        if _gold_turn(campaign, annotator):
            comparison_id = (
                campaign.gold_items.filter(~Exists(seen))
                .order_by("id")
                .values_list("comparison_id", flat=True)
                .first()
            )
            is_gold = comparison_id is not None
        if comparison_id is None:
            comparison_id = _take_slot(campaign, seen)
        if comparison_id is None:
            # Slots held by locks that ran out count as taken until swept: sweep, look again.
            # (The beat task sweeps every campaign each minute as well.)
            if not _expire_locks(campaign, now):
                return None
            comparison_id = _take_slot(campaign, seen)
            if comparison_id is None:
                return None
        swapped = campaign.randomise_order and bool(
            _stable_hash(campaign.seed, annotator.pk, comparison_id) & 1
        )
        # One statement: a new assignment, or this annotator's expired lock on the item taken
        # up again (the item may have joined or left the gold list since).
        (assignment,) = Assignment.objects.bulk_create(
            [
                Assignment(
                    campaign=campaign,
                    comparison_id=comparison_id,
                    annotator=annotator,
                    status=Assignment.Status.LOCKED,
                    locked_until=now + timedelta(minutes=campaign.lock_minutes),
                    shown_swapped=swapped,
                    is_gold=is_gold,
                    finished_at=None,
                )
            ],
            update_conflicts=True,
            unique_fields=["campaign", "comparison", "annotator"],
            update_fields=["status", "locked_until", "finished_at", "is_gold"],
        )
    return assignment


def _take_slot(campaign: Campaign, seen) -> int | None:
    """Lock the first item with a free slot (least taken, then rank) that this annotator has not
    had, take one of its slots; its comparison id, or None."""
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    item = (
        CampaignItem.objects.select_for_update(**lock)
        .filter(campaign=campaign, taken__lt=F("wanted"))
        .filter(~Exists(seen))
        .order_by("taken", "rank")
        .values_list("pk", "comparison_id")
        .first()
    )
    if item is None:
        return None
    CampaignItem.objects.filter(pk=item[0]).update(taken=F("taken") + 1)
    return item[1]


def _canonical(campaign: Campaign, answer: int, swapped: bool) -> int:
    if not scales.is_answer(campaign.scale, answer):
        raise ApplicationError(
            f"answer: expected {scales.expected(campaign.scale)} on the {campaign.scale} scale."
        )
    return scales.to_preference(campaign.scale, answer, swapped=swapped)


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
        if row.status != Assignment.Status.LOCKED and not row.is_gold:
            # Expired (and swept) or skipped: its slot went back to the pool and may be gone.
            item = CampaignItem.objects.select_for_update().get(
                campaign=campaign, comparison_id=row.comparison_id
            )
            if item.taken >= item.wanted:
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
        if not row.is_gold:
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
        if not assignment.is_gold:
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
        raise Forbidden("Only your own labels can be changed.")
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
