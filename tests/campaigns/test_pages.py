import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from judgeapp.accounts.models import Membership
from judgeapp.campaigns.models import Assignment, Campaign, GuidelineVersion, Label
from judgeapp.campaigns.services import assignment_next, campaign_create, label_submit
from tests.factories import ComparisonFactory, DatasetFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(team):
    dataset = DatasetFactory(team=team, name="pairs")
    for n in range(3):
        ComparisonFactory(
            dataset=dataset,
            external_id=f"q{n}",
            response_1=f"left **{n}**",
            response_2=f"right <script>alert({n})</script>",
        )
    return dataset


@pytest.fixture
def campaign(team, admin, annotator, dataset):
    return campaign_create(
        team=team, dataset=dataset, name="round 1", by=admin, annotators=[annotator],
        overlap=1, randomise_order=False, guidelines="Prefer **correct** answers.",
    )  # fmt: skip


def login(client, user):
    client.force_login(user)
    return client


def campaign_form(dataset, annotators, **changes) -> dict:
    data = {
        "name": "round 2", "dataset": dataset.pk, "guidelines": "Be fair.", "scale": "helpsteer3",
        "rationale": "optional", "overlap": "2", "assignment": "least_labelled", "seed": "0",
        "randomise_order": "on", "gold_rate": "0", "lock_minutes": "30", "min_seconds": "5",
        "deadline": "", "annotators": [u.pk for u in annotators],
    }  # fmt: skip
    data.update(changes)
    return data


def test_admin_sets_up_a_campaign_from_the_page(client, admin, annotator, dataset):
    login(client, admin)
    assert client.get(reverse("campaigns:new") + f"?dataset={dataset.pk}").status_code == 200
    response = client.post(reverse("campaigns:new"), campaign_form(dataset, [annotator]))
    campaign = Campaign.objects.get(name="round 2")
    assert response.status_code == 302
    assert response.url == reverse("campaigns:detail", args=[campaign.pk])
    assert list(campaign.annotators.all()) == [annotator]
    assert campaign.items.count() == 3 and campaign.overlap == 2
    assert GuidelineVersion.objects.get(campaign=campaign).text == "Be fair."
    page = client.get(response.url)
    assert page.status_code == 200 and annotator.username.encode() in page.content


def test_campaign_over_the_filtered_items_only(client, admin, annotator, dataset):
    code = ComparisonFactory(dataset=dataset, metadata={"domain": "code"})
    login(client, admin)
    url = reverse("campaigns:new") + f"?dataset={dataset.pk}&meta=domain:code"
    client.post(url, campaign_form(dataset, [annotator]))
    campaign = Campaign.objects.get(name="round 2")
    assert campaign.filters == {"meta": ["domain:code"]}
    assert list(campaign.items.values_list("comparison", flat=True)) == [code.pk]


def test_setup_errors_name_the_field(client, admin, outsider, dataset):
    login(client, admin)
    response = client.post(reverse("campaigns:new"), campaign_form(dataset, [], overlap="0"))
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert b"Ensure this value is greater than or equal to 1" in response.content


def test_settings_keep_guideline_versions(client, admin, campaign):
    login(client, admin)
    data = campaign_form(campaign.dataset, list(campaign.annotators.all()), name="round 1")
    data.pop("dataset")
    data["guidelines"] = "Prefer *short* correct answers."
    response = client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    assert response.status_code == 302
    versions = list(campaign.guideline_versions.order_by("version").values_list("text", flat=True))
    assert versions == ["Prefer **correct** answers.", "Prefer *short* correct answers."]
    page = client.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert b"Version 2" in page.content and b"Version 1" in page.content


