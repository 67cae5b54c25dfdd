"""Setting a campaign up: create, update, open and close, gold items, and the label scales."""

import pytest

from judgeapp.campaigns import scales
from judgeapp.campaigns.models import (
    Assignment,
    Campaign,
    CampaignItem,
    GoldItem,
    GuidelineVersion,
    Label,
)
from judgeapp.campaigns.services import (
    assignment_next,
    assignment_skip,
    campaign_add_overlap,
    campaign_create,
    campaign_set_status,
    campaign_update,
    gold_set,
    label_submit,
    parse_gold,
)
from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.selectors import ItemFilters
from tests.campaigns.conftest import annotators_named, dataset_with, make_campaign
from tests.factories import ComparisonFactory, DatasetFactory, LabelFactory

pytestmark = pytest.mark.django_db


def slots(campaign, field="wanted"):
    """One CampaignItem field for every item, by external id."""
    return dict(
        CampaignItem.objects.filter(campaign=campaign).values_list("comparison__external_id", field)
    )


def set_gold(campaign, by, text):
    """The gold list as an admin pastes it."""
    return gold_set(campaign=campaign, by=by, entries=parse_gold(text))


def ranks(campaign):
    return slots(campaign, "rank")


def item_id(campaign, external_id):
    return campaign.dataset.comparisons.get(external_id=external_id).pk


def nothing_written():
    return not (
        Campaign.objects.exists()
        or CampaignItem.objects.exists()
        or GuidelineVersion.objects.exists()
    )


# campaign_create


def test_create_refuses_annotators_who_are_not_annotators_of_the_team(
    team, admin, annotator, viewer, outsider
):
    dataset = dataset_with(team, 2)
    with pytest.raises(ApplicationError) as refused:
        campaign_create(
            team=team, dataset=dataset, name="c", by=admin,
            annotators=[annotator, viewer, admin, outsider], guidelines="Be fair.",
        )  # fmt: skip
    # The team's admin and viewer are not annotators; the outsider is not in the team at all.
    assert refused.value.message == "annotators: not annotators of the team: alice, oscar, victor."
    assert "annie" not in refused.value.message
    assert nothing_written()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"overlap": 0}, "overlap"),
        ({"gold_rate": 1.5}, "gold_rate"),
        ({"gold_rate": -0.1}, "gold_rate"),
    ],
)
def test_create_refuses_bad_overlap_and_gold_rate(team, admin, annotator, options, field):
    with pytest.raises(ApplicationError, match=rf"^{field}:"):
        make_campaign(team, admin, [annotator], guidelines="Be fair.", **options)
    assert nothing_written()


def test_create_with_no_item_fails_and_writes_nothing(team, admin, annotator):
    with pytest.raises(ApplicationError, match="No items"):
        make_campaign(team, admin, [annotator], items=0, guidelines="Be fair.")
    assert nothing_written()
    with pytest.raises(ApplicationError, match="No items"):
        make_campaign(
            team, admin, [annotator], items=3, guidelines="Be fair.",
            filters=ItemFilters(meta=[("domain", "chemistry")]),
        )  # fmt: skip
    assert nothing_written()


def test_created_items_are_those_matching_the_filters_and_want_the_overlap(team, admin, annotator):
    dataset = dataset_with(team, 3)
    ComparisonFactory(dataset=dataset, external_id="code-item", metadata={"domain": "code"})
    campaign = campaign_create(
        team=team, dataset=dataset, name="  maths  ", by=admin, annotators=[annotator],
        filters=ItemFilters(meta=[("domain", "math")]), overlap=3, guidelines="Be fair.",
    )  # fmt: skip
    assert campaign.name == "maths"
    assert campaign.filters == {"meta": ["domain:math"]}
    assert slots(campaign) == {"c-0": 3, "c-1": 3, "c-2": 3}
    assert set(slots(campaign, "taken").values()) == set(slots(campaign, "labels").values()) == {0}
    # Least-labelled first: among equally taken items, the queue follows the item ids.
    assert ranks(campaign) == {f"c-{i}": item_id(campaign, f"c-{i}") for i in range(3)}
    assert list(campaign.guideline_versions.values_list("version", "text", "created_by")) == [
        (1, "Be fair.", admin.pk)
    ]
    assert list(campaign.annotators.all()) == [annotator]


