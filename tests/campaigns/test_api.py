import pytest
from rest_framework.test import APIClient

from judgeapp.accounts.models import Membership
from judgeapp.campaigns.models import Label
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
