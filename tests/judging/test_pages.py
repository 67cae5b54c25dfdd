import pytest
from django.urls import reverse

from judgeapp.judging.models import Judge, JudgeRun, Judgment, PrincipleSet
from tests.factories import ComparisonFactory, DatasetFactory, JudgeRunFactory, JudgmentFactory
from tests.judging.conftest import run_pumps

pytestmark = pytest.mark.django_db

SECRET = "sk-very-secret-key-123"


def judge_form(genrm_url: str, **changes) -> dict:
    data = {
        "name": "qwen genrm",
        "protocol": "genrm",
        "base_url": genrm_url,
        "model": "nvidia/Qwen3-Nemotron-235B-A22B-GenRM",
        "api_key": SECRET,
        "api_key_env": "",
        "temperature": "",
        "top_p": "",
        "max_tokens": "",
        "max_in_flight": "16",
        "timeout_seconds": "30",
        "principle_position": "before",
        "structured_output": "json_schema",
    }
    data.update(changes)
    return data


def test_admin_creates_a_judge_whose_key_is_never_shown(admin_client, team):
    response = admin_client.post(reverse("judging:judge_new"), judge_form("http://127.0.0.1:9/v1"))
    judge = Judge.objects.get(team=team, name="qwen genrm")
    assert response.status_code == 302 and response.url == reverse("judging:judge", args=[judge.pk])
    assert judge.api_key_encrypted and SECRET not in judge.api_key_encrypted
    for url in (
        reverse("judging:judge", args=[judge.pk]),
        reverse("judging:judge_edit", args=[judge.pk]),
        reverse("judging:judges"),
        f"/api/judges/{judge.pk}/",
        "/api/judges/",
    ):
        body = admin_client.get(url).content.decode()
        assert SECRET not in body, url
    assert admin_client.get(f"/api/judges/{judge.pk}/").json()["has_api_key"] is True


def test_editing_a_judge_without_a_key_keeps_the_stored_one(admin_client, team):
    admin_client.post(reverse("judging:judge_new"), judge_form("http://127.0.0.1:9/v1"))
    judge = Judge.objects.get(team=team)
    stored = judge.api_key_encrypted
    admin_client.post(
        reverse("judging:judge_edit", args=[judge.pk]),
        judge_form("http://127.0.0.1:9/v1", api_key="", max_in_flight="4"),
    )
    judge.refresh_from_db()
    assert judge.max_in_flight == 4 and judge.api_key_encrypted == stored