# campaign_update


def test_each_change_of_guidelines_adds_a_version_and_the_same_text_adds_none(
    team, admin, annotator
):
    campaign = make_campaign(team, admin, [annotator], guidelines="First words.")
    campaign = campaign_update(campaign=campaign, by=admin, guidelines="Second words.")
    campaign = campaign_update(campaign=campaign, by=admin, guidelines="Second words.")
    campaign = campaign_update(campaign=campaign, by=admin, name="renamed")
    campaign = campaign_update(campaign=campaign, by=admin, guidelines="Third words.")
    versions = GuidelineVersion.objects.filter(campaign=campaign).order_by("version")
    assert list(versions.values_list("version", "text")) == [
        (1, "First words."),
        (2, "Second words."),
        (3, "Third words."),
    ]
    assert Campaign.objects.get().guidelines == "Third words."


def test_overlap_change_moves_every_item_by_the_same_amount(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a, b], items=4, overlap=3)
    c0 = campaign.dataset.comparisons.get(external_id="c-0")
    LabelFactory(campaign=campaign, comparison=c0, annotator=a, preference=-1)
    LabelFactory(campaign=campaign, comparison=c0, annotator=b, preference=2)
    assert campaign_add_overlap(campaign=campaign, by=admin, extra=1) == 1
    set_gold(campaign, admin, "c-3 1")
    assert slots(campaign) == {"c-0": 4, "c-1": 3, "c-2": 3, "c-3": 0}

    campaign = campaign_update(campaign=campaign, by=admin, overlap=5)
    # The disagreed item keeps its extra label; the gold item stays out of the pool.
    assert slots(campaign) == {"c-0": 6, "c-1": 5, "c-2": 5, "c-3": 0}

    campaign = campaign_update(campaign=campaign, by=admin, overlap=3)
    campaign = campaign_update(campaign=campaign, by=admin, overlap=1)
    assert slots(campaign) == {"c-0": 2, "c-1": 1, "c-2": 1, "c-3": 0}
    assert Campaign.objects.get().overlap == 1

    with pytest.raises(ApplicationError, match=r"^overlap:"):
        campaign_update(campaign=campaign, by=admin, overlap=0)
    assert slots(campaign) == {"c-0": 2, "c-1": 1, "c-2": 1, "c-3": 0}


def test_scale_assignment_and_seed_are_fixed_once_an_item_is_handed_out(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator])
    # Before anyone starts, all three may change.
    campaign = campaign_update(
        campaign=campaign, by=admin, scale=Campaign.Scale.TERNARY,
        assignment=Campaign.Assignment.RANDOM, seed=7,
    )  # fmt: skip
    saved = Campaign.objects.get()
    assert (saved.scale, saved.assignment, saved.seed) == ("ternary", "random", 7)

    assert assignment_next(campaign=campaign, annotator=annotator) is not None
    for name, value in (
        ("scale", Campaign.Scale.BINARY),
        ("assignment", Campaign.Assignment.LEAST_LABELLED),
        ("seed", 8),
    ):
        with pytest.raises(ApplicationError, match=f"^{name}: cannot change once annotators"):
            campaign_update(campaign=campaign, by=admin, **{name: value})
    saved = Campaign.objects.get()
    assert (saved.scale, saved.assignment, saved.seed) == ("ternary", "random", 7)
    # The same values (say, a settings form sent back whole) are no change.
    campaign = campaign_update(
        campaign=campaign, by=admin, scale=Campaign.Scale.TERNARY, seed=7, name="renamed"
    )
    assert Campaign.objects.get().name == "renamed"


def test_unknown_settings_are_refused(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator])
    with pytest.raises(ApplicationError, match="Cannot change: status, team"):
        campaign_update(campaign=campaign, by=admin, status="closed", team=None)
    assert Campaign.objects.get().status == Campaign.Status.OPEN


