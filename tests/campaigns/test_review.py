"""Reviewing a campaign: disagreements, more labels where people disagree, adjudication, the
progress dashboard, and what annotators see of their own labels and of model verdicts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from judgeapp.campaigns.models import Assignment, Campaign, CampaignItem, Label, LabelHistory
from judgeapp.campaigns.selectors import (
    campaign_progress,
    disagreed_items,
    label_history,
    own_labels,
    review_items,
    visible_verdicts,
)
from judgeapp.campaigns.services import (
    assignment_next,
    assignment_skip,
    campaign_add_overlap,
    campaign_set_status,
    campaign_update,
    gold_set,
    label_adjudicate,
    label_submit,
    label_update,
    parse_gold,
)
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import ItemFilters
from judgeapp.judging.models import Judgment
from tests.campaigns.conftest import annotators_named, make_campaign
from tests.factories import (
    ComparisonFactory,
    DatasetFactory,
    JudgeFactory,
    JudgeRunFactory,
    JudgmentFactory,
    LabelFactory,
)

pytestmark = pytest.mark.django_db


def items_of(campaign):
    return list(campaign.dataset.comparisons.order_by("id"))


def labels_on(campaign, item, *answers):
    """Annotators' labels on the item, one per preference given, by annotators made for them."""
    for preference in answers:
        LabelFactory(campaign=campaign, comparison=item, preference=preference)


def set_gold(campaign, by, text):
    """The gold list as an admin pastes it."""
    return gold_set(campaign=campaign, by=by, entries=parse_gold(text))


def listed(rows):
    return [row["comparison_id"] for row in rows]


def wanted(campaign):
    return dict(
        CampaignItem.objects.filter(campaign=campaign).values_list(
            "comparison__external_id", "wanted"
        )
    )


def label_all(campaign, user, answers):
    """The user takes every item the queue gives them and answers it (by external id)."""
    while (assignment := assignment_next(campaign=campaign, annotator=user)) is not None:
        label_submit(
            assignment=assignment, annotator=user, answer=answers[assignment.comparison.external_id]
        )


# disagreed_items


def test_items_labelled_on_different_sides_are_disagreed_whatever_the_strengths(
    team, admin, annotator
):
    campaign = make_campaign(team, admin, [annotator], items=6)
    c0, c1, c2, c3, c4, c5 = items_of(campaign)
    labels_on(campaign, c0, -1, 2)  # response 1 against response 2
    labels_on(campaign, c1, -1, -3)  # the same side, different strengths
    labels_on(campaign, c2, 0, 1)  # a tie against response 2
    labels_on(campaign, c3, 2, 2, -1)  # two against one
    labels_on(campaign, c4, 3)  # a single label
    labels_on(campaign, c5, 0, 0)  # both ties
    # Neither an adjudication nor another campaign's labels make people disagree.
    label_adjudicate(campaign=campaign, comparison_id=c1.pk, by=admin, answer=3)
    other = make_campaign(team, admin, [annotator], name="other", dataset=campaign.dataset)
    labels_on(other, c1, 3)
    LabelFactory(campaign=None, comparison=c5, kind=Label.Kind.IMPORTED, preference=3)

    rows = list(disagreed_items(campaign=campaign))
    assert listed(rows) == [c0.pk, c2.pk, c3.pk]
    assert [(row["low"], row["high"], row["labels"]) for row in rows] == [
        (-1, 1, 2),
        (0, 1, 2),
        (-1, 1, 3),
    ]
    assert listed(disagreed_items(campaign=other)) == []