def test_judge_form_names_the_bad_field(admin_client):
    response = admin_client.post(
        reverse("judging:judge_new"), judge_form("ftp://nowhere", temperature="7")
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "base_url" in body or "Enter a valid URL" in body
    assert not Judge.objects.exists()


def test_annotator_and_viewer_cannot_create_judges(client, annotator, viewer):
    for user in (annotator, viewer):
        client.force_login(user)
        response = client.post(reverse("judging:judge_new"), judge_form("http://127.0.0.1:9/v1"))
        assert response.status_code == 403
    assert not Judge.objects.exists()


def test_principle_library_adds_versions(admin_client, team):
    url = reverse("judging:principles")
    admin_client.post(url, {"name": "Safety", "principles": "Be honest.\n\nBe kind.\n"})
    admin_client.post(url, {"name": "Safety", "principles": "Be honest.\nBe kind.\nBe brief."})
    admin_client.post(url, {"name": "Safety", "principles": "Be honest.\nBe kind.\nBe brief."})
    versions = list(PrincipleSet.objects.filter(team=team).order_by("version"))
    assert [v.principles for v in versions] == [
        ["Be honest.", "Be kind."],
        ["Be honest.", "Be kind.", "Be brief."],
    ]
    page = admin_client.get(url + "?edit=Safety").content.decode()
    assert "Be brief." in page and "v2" in page


@pytest.mark.django_db(transaction=True)
def test_start_a_run_from_the_page_and_watch_it_finish(
    admin_client, team, make_judge, make_dataset
):
    judge = make_judge()
    dataset = make_dataset(4, texts=lambda i: {"metadata": {"domain": "code" if i else "math"}})
    response = admin_client.post(
        reverse("judging:run_new") + "?meta=domain:code",
        {"dataset": dataset.pk, "judges": [judge.pk], "samples": 1, "both_orders": "on",
         "principles": "Correctness first."},
    )  # fmt: skip
    run = JudgeRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("judging:run", args=[run.pk])
    assert run.judgments.count() == 6 and run.principles_override == ["Correctness first."]
    page = admin_client.get(response.url).content.decode()
    assert 'hx-trigger="every 2s"' in page and "0 of 6 finished" in page
    run_pumps()
    partial = admin_client.get(response.url, HTTP_HX_REQUEST="true").content.decode()
    assert "6 of 6 finished" in partial and "hx-trigger" not in partial
    judgment = run.judgments.first()
    detail = admin_client.get(reverse("judging:judgment", args=[run.pk, judgment.pk]))
    assert detail.status_code == 200 and "Reasoning" in detail.content.decode()


def test_run_page_shows_failures_and_offers_retry(admin_client, team):
    run = JudgeRunFactory(judge__team=team, status=JudgeRun.Status.DONE)
    JudgmentFactory(run=run, status=Judgment.Status.FAILED, error="HTTP 400: context too long")
    JudgmentFactory(run=run)
    page = admin_client.get(reverse("judging:run", args=[run.pk])).content.decode()
    assert "HTTP 400: context too long" in page and "Retry failed" in page
    response = admin_client.post(reverse("judging:run_action", args=[run.pk, "retry"]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.RUNNING
    assert run.judgments.filter(status=Judgment.Status.QUEUED).count() == 1


def test_cancel_from_the_page(admin_client, team):
    run = JudgeRunFactory(judge__team=team, status=JudgeRun.Status.RUNNING)
    JudgmentFactory(run=run, status=Judgment.Status.QUEUED, preference=None)
    admin_client.post(reverse("judging:run_action", args=[run.pk, "cancel"]))
    run.refresh_from_db()
    assert run.status == JudgeRun.Status.CANCELLED
    assert run.judgments.get().status == Judgment.Status.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_playground_judges_typed_text_and_saves_it(admin_client, team, make_judge):
    judge = make_judge()
    target = DatasetFactory(team=team, name="keepers")
    response = admin_client.post(
        reverse("judging:playground"),
        {"judge": judge.pk, "role": ["system", "user", "assistant", "user"],
         "content": ["Be terse.", "Hi", "Hello!", "What is 2+2?"],
         "response_1": "<think>hmm</think>4", "response_2": "5", "principles": "Be exact."},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in body
    judgment = Judgment.objects.get()
    assert judgment.comparison.conversation[-1] == {"role": "user", "content": "What is 2+2?"}
    assert judgment.comparison.dataset.is_playground
    run_pumps()
    result = admin_client.get(
        reverse("judging:playground_result", args=[judgment.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    judgment.refresh_from_db()
    assert judgment.preference is not None
    assert f'data-field="ranking">{judgment.ranking}' in result and "Save the item into" in result
    saved = admin_client.post(
        reverse("judging:playground_save", args=[judgment.pk]),
        {"dataset": target.pk, "external_id": "pg-1"},
    )
    assert saved.status_code == 302
    item = target.comparisons.get(external_id="pg-1")
    assert item.response_2 == "5" and item.principles == ["Be exact."]


def test_playground_rejects_a_conversation_not_ending_with_the_user(admin_client, team, make_judge):
    judge = make_judge()
    response = admin_client.post(
        reverse("judging:playground"),
        {"judge": judge.pk, "role": ["user", "assistant"], "content": ["Hi", "Hello"],
         "response_1": "a", "response_2": "b"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    assert "the last turn must be from the user" in response.content.decode()
    assert not Judgment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_test_connection_shows_the_parsed_answer(admin_client, team, make_judge):
    judge = make_judge()
    response = admin_client.post(reverse("judging:judge_test", args=[judge.pk]))
    assert 'hx-trigger="every 1s"' in response.content.decode()
    run_pumps()
    judgment = Judgment.objects.get()
    partial = admin_client.get(
        reverse("judging:playground_result", args=[judgment.pk]) + "?test=1",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "The judge answered" in partial and "Save the item into" not in partial


def test_dataset_page_links_to_judging_its_filtered_items(admin_client, team):
    dataset = DatasetFactory(team=team)
    ComparisonFactory(dataset=dataset)
    page = admin_client.get(reverse("datasets:detail", args=[dataset.pk]) + "?meta=domain:math")
    assert "Judge these items" in page.content.decode()
    assert (
        f"{reverse('judging:run_new')}?dataset={dataset.pk}&amp;meta=domain%3Amath"
        in page.content.decode()
    )