def test_a_new_seed_reorders_a_random_queue(team, admin, annotator):
    campaign = make_campaign(
        team, admin, [annotator], items=6, assignment=Campaign.Assignment.RANDOM, seed=1
    )
    first = ranks(campaign)
    ids = {f"c-{i}": item_id(campaign, f"c-{i}") for i in range(6)}
    assert first != ids
    # The same seed gives the same order, for another campaign on the same items too.
    twin = campaign_create(
        team=team, dataset=campaign.dataset, name="twin", by=admin, annotators=[annotator],
        assignment=Campaign.Assignment.RANDOM, seed=1,
    )  # fmt: skip
    assert ranks(twin) == first

    campaign = campaign_update(campaign=campaign, by=admin, seed=2)
    second = ranks(campaign)
    assert all(second[item] != first[item] for item in first)
    campaign = campaign_update(campaign=campaign, by=admin, seed=1)
    assert ranks(campaign) == first
    campaign = campaign_update(campaign=campaign, by=admin, seed=2)
    # The queue follows the new order: the first item is the lowest ranked.
    handed = assignment_next(campaign=campaign, annotator=annotator)
    lowest = min(second, key=second.get)
    assert handed.comparison_id == ids[lowest]

    campaign = campaign_update(campaign=twin, by=admin, assignment="least_labelled")
    assert ranks(campaign) == ids


def test_rename_to_a_name_the_team_has_is_refused(team, admin, annotator, other_team):
    first = make_campaign(team, admin, [annotator], name="first")
    second = make_campaign(team, admin, [annotator], name="second")
    campaign_create(
        team=other_team, dataset=dataset_with(other_team, 1), name="third", by=None, annotators=[]
    )
    with pytest.raises(ApplicationError, match="already has a campaign named 'first'"):
        campaign_update(campaign=second, by=admin, name="  first ")
    with pytest.raises(ApplicationError, match=r"^name:"):
        campaign_update(campaign=second, by=admin, name="   ")
    second.refresh_from_db()
    assert second.name == "second"
    # Its own name, and a name used only by another team, are fine.
    assert campaign_update(campaign=second, by=admin, name="second").name == "second"
    assert campaign_update(campaign=second, by=admin, name="third").name == "third"
    first.refresh_from_db()
    assert first.name == "first"


def test_annotators_are_replaced_and_checked(team, admin, viewer):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a])
    campaign = campaign_update(campaign=campaign, by=admin, annotators=[b])
    assert list(campaign.annotators.all()) == [b]
    with pytest.raises(ApplicationError, match="not annotators of the team: victor"):
        campaign_update(campaign=campaign, by=admin, annotators=[a, viewer], name="changed")
    assert list(campaign.annotators.all()) == [b]
    assert Campaign.objects.get().name == "camp"  # a refused update changes nothing
    campaign = campaign_update(campaign=campaign, by=admin, name="kept")
    assert list(campaign.annotators.all()) == [b]  # not given: left as they are
    with pytest.raises(ApplicationError, match="not an annotator of this campaign"):
        assignment_next(campaign=campaign, annotator=a)


# campaign_set_status


def test_closing_releases_live_locks_and_stops_the_queue(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(team, admin, [a, b], items=2, overlap=1, randomise_order=False)
    held_a = assignment_next(campaign=campaign, annotator=a)
    held_b = assignment_next(campaign=campaign, annotator=b)
    assert slots(campaign, "taken") == {"c-0": 1, "c-1": 1}

    campaign = campaign_set_status(campaign=campaign, by=admin, status="closed")
    assert set(Assignment.objects.values_list("status", flat=True)) == {"expired"}
    assert all(row.finished_at is not None for row in Assignment.objects.all())
    assert slots(campaign, "taken") == {"c-0": 0, "c-1": 0}
    with pytest.raises(ApplicationError, match="closed"):
        assignment_next(campaign=campaign, annotator=a)
    with pytest.raises(ApplicationError, match="closed"):
        label_submit(assignment=Assignment.objects.get(pk=held_b.pk), annotator=b, answer=1)
    assert not Label.objects.exists()

    campaign = campaign_set_status(campaign=campaign, by=admin, status="open")
    assert Campaign.objects.get().status == "open"
    again = assignment_next(campaign=campaign, annotator=a)
    assert (again.pk, again.status) == (held_a.pk, "locked")  # the same item, taken up again
    label_submit(assignment=again, annotator=a, answer=-1)
    assert slots(campaign, "taken") == {"c-0": 1, "c-1": 0}
    assert slots(campaign, "labels") == {"c-0": 1, "c-1": 0}


def test_status_must_be_open_or_closed(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator])
    with pytest.raises(ApplicationError, match="status: expected one of open, closed"):
        campaign_set_status(campaign=campaign, by=admin, status="archived")
    assert Campaign.objects.get().status == "open"


