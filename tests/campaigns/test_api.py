import pytest
from rest_framework.test import APIClient

from judgeapp.accounts.models import Membership
from judgeapp.campaigns.models import Assignment, Campaign, Label
from judgeapp.campaigns.services import campaign_create
from tests.factories import ComparisonFactory, DatasetFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(team, admin, annotator):
    dataset = DatasetFactory(team=team)
    ComparisonFactory(dataset=dataset, response_1="left text", response_2="right text")
    return campaign_create(
        team=team, dataset=dataset, name="c", by=admin, annotators=[annotator], overlap=1
    )


def api_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_annotator_labels_through_the_api(campaign, annotator):
    api = api_for(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    assert {item["response_a"], item["response_b"]} == {"left text", "right text"}
    assert "response_1" not in item and "labels" not in item
    reply = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": -2}, format="json")
    assert reply.status_code == 201, reply.json()
    label = Label.objects.get()
    # -2 = the first shown response is better; stored in the item's own order.
    swapped = item["response_a"] == "right text"
    assert label.preference == (2 if swapped else -2)
    assert api.post(f"/api/assignments/next/?campaign={campaign.pk}").status_code == 204
    again = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": 1}, format="json")
    assert again.status_code == 400 and "edit your label" in again.json()["detail"]


def test_bad_answer_names_the_scale(campaign, annotator):
    api = api_for(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    reply = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": 9}, format="json")
    assert reply.status_code == 400 and "-3..3" in reply.json()["detail"]
    assert not Label.objects.exists()


def test_outsider_and_other_annotators_get_404(campaign, annotator, outsider, team):
    item = api_for(annotator).post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    other = MembershipFactory(team=team, role=Membership.Role.ANNOTATOR, user__username="zed").user
    for user in (outsider, other):
        api = api_for(user)
        assert api.post(f"/api/assignments/next/?campaign={campaign.pk}").status_code == 404
        assert api.get(f"/api/assignments/{item['id']}/").status_code == 404
        reply = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": 1}, format="json")
        assert reply.status_code == 404
    assert not Label.objects.exists()
    assert api_for(annotator).get(f"/api/assignments/{item['id']}/").status_code == 200


def test_skip_through_the_api(campaign, annotator):
    api = api_for(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    reply = api.post(f"/api/assignments/{item['id']}/skip/", {"reason": "off topic"}, format="json")
    assert reply.status_code == 200 and reply.json()["status"] == "skipped"
    assert api.post(f"/api/assignments/next/?campaign={campaign.pk}").status_code == 204


# Set-up, the lead's endpoints, label edits ---------------------------------------------------


@pytest.fixture
def pairs(team):
    dataset = DatasetFactory(team=team, name="pairs")
    for n in range(4):
        ComparisonFactory(
            dataset=dataset, external_id=f"p{n}", metadata={"lang": "en" if n else "de"}
        )
    return dataset


def test_admin_sets_up_and_changes_a_campaign(admin, annotator, viewer, pairs):
    api = api_for(admin)
    reply = api.post(
        "/api/campaigns/",
        {
            "dataset": pairs.pk, "name": "round 1", "overlap": 2, "scale": "ternary",
            "annotators": [annotator.username], "filters": {"meta": ["lang:en"]},
            "guidelines": "v1",
        },
        format="json",
    )  # fmt: skip
    assert reply.status_code == 201, reply.json()
    body = reply.json()
    assert body["annotators"] == [annotator.username] and body["filters"] == {"meta": ["lang:en"]}
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.items.count() == 3
    changed = api.patch(
        f"/api/campaigns/{campaign.pk}/", {"guidelines": "v2", "overlap": 3}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["overlap"] == 3
    assert set(campaign.items.values_list("wanted", flat=True)) == {3}
    versions = api.get(f"/api/campaigns/{campaign.pk}/guidelines/").json()
    assert [v["text"] for v in versions] == ["v2", "v1"]
    # Viewers read, but do not change.
    assert api_for(viewer).get(f"/api/campaigns/{campaign.pk}/").status_code == 200
    refused = api_for(viewer).patch(f"/api/campaigns/{campaign.pk}/", {"overlap": 1})
    assert refused.status_code == 403


def test_setup_errors_name_the_field(admin, viewer, outsider, pairs):
    api = api_for(admin)
    reply = api.post(
        "/api/campaigns/",
        {"dataset": pairs.pk, "name": "x", "annotators": [outsider.username]},
        format="json",
    )
    assert reply.status_code == 400 and outsider.username in str(reply.json()["annotators"])
    reply = api.post(
        "/api/campaigns/", {"dataset": pairs.pk, "name": "x", "overlap": 0}, format="json"
    )
    assert reply.status_code == 400 and "overlap" in str(reply.json())
    reply = api_for(viewer).post("/api/campaigns/", {"dataset": pairs.pk, "name": "x"})
    assert reply.status_code == 403
    assert not Campaign.objects.exists()


def test_close_and_reopen_through_the_api(admin, annotator, campaign):
    api = api_for(admin)
    assert api.post(f"/api/campaigns/{campaign.pk}/close/").json()["status"] == "closed"
    reply = api_for(annotator).post(f"/api/assignments/next/?campaign={campaign.pk}")
    assert reply.status_code == 400 and "closed" in reply.json()["detail"]
    assert api.post(f"/api/campaigns/{campaign.pk}/reopen/").json()["status"] == "open"
    assert (
        api_for(annotator).post(f"/api/assignments/next/?campaign={campaign.pk}").status_code == 200
    )


def test_progress_for_leads_not_annotators(admin, viewer, annotator, campaign):
    item = api_for(annotator).post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    api_for(annotator).post(
        f"/api/assignments/{item['id']}/submit/", {"answer": 0, "seconds_spent": 3}, format="json"
    )
    body = api_for(viewer).get(f"/api/campaigns/{campaign.pk}/progress/").json()
    assert (body["labels_given"], body["labels_wanted"], body["complete"]) == (1, 1, 1)
    (row,) = body["annotators"]
    assert row["username"] == annotator.username and row["done"] == 1
    assert row["tie_rate"] == 1.0 and row["too_fast_share"] == 1.0 and row["median_seconds"] == 3
    reply = api_for(annotator).get(f"/api/campaigns/{campaign.pk}/progress/")
    assert reply.status_code == 404


def test_gold_items_through_the_api(admin, team, annotator, pairs):
    campaign = campaign_create(
        team=team, dataset=pairs, name="g", by=admin, annotators=[annotator], gold_rate=1.0
    )
    api = api_for(admin)
    bad = api.put(
        f"/api/campaigns/{campaign.pk}/gold/",
        [{"id": "p0", "expected_preference": -2}, {"id": "nope", "expected_preference": 1}],
        format="json",
    )
    assert bad.status_code == 400 and "entry 2: no item 'nope'" in bad.json()["detail"]
    assert not campaign.gold_items.exists()
    good = api.put(
        f"/api/campaigns/{campaign.pk}/gold/",
        [{"id": "p0", "expected_preference": -2}],
        format="json",
    )
    assert good.json() == [{"id": "p0", "expected_preference": -2}]
    item = api_for(annotator).post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    assert Assignment.objects.get(pk=item["id"]).is_gold


def test_review_adjudicate_and_add_overlap(admin, team, annotator, pairs):
    second = MembershipFactory(team=team, role=Membership.Role.ANNOTATOR, user__username="b").user
    campaign = campaign_create(
        team=team, dataset=pairs, name="r", by=admin, annotators=[annotator, second], overlap=2,
        randomise_order=False,
    )  # fmt: skip
    for user, answer in ((annotator, -1), (second, 1)):
        api = api_for(user)
        while (
            reply := api.post(f"/api/assignments/next/?campaign={campaign.pk}")
        ).status_code == 200:
            item = reply.json()
            differ = Assignment.objects.get(pk=item["id"]).comparison.external_id == "p1"
            api.post(
                f"/api/assignments/{item['id']}/submit/",
                {"answer": answer if differ else -1},
                format="json",
            )
    lead = api_for(admin)
    queue = lead.get(f"/api/campaigns/{campaign.pk}/review/").json()
    p1 = pairs.comparisons.get(external_id="p1")
    assert queue["count"] == 1 and queue["results"][0]["comparison"] == p1.pk
    assert (queue["results"][0]["low"], queue["results"][0]["high"]) == (-1, 1)
    added = lead.post(f"/api/campaigns/{campaign.pk}/add-overlap/", {"extra": 2}, format="json")
    assert added.json() == {"items": 1}
    assert campaign.items.get(comparison=p1).wanted == 4
    decided = lead.post(
        f"/api/campaigns/{campaign.pk}/adjudicate/",
        {"comparison": p1.pk, "answer": 1, "rationale": "B cites"},
        format="json",
    )
    assert decided.status_code == 200 and decided.json()["kind"] == "adjudication"
    assert lead.get(f"/api/campaigns/{campaign.pk}/review/").json()["count"] == 0
    everything = lead.get(f"/api/campaigns/{campaign.pk}/review/?all=1").json()
    assert everything["results"][0]["decided"] is True
    # Annotators never see the adjudication or each other's labels.
    seen = api_for(annotator).get(f"/api/labels/?campaign={campaign.pk}").json()
    seen = seen["results"] if isinstance(seen, dict) else seen
    assert {row["annotator"] for row in seen} == {annotator.username}


def test_annotator_edits_own_label_and_reads_its_history(team, annotator, campaign):
    api = api_for(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    label = api.post(f"/api/assignments/{item['id']}/submit/", {"answer": 1}, format="json").json()
    reply = api.patch(f"/api/labels/{label['id']}/", {"answer": -3, "rationale": "second look"})
    assert reply.status_code == 200, reply.json()
    swapped = label["shown_swapped"]
    assert reply.json()["preference"] == (3 if swapped else -3)
    history = api.get(f"/api/labels/{label['id']}/history/").json()
    assert [h["after"]["preference"] for h in history] == [
        label["preference"],
        reply.json()["preference"],
    ]
    assert history[1]["before"]["preference"] == label["preference"]
    assert history[1]["changed_by"] == annotator.username
    other = MembershipFactory(team=team, role=Membership.Role.ANNOTATOR, user__username="o").user
    assert api_for(other).patch(f"/api/labels/{label['id']}/", {"answer": 0}).status_code == 404
    assert api_for(other).get(f"/api/labels/{label['id']}/history/").status_code == 404


def test_campaign_labels_travel_with_the_dataset_export(admin, annotator, campaign):
    import json

    api = api_for(annotator)
    item = api.post(f"/api/assignments/next/?campaign={campaign.pk}").json()
    label = api.post(
        f"/api/assignments/{item['id']}/submit/",
        {"answer": -3, "rationale": "clearer"},
        format="json",
    ).json()
    reply = api_for(admin).get(f"/api/datasets/{campaign.dataset_id}/export/?format=jsonl")
    assert reply.status_code == 200, (reply.status_code, getattr(reply, "data", None))
    (record,) = [json.loads(line) for line in b"".join(reply.streaming_content).splitlines()]
    assert record["labels"] == [
        {"annotator": annotator.username, "preference": label["preference"], "rationale": "clearer"}
    ]