def test_with_a_judge_items_where_its_mean_verdict_takes_another_side_are_disagreed(
    team, admin, annotator
):
    campaign = make_campaign(team, admin, [annotator], items=6)
    c0, c1, c2, c3, c4, c5 = items_of(campaign)
    judge = JudgeFactory(team=team, name="genrm")
    run = JudgeRunFactory(judge=judge, dataset=campaign.dataset)

    def verdicts(item, *preferences, **fields):
        for n, preference in enumerate(preferences):
            JudgmentFactory(
                run=run, comparison=item, preference=preference, swapped=bool(n % 2),
                sample=n // 2, **fields,
            )  # fmt: skip

    labels_on(campaign, c0, -1, -2)
    verdicts(c0, 2, 1)  # the judge: response 2 (mean 1.5)
    labels_on(campaign, c1, -1, -3)
    verdicts(c1, -2, -1, 1)  # the judge agrees on the mean (-2/3), if not in every verdict
    labels_on(campaign, c2, 1, 2)
    verdicts(c2, -2, 2)  # the judge's mean is a tie
    labels_on(campaign, c3, -1, -1)  # no verdict
    labels_on(campaign, c4, -2, -1)
    verdicts(c4, -1)
    # Failed and unparsed verdicts do not count.
    JudgmentFactory(run=run, comparison=c4, swapped=True, preference=3, status="failed")
    JudgmentFactory(run=run, comparison=c4, sample=1, preference=None)
    labels_on(campaign, c5, -1, 1)  # annotators disagree: listed whatever the judge says
    verdicts(c5, -3)

    assert listed(disagreed_items(campaign=campaign, judge=judge)) == [c0.pk, c2.pk, c5.pk]
    assert listed(disagreed_items(campaign=campaign)) == [c5.pk]
    # Another judge's verdicts are its own.
    critic = JudgeFactory(team=team, name="critic")
    JudgmentFactory(
        run=JudgeRunFactory(judge=critic, dataset=campaign.dataset), comparison=c1, preference=3
    )
    assert listed(disagreed_items(campaign=campaign, judge=critic)) == [c1.pk, c5.pk]


# campaign_add_overlap


def test_more_overlap_goes_to_disagreed_items_only_and_the_queue_hands_them_out(team, admin):
    a, b, c = annotators_named(team, "ann", "bob", "cid")
    campaign = make_campaign(team, admin, [a, b, c], items=4, overlap=2, randomise_order=False)
    set_gold(campaign, admin, "c-3 1")
    label_all(campaign, a, {"c-0": -1, "c-1": -1, "c-2": 1})
    label_all(campaign, b, {"c-0": 2, "c-1": -3, "c-2": 1})
    assert assignment_next(campaign=campaign, annotator=c) is None  # every item has its labels

    assert campaign_add_overlap(campaign=campaign, by=admin, extra=1) == 1
    assert wanted(campaign) == {"c-0": 3, "c-1": 2, "c-2": 2, "c-3": 0}
    further = assignment_next(campaign=campaign, annotator=c)
    assert further.comparison.external_id == "c-0"
    label_submit(assignment=further, annotator=c, answer=2)
    assert assignment_next(campaign=campaign, annotator=c) is None
    item = CampaignItem.objects.get(campaign=campaign, comparison=further.comparison)
    assert (item.taken, item.labels, item.wanted) == (3, 3, 3)

    assert campaign_add_overlap(campaign=campaign, by=admin, extra=2) == 1
    assert wanted(campaign) == {"c-0": 5, "c-1": 2, "c-2": 2, "c-3": 0}


def test_more_overlap_leaves_out_items_a_reviewer_has_decided(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a, b], items=2, overlap=2)
    c0, c1 = items_of(campaign)
    labels_on(campaign, c0, -1, 1)
    labels_on(campaign, c1, -1, 1)
    label_adjudicate(campaign=campaign, comparison_id=c0.pk, by=admin, answer=1)
    assert campaign_add_overlap(campaign=campaign, by=admin) == 1
    assert wanted(campaign) == {"c-0": 2, "c-1": 3}


def test_more_overlap_with_a_judge_goes_to_items_it_disputes(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a, b], items=2, overlap=2)
    c0, c1 = items_of(campaign)
    labels_on(campaign, c0, -1, -1)
    labels_on(campaign, c1, 1, 1)
    judge = JudgeFactory(team=team)
    JudgmentFactory(run=JudgeRunFactory(judge=judge, dataset=campaign.dataset), comparison=c1)
    assert campaign_add_overlap(campaign=campaign, by=admin) == 0
    assert campaign_add_overlap(campaign=campaign, by=admin, judge=judge) == 0
    Judgment.objects.update(preference=-2)  # now the judge prefers response 1 on c-1
    assert campaign_add_overlap(campaign=campaign, by=admin, judge=judge, extra=3) == 1
    assert wanted(campaign) == {"c-0": 2, "c-1": 5}