# Gold items


def test_parse_gold_reads_commas_tabs_spaces_and_comments():
    text = "# item, expected\nc-0 -3\nc-1,2\n\n  c-2\t0   # a tie\n"
    assert parse_gold(text) == [(2, "c-0", -3), (3, "c-1", 2), (5, "c-2", 0)]


def test_parse_gold_names_every_bad_line():
    text = "\n".join(
        ["c-0 -3", "c-1 4", "c-2", "c-3 1 extra", "c-0 1", "c-4 x", "c-5 1.5", "c-6 3"]
    )
    with pytest.raises(ApplicationError) as refused:
        parse_gold(text)
    message = refused.value.message
    assert "line 2: preference '4' is not a whole number -3..3" in message
    assert "line 3: expected '<item id> <preference -3..3>'" in message
    assert "line 4: expected '<item id> <preference -3..3>'" in message
    assert "line 5: item 'c-0' is listed already on line 1" in message
    assert "line 6: preference 'x'" in message
    assert "line 7: preference '1.5'" in message
    assert "line 1:" not in message and "line 8:" not in message


def test_gold_list_with_unknown_or_labelled_items_is_refused_whole(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=4, overlap=1, randomise_order=False)
    ComparisonFactory(dataset=DatasetFactory(team=team), external_id="elsewhere")
    assert set_gold(campaign, admin, "c-3 1") == 1
    label_submit(
        assignment=assignment_next(campaign=campaign, annotator=annotator),
        annotator=annotator,
        answer=1,
    )  # c-0 is labelled
    held = assignment_next(campaign=campaign, annotator=annotator)  # c-1 is locked
    assert held.comparison.external_id == "c-1"

    with pytest.raises(ApplicationError) as refused:
        set_gold(campaign, admin, "c-2 -1\nelsewhere 2\nc-0 3\nc-1 0")
    message = refused.value.message
    assert "line 2: no item 'elsewhere' in dataset" in message
    assert "line 3: item 'c-0' is labelled already in this campaign" in message
    assert "line 4: item 'c-1' is labelled already in this campaign" in message
    assert "line 1:" not in message
    # Nothing changed: c-2 is still in the pool and c-3 still gold.
    assert list(GoldItem.objects.values_list("comparison__external_id", "expected_preference")) == [
        ("c-3", 1)
    ]
    assert slots(campaign) == {"c-0": 1, "c-1": 1, "c-2": 1, "c-3": 0}


def test_gold_errors_name_the_unit_the_entries_came_in(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=1)
    with pytest.raises(ApplicationError, match=r"^row 7: no item 'nope' in dataset"):
        gold_set(campaign=campaign, by=admin, entries=[(3, "c-0", 1), (7, "nope", 2)], unit="row")
    assert not GoldItem.objects.exists()
    assert gold_set(campaign=campaign, by=admin, entries=[(3, "c-0", 1)], unit="row") == 1


def test_gold_items_leave_the_pool_and_rejoin_it_when_dropped(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=3, overlap=2)
    assert set_gold(campaign, admin, "c-0 -2\nc-1 3") == 2
    assert slots(campaign) == {"c-0": 0, "c-1": 0, "c-2": 2}

    assert set_gold(campaign, admin, "c-1 1") == 1
    assert slots(campaign) == {"c-0": 2, "c-1": 0, "c-2": 2}
    assert list(GoldItem.objects.values_list("comparison__external_id", "expected_preference")) == [
        ("c-1", 1)
    ]

    # Rejoining uses the overlap of the day.
    campaign = campaign_update(campaign=campaign, by=admin, overlap=4)
    assert set_gold(campaign, admin, "# none\n") == 0
    assert slots(campaign) == {"c-0": 4, "c-1": 4, "c-2": 4}
    assert not GoldItem.objects.exists()