def test_annotator_labels_an_item_on_the_page(client, annotator, campaign):
    login(client, annotator)
    page = client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<strong>correct</strong>" in body  # guidelines rendered as markdown
    assert "<script>alert" not in body  # responses sanitised
    assert 'data-key="1"' in body and "A is much better" in body
    assignment = Assignment.objects.get(annotator=annotator)
    response = client.post(
        reverse("campaigns:annotate", args=[campaign.pk]),
        {"assignment": assignment.pk, "answer": "-2", "seconds_spent": "12.5"},
    )
    assert response.status_code == 302
    label = Label.objects.get(annotator=annotator)
    assert (label.preference, label.seconds_spent) == (-2, 12.5)
    following = client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assert Assignment.objects.filter(annotator=annotator).count() == 2
    assert f"campaigns/{campaign.pk}/labels/{label.pk}/" in following.content.decode()


def test_missing_answer_is_reported_and_nothing_written(client, annotator, campaign):
    login(client, annotator)
    client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assignment = Assignment.objects.get(annotator=annotator)
    response = client.post(
        reverse("campaigns:annotate", args=[campaign.pk]), {"assignment": assignment.pk}
    )
    assert response.status_code == 400 and b"Pick an answer" in response.content
    assert not Label.objects.exists()


def test_skip_from_the_page_records_the_reason(client, annotator, campaign):
    login(client, annotator)
    client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assignment = Assignment.objects.get(annotator=annotator)
    client.post(
        reverse("campaigns:annotate", args=[campaign.pk]),
        {"assignment": assignment.pk, "action": "skip", "reason": "not my language"},
    )
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason) == ("skipped", "not my language")


def test_editing_a_label_keeps_its_history(client, annotator, campaign):
    login(client, annotator)
    assignment = assignment_next(campaign=campaign, annotator=annotator)
    label = label_submit(assignment=assignment, annotator=annotator, answer=1)
    url = reverse("campaigns:label", args=[campaign.pk, label.pk])
    response = client.post(url, {"answer": "-3"})
    assert response.status_code == 302
    label.refresh_from_db()
    assert label.preference == -3
    body = client.get(url).content.decode()
    assert "B is slightly better" in body and "A is much better" in body
    assert [h.after["preference"] for h in label.history.all()] == [1, -3]


def test_done_page_when_nothing_is_left(client, annotator, campaign):
    login(client, annotator)
    for _ in range(3):
        assignment = assignment_next(campaign=campaign, annotator=annotator)
        label_submit(assignment=assignment, annotator=annotator, answer=0)
    page = client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assert page.status_code == 200 and b"Nothing left for you" in page.content