def test_more_overlap_needs_one_to_ten_extra_labels_and_an_open_campaign(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a, b], items=1, overlap=2)
    labels_on(campaign, items_of(campaign)[0], -1, 1)
    for extra in (0, 11, -1):
        with pytest.raises(ApplicationError, match="extra: between 1 and 10"):
            campaign_add_overlap(campaign=campaign, by=admin, extra=extra)
    assert wanted(campaign) == {"c-0": 2}
    closed = campaign_set_status(campaign=campaign, by=admin, status="closed")
    with pytest.raises(ApplicationError, match="closed"):
        campaign_add_overlap(campaign=closed, by=admin)
    assert wanted(campaign) == {"c-0": 2}
    opened = campaign_set_status(campaign=closed, by=admin, status="open")
    assert campaign_add_overlap(campaign=opened, by=admin, extra=10) == 1
    assert wanted(campaign) == {"c-0": 12}


def test_a_late_answer_takes_an_added_slot_that_is_still_free(team, admin):
    a, b, c = annotators_named(team, "ann", "bob", "cid")
    campaign = make_campaign(team, admin, [a, b, c], items=1, overlap=2, randomise_order=False)
    label_all(campaign, a, {"c-0": -1})
    label_all(campaign, b, {"c-0": 1})
    assert campaign_add_overlap(campaign=campaign, by=admin) == 1
    late = assignment_next(campaign=campaign, annotator=c)
    Assignment.objects.filter(pk=late.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    # Someone else asking for work sweeps the lapsed lock: the third slot is free again.
    assert assignment_next(campaign=campaign, annotator=a) is None
    assert CampaignItem.objects.get(campaign=campaign).taken == 2
    # Nobody took the slot, so the late answer fills it.
    label_submit(assignment=late, annotator=c, answer=1)
    item = CampaignItem.objects.get(campaign=campaign)
    assert (item.taken, item.labels, item.wanted) == (3, 3, 3)


# label_adjudicate and the review queue


def test_adjudication_is_one_label_per_item_and_keeps_its_history(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=2)
    c0, _ = items_of(campaign)
    own = LabelFactory(campaign=campaign, comparison=c0, annotator=annotator, preference=1)
    first = label_adjudicate(
        campaign=campaign, comparison_id=c0.pk, by=admin, answer=-2, rationale="  A is right. "
    )
    second = label_adjudicate(
        campaign=campaign, comparison_id=c0.pk, by=admin, answer=1, rationale="B after all."
    )
    label_adjudicate(  # the same decision again changes nothing
        campaign=campaign, comparison_id=c0.pk, by=admin, answer=1, rationale="B after all."
    )
    assert second.pk == first.pk
    decided = Label.objects.get(kind=Label.Kind.ADJUDICATION)
    assert (decided.campaign, decided.comparison, decided.annotator) == (campaign, c0, admin)
    assert (decided.preference, decided.rationale) == (1, "B after all.")
    history = list(
        LabelHistory.objects.filter(label=decided).order_by("id").values_list("before", "after")
    )
    a_first = {"preference": -2, "score_1": None, "score_2": None, "rationale": "A is right."}
    b_after = {"preference": 1, "score_1": None, "score_2": None, "rationale": "B after all."}
    assert history == [(None, a_first), (a_first, b_after)]
    changed_by = LabelHistory.objects.filter(label=decided).values_list("changed_by", flat=True)
    assert list(changed_by) == [admin.pk, admin.pk]
    own.refresh_from_db()
    assert own.preference == 1 and own.kind == Label.Kind.ANNOTATION


def test_adjudication_answer_is_read_on_the_campaign_scale(team, admin, annotator):
    ranking = make_campaign(team, admin, [annotator], items=1, scale=Campaign.Scale.RANKING6)
    item = items_of(ranking)[0].pk
    for answer in (0, 7, True, "5"):
        with pytest.raises(ApplicationError, match=r"answer: expected 1\.\.6 on the ranking6"):
            label_adjudicate(campaign=ranking, comparison_id=item, by=admin, answer=answer)
    assert not Label.objects.exists()
    decided = label_adjudicate(campaign=ranking, comparison_id=item, by=admin, answer=5)
    assert decided.preference == 2

    binary = make_campaign(
        team, admin, [annotator], name="binary", dataset=ranking.dataset, scale="binary"
    )
    with pytest.raises(ApplicationError, match="expected -1 or 1"):
        label_adjudicate(campaign=binary, comparison_id=item, by=admin, answer=0)
    decided = label_adjudicate(campaign=binary, comparison_id=item, by=admin, answer=-1)
    assert decided.preference == -1


def test_adjudication_of_an_item_outside_the_campaign_is_refused(team, admin, annotator):
    dataset = DatasetFactory(team=team)
    inside = ComparisonFactory(dataset=dataset)
    filtered_out = ComparisonFactory(dataset=dataset, metadata={"domain": "code"})
    elsewhere = ComparisonFactory(dataset=DatasetFactory(team=team))
    campaign = make_campaign(
        team, admin, [annotator], dataset=dataset, filters=ItemFilters(meta=[("domain", "math")])
    )
    for item in (filtered_out, elsewhere):
        with pytest.raises(ApplicationError, match="not an item of this campaign"):
            label_adjudicate(campaign=campaign, comparison_id=item.pk, by=admin, answer=1)
    assert not Label.objects.exists()
    label_adjudicate(campaign=campaign, comparison_id=inside.pk, by=admin, answer=1)
    assert Label.objects.get().comparison == inside


def test_review_queue_leaves_out_adjudicated_items_when_pending_only(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=3)
    c0, c1, c2 = items_of(campaign)
    labels_on(campaign, c0, -1, 1)
    labels_on(campaign, c1, 2, -2)
    labels_on(campaign, c2, 1, 1)
    assert listed(review_items(campaign=campaign)) == [c0.pk, c1.pk]
    label_adjudicate(campaign=campaign, comparison_id=c0.pk, by=admin, answer=-1)
    assert listed(review_items(campaign=campaign, pending_only=True)) == [c1.pk]
    every = list(review_items(campaign=campaign, pending_only=False))
    # Those still to decide come first.
    assert [(row["comparison_id"], row["decided"]) for row in every] == [
        (c1.pk, False),
        (c0.pk, True),
    ]


# campaign_progress


def answer(campaign, user, value, seconds):
    """The user takes their next item and answers it; returns the item's external id."""
    assignment = assignment_next(campaign=campaign, annotator=user)
    label_submit(assignment=assignment, annotator=user, answer=value, seconds_spent=seconds)
    return assignment.comparison.external_id


def stats_of(progress):
    return {s.username: s for s in progress.annotators}


def test_progress_counts_work_speed_gold_accuracy_and_position_bias(team, admin):
    ann, bob, cid, dan = annotators_named(team, "ann", "bob", "cid", "dan")
    campaign = make_campaign(
        team, admin, [ann, bob, cid, dan], items=4, overlap=2, gold_rate=1.0,
        randomise_order=False, min_seconds=5,
    )  # fmt: skip
    set_gold(campaign, admin, "c-3 -2")  # response 1 is better
    # Each annotator's first item is the gold one, then the pool in item order. Shown in the
    # item's own order, an answer is its preference: negative = the first shown is better.
    assert answer(campaign, ann, -1, 3) == "c-3"  # right side; too fast
    assert answer(campaign, ann, -2, 10) == "c-0"
    assert answer(campaign, ann, 0, 4) == "c-1"  # a tie; too fast
    assert answer(campaign, ann, 1, 20) == "c-2"
    assert answer(campaign, bob, 2, 5) == "c-3"  # wrong side; 5 s is not too fast
    assert answer(campaign, bob, -1, 8) == "c-0"
    skipped = assignment_next(campaign=campaign, annotator=bob)
    assert skipped.comparison.external_id == "c-1"
    assignment_skip(assignment=skipped, annotator=bob)
    assert answer(campaign, bob, 3, 2) == "c-2"  # too fast
    assert assignment_next(campaign=campaign, annotator=bob) is None
    assert answer(campaign, cid, 0, 12) == "c-3"  # a tie where response 1 is better: wrong
    held = assignment_next(campaign=campaign, annotator=cid)
    assert held.comparison.external_id == "c-1"  # the only item with a free slot; kept locked

    progress = campaign_progress(campaign=campaign)
    # The gold item is outside the pool: 3 items of 2 labels; c-1 has one label (ann's).
    assert (progress.items, progress.complete) == (3, 2)
    assert (progress.labels_wanted, progress.labels_given) == (6, 5)
    assert progress.percent == pytest.approx(100 * 5 / 6)
    assert (progress.locked, progress.gold_items, progress.adjudicated) == (1, 1, 0)
    people = stats_of(progress)
    assert list(people) == ["ann", "bob", "cid", "dan"]

    a = people["ann"]
    assert (a.done, a.skipped, a.locked) == (4, 0, 0)
    assert a.median_seconds == pytest.approx(7.0)  # 3, 4, 10, 20
    assert (a.gold_done, a.gold_correct, a.gold_accuracy) == (1, 1, 1.0)
    assert a.too_fast_share == pytest.approx(2 / 4)
    assert a.first_position_rate == pytest.approx(2 / 3)  # -1, -2 of -1, -2, 1
    assert a.tie_rate == pytest.approx(1 / 4)

    b = people["bob"]
    assert (b.done, b.skipped, b.locked) == (3, 1, 0)
    assert b.median_seconds == pytest.approx(5.0)  # 2, 5, 8
    assert (b.gold_done, b.gold_correct, b.gold_accuracy) == (1, 0, 0.0)
    assert b.too_fast_share == pytest.approx(1 / 3)
    assert b.first_position_rate == pytest.approx(1 / 3)  # -1 of 2, -1, 3
    assert b.tie_rate == 0.0

    c = people["cid"]
    assert (c.done, c.skipped, c.locked) == (1, 0, 1)
    assert c.median_seconds == pytest.approx(12.0)
    assert (c.gold_accuracy, c.too_fast_share, c.tie_rate) == (0.0, 0.0, 1.0)
    assert c.first_position_rate is None  # no answer with a side

    d = people["dan"]
    assert (d.done, d.skipped, d.locked, d.median_seconds) == (0, 0, 0, None)
    assert (d.gold_accuracy, d.too_fast_share, d.first_position_rate, d.tie_rate) == (
        None,
        None,
        None,
        None,
    )

    # A lapsed lock is not live: it no longer counts as locked.
    Assignment.objects.filter(pk=held.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    progress = campaign_progress(campaign=campaign)
    assert progress.locked == 0 and stats_of(progress)["cid"].locked == 0


def test_first_position_counts_the_response_shown_first_when_the_order_is_randomised(
    team, admin, annotator
):
    campaign = make_campaign(team, admin, [annotator], items=5, overlap=1, randomise_order=True)
    # The queue's coin depends on row ids; set the order each item was shown in.
    shown = [(True, -2), (True, -2), (False, -1), (False, 2), (True, 0)]
    for swapped, value in shown:
        assignment = assignment_next(campaign=campaign, annotator=annotator)
        assignment.shown_swapped = swapped
        assignment.save(update_fields=["shown_swapped"])
        label_submit(assignment=assignment, annotator=annotator, answer=value, seconds_spent=9)
    # Stored in the items' own order, only one label prefers response 1 ...
    assert list(Label.objects.order_by("id").values_list("preference", "shown_swapped")) == [
        (2, True),
        (2, True),
        (-1, False),
        (2, False),
        (0, True),
    ]
    # ... but three of the four answers with a side chose the response shown first.
    stats = stats_of(campaign_progress(campaign=campaign))["annie"]
    assert (stats.done, stats.first_preferred, stats.decided, stats.ties) == (5, 3, 4, 1)
    assert stats.first_position_rate == pytest.approx(0.75)
    assert stats.tie_rate == pytest.approx(0.2)
    assert stats.too_fast_share == 0.0


def test_progress_lists_the_annotators_and_counts_adjudications_apart(team, admin):
    ann, bob = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [ann, bob], items=1, overlap=2)
    label_all(campaign, ann, {"c-0": -1})
    label_all(campaign, bob, {"c-0": 1})
    label_adjudicate(campaign=campaign, comparison_id=items_of(campaign)[0].pk, by=admin, answer=1)
    progress = campaign_progress(campaign=campaign)
    assert progress.adjudicated == 1
    assert (progress.labels_given, progress.complete) == (2, 1)  # the decision is no label
    # The reviewer is not an annotator of the campaign.
    assert [s.username for s in progress.annotators] == ["ann", "bob"]


# What an annotator sees


def test_own_labels_are_the_users_annotations_oldest_first(team, admin):
    ann, bob = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [ann, bob], items=3, overlap=2, randomise_order=False)
    label_all(campaign, ann, {"c-0": -1, "c-1": 1, "c-2": 0})
    label_all(campaign, bob, {"c-0": 2, "c-1": 2, "c-2": 2})
    elsewhere = make_campaign(team, admin, [ann], name="other", dataset=campaign.dataset)
    label_all(elsewhere, ann, {"c-0": 3, "c-1": 3, "c-2": 3})
    label_adjudicate(campaign=campaign, comparison_id=items_of(campaign)[0].pk, by=ann, answer=3)
    first = Label.objects.get(
        campaign=campaign, annotator=ann, comparison__external_id="c-0", kind="annotation"
    )
    label_update(label=first, by=ann, answer=-3)  # changed last, still first in the walk

    mine = own_labels(campaign=campaign, user=ann)
    assert [(label.comparison.external_id, label.preference) for label in mine] == [
        ("c-0", -3),
        ("c-1", 1),
        ("c-2", 0),
    ]
    assert [label.preference for label in own_labels(campaign=campaign, user=bob)] == [2, 2, 2]
    assert not own_labels(campaign=campaign, user=admin).exists()