def test_gold_rate_one_hands_out_every_gold_item_first_and_once(team, admin):
    a, b = annotators_named(team, "ann", "bob")
    campaign = make_campaign(
        team, admin, [a, b], items=4, overlap=2, gold_rate=1.0, randomise_order=False
    )
    set_gold(campaign, admin, "c-2 -1\nc-3 1")
    for user in (a, b):
        handed = []
        first = assignment_next(campaign=campaign, annotator=user)
        handed.append((first.comparison.external_id, first.is_gold))
        label_submit(assignment=first, annotator=user, answer=-1, seconds_spent=4)
        second = assignment_next(campaign=campaign, annotator=user)
        handed.append((second.comparison.external_id, second.is_gold))
        assignment_skip(assignment=second, annotator=user)
        # Gold items are outside the overlap: handing them out, answering or skipping them
        # leaves their slots alone.
        assert slots(campaign, "taken")["c-2"] == slots(campaign, "labels")["c-2"] == 0
        assert slots(campaign, "taken")["c-3"] == slots(campaign, "labels")["c-3"] == 0
        while (nxt := assignment_next(campaign=campaign, annotator=user)) is not None:
            handed.append((nxt.comparison.external_id, nxt.is_gold))
            label_submit(assignment=nxt, annotator=user, answer=1)
        assert handed == [("c-2", True), ("c-3", True), ("c-0", False), ("c-1", False)]
    assert slots(campaign, "taken") == {"c-0": 2, "c-1": 2, "c-2": 0, "c-3": 0}
    assert slots(campaign, "labels") == {"c-0": 2, "c-1": 2, "c-2": 0, "c-3": 0}
    gold_labels = Label.objects.filter(comparison__external_id="c-2")
    assert sorted(gold_labels.values_list("annotator__username", "preference")) == [
        ("ann", -1),
        ("bob", -1),
    ]


def test_closing_releases_a_gold_lock_without_touching_the_slots(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=2, overlap=1, gold_rate=1.0)
    set_gold(campaign, admin, "c-1 2")
    held = assignment_next(campaign=campaign, annotator=annotator)
    assert held.is_gold
    campaign = campaign_set_status(campaign=campaign, by=admin, status="closed")
    held.refresh_from_db()
    assert held.status == "expired"
    assert slots(campaign, "taken") == {"c-0": 0, "c-1": 0}


def test_an_item_dropped_from_gold_and_taken_up_again_counts_in_the_pool(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=1, overlap=1, gold_rate=1.0)
    set_gold(campaign, admin, "c-0 -2")
    assert assignment_next(campaign=campaign, annotator=annotator).is_gold
    # The gold lock lapses and is swept (closing does it at once) ...
    campaign = campaign_set_status(campaign=campaign, by=admin, status="closed")
    campaign = campaign_set_status(campaign=campaign, by=admin, status="open")
    # ... then the item stops being gold and rejoins the pool.
    set_gold(campaign, admin, "")
    campaign = campaign_update(campaign=campaign, by=admin, gold_rate=0.0)
    again = assignment_next(campaign=campaign, annotator=annotator)
    assert again is not None and again.comparison.external_id == "c-0"
    label_submit(assignment=again, annotator=annotator, answer=1)
    # A pool label: the item has its one label and its one slot, so it is complete.
    assert (slots(campaign, "taken"), slots(campaign, "labels")) == ({"c-0": 1}, {"c-0": 1})
    assert not Assignment.objects.get(pk=again.pk).is_gold


def test_a_lapsed_pool_lock_taken_up_again_as_gold_is_gold(team, admin, annotator):
    campaign = make_campaign(team, admin, [annotator], items=2, overlap=1, randomise_order=False)
    held = assignment_next(campaign=campaign, annotator=annotator)
    assert (held.comparison.external_id, held.is_gold) == ("c-0", False)
    # The lock is released (closing does it at once) and the item becomes gold.
    campaign = campaign_set_status(campaign=campaign, by=admin, status="closed")
    campaign = campaign_set_status(campaign=campaign, by=admin, status="open")
    set_gold(campaign, admin, "c-0 -2")
    campaign = campaign_update(campaign=campaign, by=admin, gold_rate=1.0)
    again = assignment_next(campaign=campaign, annotator=annotator)
    assert again.comparison.external_id == "c-0"
    assert again.is_gold
    label_submit(assignment=again, annotator=annotator, answer=-1)
    assert slots(campaign, "labels") == {"c-0": 0, "c-1": 0}