def test_dashboard_and_its_live_partial(client, admin, annotator, campaign):
    assignment = assignment_next(campaign=campaign, annotator=annotator)
    label_submit(assignment=assignment, annotator=annotator, answer=-1, seconds_spent=2.0)
    login(client, admin)
    page = client.get(reverse("campaigns:detail", args=[campaign.pk]))
    assert b'hx-trigger="every 5s"' in page.content
    partial = client.get(reverse("campaigns:detail", args=[campaign.pk]), HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "<html" not in body and annotator.username in body
    assert "1 of 3 labels" in body


def test_review_and_adjudicate(client, team, admin, annotator, dataset):
    second = MembershipFactory(team=team, role=Membership.Role.ANNOTATOR).user
    campaign = campaign_create(
        team=team, dataset=dataset, name="r", by=admin, annotators=[annotator, second],
        overlap=2, randomise_order=False,
    )  # fmt: skip
    for user, answer in ((annotator, -2), (second, 2)):
        while assignment := assignment_next(campaign=campaign, annotator=user):
            agreed = assignment.comparison.external_id != "q0"
            label_submit(assignment=assignment, annotator=user, answer=-1 if agreed else answer)
    item = dataset.comparisons.get(external_id="q0")
    login(client, admin)
    review = client.get(reverse("campaigns:review", args=[campaign.pk]))
    assert b">q0</a>" in review.content and b">q1</a>" not in review.content
    url = reverse("campaigns:review_item", args=[campaign.pk, item.pk])
    assert client.post(url, {"answer": "1", "rationale": "B is right"}).status_code == 302
    decided = Label.objects.get(kind=Label.Kind.ADJUDICATION)
    assert (decided.preference, decided.annotator, decided.rationale) == (1, admin, "B is right")
    assert b">q0</a>" not in client.get(reverse("campaigns:review", args=[campaign.pk])).content
    client.post(reverse("campaigns:review", args=[campaign.pk]) + "?all=1", {"extra": "1"})
    # Adjudicated items are settled: no more labels for them.
    assert campaign.items.get(comparison=item).wanted == 2


def test_close_and_reopen(client, admin, annotator, campaign):
    login(client, admin)
    client.post(reverse("campaigns:status", args=[campaign.pk, "closed"]))
    campaign.refresh_from_db()
    assert campaign.status == "closed"
    login(client, annotator)
    page = client.get(reverse("campaigns:annotate", args=[campaign.pk]))
    assert b"This campaign is closed" in page.content
    login(client, admin)
    client.post(reverse("campaigns:status", args=[campaign.pk, "open"]))
    campaign.refresh_from_db()
    assert campaign.status == "open"


def test_pages_are_404_for_outsiders_and_other_annotators(client, team, outsider, campaign):
    other = MembershipFactory(team=team, role=Membership.Role.ANNOTATOR).user
    assignment = assignment_next(campaign=campaign, annotator=campaign.annotators.get())
    label = label_submit(assignment=assignment, annotator=campaign.annotators.get(), answer=1)
    urls = [
        reverse("campaigns:annotate", args=[campaign.pk]),
        reverse("campaigns:labels", args=[campaign.pk]),
        reverse("campaigns:label", args=[campaign.pk, label.pk]),
    ]
    for user in (outsider, other):
        login(client, user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(urls[2], {"answer": "-3"}).status_code == 404
    label.refresh_from_db()
    assert label.preference == 1


def _item_count_queries(team, admin, annotator, items: int) -> tuple[int, int]:
    dataset = DatasetFactory(team=team, name=f"d{items}")
    ComparisonFactory.create_batch(items, dataset=dataset)
    campaign = campaign_create(
        team=team, dataset=dataset, name=f"c{items}", by=admin, annotators=[annotator], overlap=2
    )
    api = APIClient()
    api.force_authenticate(annotator)
    # Warm up: one labelled item, so the counted round has a previous label and a held lock.
    first = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    api.post(f"/api/assignments/{first['id']}/submit/", {"answer": 1}, format="json")
    with CaptureQueriesContext(connection) as next_queries:
        item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    with CaptureQueriesContext(connection) as submit_queries:
        reply = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": -1}, format="json")
    assert reply.status_code == 201
    return len(next_queries), len(submit_queries)


def test_queries_per_request_do_not_grow_with_the_items(team, admin, annotator):
    small = _item_count_queries(team, admin, annotator, 5)
    large = _item_count_queries(team, admin, annotator, 200)
    assert small == large
    assert small[0] <= 20 and small[1] <= 20


def test_page_queries_do_not_grow_with_the_items(client, team, admin, annotator):
    counts = []
    for items in (5, 120):
        dataset = DatasetFactory(team=team, name=f"p{items}")
        ComparisonFactory.create_batch(items, dataset=dataset)
        campaign = campaign_create(
            team=team, dataset=dataset, name=f"p{items}", by=admin, annotators=[annotator]
        )
        login(client, annotator)
        for _ in range(2):
            assignment = assignment_next(campaign=campaign, annotator=annotator)
            label_submit(assignment=assignment, annotator=annotator, answer=1)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("campaigns:annotate", args=[campaign.pk])).status_code == 200
        login(client, admin)
        with CaptureQueriesContext(connection) as dashboard:
            assert client.get(reverse("campaigns:detail", args=[campaign.pk])).status_code == 200
        counts.append((len(queries), len(dashboard)))
    assert counts[0] == counts[1]
