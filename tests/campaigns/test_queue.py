import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from judgeapp.campaigns.models import Assignment, Campaign, CampaignItem, Label
from judgeapp.campaigns.services import (
    assignment_next,
    assignment_skip,
    campaign_create,
    label_submit,
    label_update,
)
from judgeapp.core.errors import ApplicationError
from tests.campaigns.conftest import annotators_named, make_campaign
from tests.factories import ComparisonFactory, DatasetFactory

pytestmark = pytest.mark.django_db


def annotators_of(team, n):
    return annotators_named(team, *(f"ann{i}" for i in range(n)))


def test_least_labelled_first_and_never_the_same_item_twice(team, admin):
    a, b = annotators_of(team, 2)
    campaign = make_campaign(team, admin, [a, b], items=3, overlap=2, randomise_order=False)
    first_a = assignment_next(campaign=campaign, annotator=a)
    # Asking again gives the item they hold.
    assert assignment_next(campaign=campaign, annotator=a) == first_a
    first_b = assignment_next(campaign=campaign, annotator=b)
    assert first_b.comparison_id != first_a.comparison_id  # the untouched item comes first
    label_submit(assignment=first_a, annotator=a, answer=2)
    second_a = assignment_next(campaign=campaign, annotator=a)
    assert second_a.comparison_id not in (first_a.comparison_id,)
    seen = {first_a.comparison_id}
    while (nxt := assignment_next(campaign=campaign, annotator=a)) is not None:
        assert nxt.comparison_id not in seen
        seen.add(nxt.comparison_id)
        label_submit(assignment=nxt, annotator=a, answer=-1)
    assert len(seen) == 3


def test_answers_are_stored_in_canonical_order_with_history(team, admin):
    (a,) = annotators_of(team, 1)
    campaign = make_campaign(team, admin, [a], items=1, overlap=1, ask_scores=True)
    assignment = assignment_next(campaign=campaign, annotator=a)
    Assignment.objects.filter(pk=assignment.pk).update(shown_swapped=True)
    assignment.refresh_from_db()
    # Shown swapped: the annotator prefers the right-hand response, which is response_1.
    label = label_submit(assignment=assignment, annotator=a, answer=3, score_1=2, score_2=5)
    assert (label.preference, label.score_1, label.score_2) == (-3, 5, 2)
    label = label_update(label=label, by=a, answer=-1, score_1=4, score_2=3)
    assert (label.preference, label.score_1, label.score_2) == (1, 3, 4)
    history = list(label.history.order_by("id").values_list("before", "after"))
    assert history[0][0] is None and history[1][0]["preference"] == -3
    assert history[1][1]["preference"] == 1


def test_scale_and_rationale_are_checked(team, admin):
    (a,) = annotators_of(team, 1)
    campaign = make_campaign(
        team, admin, [a], items=1, scale=Campaign.Scale.RANKING6, rationale="required",
        randomise_order=False,
    )  # fmt: skip
    assignment = assignment_next(campaign=campaign, annotator=a)
    with pytest.raises(ApplicationError, match=r"1\.\.6"):
        label_submit(assignment=assignment, annotator=a, answer=0, rationale="x")
    with pytest.raises(ApplicationError, match="rationale"):
        label_submit(assignment=assignment, annotator=a, answer=2)
    label = label_submit(assignment=assignment, annotator=a, answer=5, rationale="clearer")
    assert label.preference == 2  # ranking 5 = response 2 better


def test_skip_returns_the_slot_and_expired_locks_go_back(team, admin):
    a, b = annotators_of(team, 2)
    campaign = make_campaign(team, admin, [a, b], items=1, overlap=1)
    held = assignment_next(campaign=campaign, annotator=a)
    assert assignment_next(campaign=campaign, annotator=b) is None  # the only slot is locked
    assignment_skip(assignment=held, annotator=a, reason="unclear")
    taken = assignment_next(campaign=campaign, annotator=b)
    assert taken is not None and taken.comparison_id == held.comparison_id
    assert assignment_next(campaign=campaign, annotator=a) is None  # skipped: not offered again
    Assignment.objects.filter(pk=taken.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    again = assignment_next(campaign=campaign, annotator=b)  # b's lock expired and came back
    assert again is not None
    assert CampaignItem.objects.get(campaign=campaign).taken == 1


def test_late_answer_after_the_slot_went_elsewhere_is_refused(team, admin):
    a, b = annotators_of(team, 2)
    campaign = make_campaign(team, admin, [a, b], items=1, overlap=1)
    late = assignment_next(campaign=campaign, annotator=a)
    Assignment.objects.filter(pk=late.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    other = assignment_next(campaign=campaign, annotator=b)
    label_submit(assignment=other, annotator=b, answer=1)
    with pytest.raises(ApplicationError, match="ran out"):
        label_submit(assignment=late, annotator=a, answer=-1)
    assert Label.objects.filter(campaign=campaign).count() == 1


def test_outsiders_and_other_annotators_cannot_take_or_answer(team, admin, outsider):
    a, b = annotators_of(team, 2)
    campaign = make_campaign(team, admin, [a], items=1)
    with pytest.raises(ApplicationError):
        assignment_next(campaign=campaign, annotator=b)
    with pytest.raises(ApplicationError):
        assignment_next(campaign=campaign, annotator=outsider)
    held = assignment_next(campaign=campaign, annotator=a)
    with pytest.raises(ApplicationError):
        label_submit(assignment=held, annotator=b, answer=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_sixteen_annotators_at_once_never_exceed_the_overlap(team, admin):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    people = annotators_of(team, 16)
    campaign = make_campaign(team, admin, people, items=40, overlap=3)
    held_at_once: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))

    def work(user):
        try:
            start.wait()
            while (assignment := assignment_next(campaign=campaign, annotator=user)) is not None:
                held_at_once.append((user.pk, assignment.comparison_id))
                label_submit(assignment=assignment, annotator=user, answer=1)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(u,)) for u in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    per_item = Counter(
        Label.objects.filter(campaign=campaign).values_list("comparison_id", flat=True)
    )
    assert len(per_item) == 40 and set(per_item.values()) == {3}
    # Nobody got the same item twice, and every label came from a distinct assignment.
    assert len(held_at_once) == len(set(held_at_once)) == 120
    assert set(CampaignItem.objects.filter(campaign=campaign).values_list("taken", "labels")) == {
        (3, 3)
    }


def test_the_periodic_sweep_returns_lapsed_slots(team, admin, annotator):
    from judgeapp.campaigns.services import locks_expire_all

    dataset = DatasetFactory(team=team)
    ComparisonFactory.create_batch(2, dataset=dataset)
    campaign = campaign_create(
        team=team, dataset=dataset, name="sweep", by=admin, annotators=[annotator], overlap=1
    )
    held = assignment_next(campaign=campaign, annotator=annotator)
    assert locks_expire_all() == 0  # still live
    Assignment.objects.filter(pk=held.pk).update(locked_until=timezone.now() - timedelta(1))
    assert locks_expire_all() == 1
    assert Assignment.objects.get(pk=held.pk).status == Assignment.Status.EXPIRED
    assert sum(CampaignItem.objects.values_list("taken", flat=True)) == 0