# Scales


def test_answers_round_trip_through_preferences_on_every_scale_in_both_orders():
    for scale in scales.SCALES:
        for choice in scales.choices(scale):
            straight = scales.to_preference(scale, choice.value, swapped=False)
            swapped = scales.to_preference(scale, choice.value, swapped=True)
            assert -3 <= straight <= 3
            assert swapped == -straight
            assert scales.to_answer(scale, straight, swapped=False) == choice.value
            assert scales.to_answer(scale, swapped, swapped=True) == choice.value


def test_ranking6_maps_onto_preferences_without_a_tie():
    as_preference = {
        answer: scales.to_preference(scales.RANKING6, answer, swapped=False)
        for answer in range(1, 7)
    }
    assert as_preference == {1: -3, 2: -2, 3: -1, 4: 1, 5: 2, 6: 3}
    assert scales.to_preference(scales.RANKING6, 1, swapped=True) == 3
    assert scales.to_preference(scales.RANKING6, 6, swapped=True) == -3
    assert scales.to_answer(scales.RANKING6, -3, swapped=False) == 1
    assert scales.to_answer(scales.RANKING6, -3, swapped=True) == 6


@pytest.mark.parametrize(
    ("scale", "answer", "allowed"),
    [
        (scales.HELPSTEER3, -3, True),
        (scales.HELPSTEER3, 3, True),
        (scales.HELPSTEER3, 0, True),
        (scales.HELPSTEER3, 4, False),
        (scales.HELPSTEER3, -4, False),
        (scales.HELPSTEER3, False, False),  # False == 0, yet not an answer
        (scales.HELPSTEER3, 1.0, False),
        (scales.HELPSTEER3, "1", False),
        (scales.HELPSTEER3, None, False),
        (scales.RANKING6, 1, True),
        (scales.RANKING6, 6, True),
        (scales.RANKING6, 0, False),
        (scales.RANKING6, 7, False),
        (scales.RANKING6, True, False),  # True == 1
        (scales.TERNARY, 0, True),
        (scales.TERNARY, 2, False),
        (scales.BINARY, -1, True),
        (scales.BINARY, 1, True),
        (scales.BINARY, 0, False),
        (scales.BINARY, True, False),
    ],
)
def test_is_answer_takes_only_whole_numbers_of_the_scale(scale, answer, allowed):
    assert scales.is_answer(scale, answer) is allowed


def test_choices_are_keyed_one_to_n_in_button_order():
    values = {
        scales.HELPSTEER3: [-3, -2, -1, 0, 1, 2, 3],
        scales.RANKING6: [1, 2, 3, 4, 5, 6],
        scales.TERNARY: [-1, 0, 1],
        scales.BINARY: [-1, 1],
    }
    assert set(scales.SCALES) == set(values)
    for scale, expected in values.items():
        choices = scales.choices(scale)
        assert [c.value for c in choices] == expected
        assert [c.key for c in choices] == [str(n) for n in range(1, len(expected) + 1)]
        assert choices[0].text.startswith("A ") and choices[-1].text.startswith("B ")
    assert scales.expected(scales.BINARY) == "-1 or 1"
    assert scales.expected(scales.RANKING6) == "1..6"


def test_gold_labels_count_as_given_when_their_item_rejoins_the_pool(team, admin):
    a, b, c = annotators_named(team, "ann", "bob", "cid")
    campaign = make_campaign(team, admin, [a, b, c], items=2, overlap=2, gold_rate=1.0)
    set_gold(campaign, admin, "c-0 -2")
    for user in (a, b):
        gold = assignment_next(campaign=campaign, annotator=user)
        assert gold.is_gold and gold.comparison.external_id == "c-0"
        label_submit(assignment=gold, annotator=user, answer=-1)
    campaign = campaign_update(campaign=campaign, by=admin, gold_rate=0.0)
    set_gold(campaign, admin, "")
    # Two labels already: the item wants no more, so the third annotator gets the other item.
    assert (slots(campaign, "taken")["c-0"], slots(campaign, "labels")["c-0"]) == (2, 2)
    assert assignment_next(campaign=campaign, annotator=c).comparison.external_id == "c-1"
