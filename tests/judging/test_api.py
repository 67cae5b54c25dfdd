import pytest
from rest_framework.test import APIClient

from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet
from tests.judging.conftest import run_pumps

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin):
    client = APIClient()
    client.force_authenticate(admin)
    return client


def test_judge_crud_keeps_the_key_write_only(api, team):
    reply = api.post(
        "/api/judges/",
        {"team": team.pk, "name": "g", "protocol": "genrm", "base_url": "http://127.0.0.1:9/v1",
         "model": "m", "api_key": "sk-hidden-1", "max_in_flight": 32},
        format="json",
    )  # fmt: skip
    assert reply.status_code == 201, reply.json()
    body = reply.json()
    assert "api_key" not in body and body["has_api_key"] is True
    assert "sk-hidden-1" not in reply.content.decode()
    judge_id = body["id"]
    reply = api.patch(f"/api/judges/{judge_id}/", {"max_in_flight": 4}, format="json")
    assert reply.status_code == 200 and reply.json()["max_in_flight"] == 4
    assert Judge.objects.get(pk=judge_id).api_key_encrypted  # kept
    reply = api.patch(f"/api/judges/{judge_id}/", {"clear_api_key": True}, format="json")
    assert reply.json()["has_api_key"] is False
    assert api.delete(f"/api/judges/{judge_id}/").status_code == 204


def test_judge_validation_names_the_field(api, team):
    reply = api.post(
        "/api/judges/",
        {"team": team.pk, "name": "g", "protocol": "genrm", "base_url": "http://x/v1",
         "model": "m", "top_p": 3},
        format="json",
    )  # fmt: skip
    assert reply.status_code == 400
    assert "top_p" in str(reply.json())


def test_viewer_reads_but_cannot_change_judges(viewer, team):
    judge = Judge.objects.create(team=team, name="j", base_url="http://x/v1", model="m")
    client = APIClient()
    client.force_authenticate(viewer)
    assert client.get(f"/api/judges/{judge.pk}/").status_code == 200
    assert client.patch(f"/api/judges/{judge.pk}/", {"name": "k"}, format="json").status_code == 403
    assert client.post(f"/api/judges/{judge.pk}/test/").status_code == 403


def test_principle_sets_version_through_the_api(api, team):
    first = api.post(
        "/api/principle-sets/", {"team": team.pk, "name": "p", "principles": ["a"]}, format="json"
    ).json()
    second = api.post(
        "/api/principle-sets/",
        {"team": team.pk, "name": "p", "principles": ["a", "b"]},
        format="json",
    ).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert api.get("/api/principle-sets/?name=p").json()["count"] == 2
    assert PrincipleSet.objects.filter(team=team).count() == 2


@pytest.mark.django_db(transaction=True)
def test_run_through_the_api_cancel_and_retry(api, team, make_judge, make_dataset):
    judge = make_judge()
    dataset = make_dataset(3)
    reply = api.post(
        "/api/runs/",
        {"dataset": dataset.pk, "judge": judge.pk, "both_orders": True, "samples": 2,
         "principles": ["Be exact."]},
        format="json",
    )  # fmt: skip
    assert reply.status_code == 201, reply.json()
    run_id = reply.json()["id"]
    assert reply.json()["progress"]["total"] == 12
    cancelled = api.post(f"/api/runs/{run_id}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["progress"]["cancelled"] == 12
    assert api.post(f"/api/runs/{run_id}/cancel/").status_code == 400
    retried = api.post(f"/api/runs/{run_id}/retry/", {}, format="json").json()
    assert retried["status"] == "running" and retried["progress"]["queued"] == 12
    run_pumps()
    done = api.get(f"/api/runs/{run_id}/").json()
    assert done["status"] == "done" and done["progress"]["done"] == 12
    rows = api.get(f"/api/judgments/?run={run_id}").json()
    assert rows["count"] == 12 and "lease_owner" not in rows["results"][0]


def test_run_with_no_matching_items_is_refused(api, team, make_judge, make_dataset):
    reply = api.post(
        "/api/runs/",
        {"dataset": make_dataset(2).pk, "judge": make_judge().pk, "filters": {"q": "zzz-none"}},
        format="json",
    )
    assert reply.status_code == 400 and "No items to judge" in reply.json()["detail"]
    assert not JudgeRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_playground_through_the_api(api, team, make_judge, make_dataset):
    judge = make_judge()
    reply = api.post(
        "/api/playground/",
        {"judge": judge.pk, "conversation": [{"role": "user", "content": "2+2?"}],
         "response_1": "4", "response_2": "5", "principles": ["Be right."]},
        format="json",
    )  # fmt: skip
    assert reply.status_code == 202, reply.json()
    judgment_id = reply.json()["id"]
    run_pumps()
    verdict = api.get(f"/api/judgments/{judgment_id}/").json()
    assert verdict["status"] == "done" and verdict["preference"] is not None
    target = make_dataset(0)
    saved = api.post(f"/api/playground/{judgment_id}/save/", {"dataset": target.pk}, format="json")
    assert saved.status_code == 201 and target.comparisons.count() == 1
    assert Judgment.objects.get(pk=judgment_id).comparison.dataset.is_playground