def test_label_history_is_in_the_order_of_the_changes(team, annotator):
    campaign = make_campaign(team, None, [annotator], items=1, randomise_order=False)
    label_all(campaign, annotator, {"c-0": 1})
    label = Label.objects.get()
    label_update(label=label, by=annotator, answer=-2)
    label_update(label=label, by=annotator, answer=3, rationale="clearer")
    history = label_history(label=label)
    assert [(h.before and h.before["preference"], h.after["preference"]) for h in history] == [
        (None, 1),
        (1, -2),
        (-2, 3),
    ]
    assert [h.changed_by for h in history] == [annotator] * 3
    assert history.last().after["rationale"] == "clearer"


def test_model_verdicts_are_shown_only_if_the_campaign_shows_them_and_only_the_teams(
    team, admin, annotator, other_team
):
    campaign = make_campaign(team, admin, [annotator], items=2)
    item, other_item = items_of(campaign)
    genrm = JudgeRunFactory(judge=JudgeFactory(team=team, name="genrm"), dataset=campaign.dataset)
    critic = JudgeRunFactory(judge=JudgeFactory(team=team, name="critic"), dataset=campaign.dataset)
    g_swapped = JudgmentFactory(run=genrm, comparison=item, swapped=True, preference=1)
    g_straight = JudgmentFactory(run=genrm, comparison=item, preference=2)
    c_straight = JudgmentFactory(run=critic, comparison=item, preference=-1)
    JudgmentFactory(run=critic, comparison=item, swapped=True, status="failed", preference=None)
    JudgmentFactory(run=critic, comparison=item, sample=1, preference=None)  # unparsed
    JudgmentFactory(run=genrm, comparison=other_item)
    theirs = JudgeRunFactory(judge=JudgeFactory(team=other_team), dataset=campaign.dataset)
    JudgmentFactory(run=theirs, comparison=item, preference=-3)

    assert visible_verdicts(campaign=campaign, comparison_id=item.pk) == []
    campaign = campaign_update(campaign=campaign, by=admin, show_model_verdicts=True)
    assert visible_verdicts(campaign=campaign, comparison_id=item.pk) == [
        c_straight,
        g_straight,
        g_swapped,
    ]
