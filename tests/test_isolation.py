"""Teams are kept apart: a user of team A gets 404 for every page and API object of team B."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from judgeapp.accounts.models import Membership
from judgeapp.reports.models import Report
from tests.factories import (
    CampaignFactory,
    ComparisonFactory,
    ImportJobFactory,
    JudgeFactory,
    JudgeRunFactory,
    JudgmentFactory,
    LabelFactory,
    MembershipFactory,
    PrincipleSetFactory,
)

pytestmark = pytest.mark.django_db

# The smallest result document a report page renders.
EMPTY_REPORT = {
    "counts": {"items": 0, "labelled_items": 0, "labels": 0, "annotators": 0, "adjudicated": 0},
    "human_human": {},
    "human_confusion": [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
    "annotators": [],
    "judges": {},
    "ranking": [],
    "breakdown": {},
    "disagreements": [],
    "config": {"tie_policy": "strict", "resamples": 0, "seed": 0, "humans": "all"},
    "fingerprint": "f" * 64,
}


@pytest.fixture
def team_b_objects(other_team, outsider):
    comparison = ComparisonFactory(dataset__team=other_team)
    dataset = comparison.dataset
    judge = JudgeFactory(team=other_team)
    run = JudgeRunFactory(judge=judge, dataset=dataset)
    judgment = JudgmentFactory(run=run, comparison=comparison)
    campaign = CampaignFactory(dataset=dataset)
    label = LabelFactory(campaign=campaign, comparison=comparison, annotator=outsider)
    return {
        "dataset": dataset,
        "comparison": comparison,
        "import": ImportJobFactory(dataset=dataset),
        "judge": judge,
        "principle_set": PrincipleSetFactory(team=other_team),
        "run": run,
        "judgment": judgment,
        "campaign": campaign,
        "label": label,
        "membership": Membership.objects.get(team=other_team, user=outsider),
        "report": Report.objects.create(
            team=other_team,
            dataset=dataset,
            config={},
            fingerprint="f" * 64,
            status=Report.Status.DONE,
            result=EMPTY_REPORT,
        ),
    }


def _pages(o):
    return [
        reverse("datasets:detail", args=[o["dataset"].pk]),
        reverse("datasets:comparison", args=[o["dataset"].pk, o["comparison"].pk]),
        reverse("judging:judge", args=[o["judge"].pk]),
        reverse("judging:run", args=[o["run"].pk]),
        reverse("judging:judgment", args=[o["run"].pk, o["judgment"].pk]),
        reverse("campaigns:detail", args=[o["campaign"].pk]),
        reverse("datasets:import", args=[o["import"].pk]),
        reverse("datasets:export", args=[o["dataset"].pk, "jsonl"]),
        reverse("datasets:export", args=[o["dataset"].pk, "csv"]),
        reverse("reports:detail", args=[o["report"].pk]),
        reverse("reports:export", args=[o["report"].pk, "html"]),
    ]


def _api_objects(o):
    return [
        f"/api/datasets/{o['dataset'].pk}/",
        f"/api/comparisons/{o['comparison'].pk}/",
        f"/api/imports/{o['import'].pk}/",
        f"/api/judges/{o['judge'].pk}/",
        f"/api/principle-sets/{o['principle_set'].pk}/",
        f"/api/runs/{o['run'].pk}/",
        f"/api/judgments/{o['judgment'].pk}/",
        f"/api/campaigns/{o['campaign'].pk}/",
        f"/api/labels/{o['label'].pk}/",
        f"/api/memberships/{o['membership'].pk}/",
        f"/api/teams/{o['membership'].team_id}/",
        f"/api/datasets/{o['dataset'].pk}/export/",
        f"/api/reports/{o['report'].pk}/",
        f"/api/reports/{o['report'].pk}/export/",
    ]


@pytest.fixture
def stranger(team, other_team):
    """An admin of a third team: a member of neither A nor B."""
    return MembershipFactory(user__username="sam", role=Membership.Role.ADMIN).user


@pytest.mark.parametrize("who", ["admin", "annotator", "stranger"])
def test_pages_of_another_team_are_404(request, client, team_b_objects, who):
    client.force_login(request.getfixturevalue(who))
    for url in _pages(team_b_objects):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("who", ["admin", "annotator", "stranger"])
def test_api_objects_of_another_team_are_404(request, team_b_objects, who):
    api = APIClient()
    api.force_authenticate(request.getfixturevalue(who))
    for url in _api_objects(team_b_objects):
        assert api.get(url).status_code == 404, url
    membership = team_b_objects["membership"]
    assert api.patch(f"/api/memberships/{membership.pk}/", {"role": "viewer"}).status_code == 404
    assert api.delete(f"/api/memberships/{membership.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["admin", "annotator", "stranger"])
def test_api_lists_hold_nothing_of_another_team(request, team_b_objects, who):
    api = APIClient()
    api.force_authenticate(request.getfixturevalue(who))
    b_ids = {
        (url.split("/")[2], url.split("/")[3])
        for url in _api_objects(team_b_objects)
        if not url.endswith("/export/")
    }
    for resource in {name for name, _ in b_ids}:
        rows = api.get(f"/api/{resource}/").json()
        rows = rows["results"] if isinstance(rows, dict) else rows
        assert not {(resource, str(r["pk"] if "pk" in r else r["id"])) for r in rows} & b_ids


def test_the_owner_team_does_see_its_objects(client, outsider, team_b_objects):
    """The positive control: the same URLs answer 200 for team B's own admin."""
    client.force_login(outsider)
    for url in _pages(team_b_objects):
        assert client.get(url).status_code == 200, url
    api = APIClient()
    api.force_authenticate(outsider)
    for url in _api_objects(team_b_objects):
        assert api.get(url).status_code == 200, url


def test_outsider_cannot_add_members_to_another_team(other_team, admin, team):
    api = APIClient()
    api.force_authenticate(admin)
    reply = api.post(
        "/api/memberships/", {"team": other_team.pk, "identifier": "alice", "role": "admin"}
    )
    assert reply.status_code == 400
    assert not Membership.objects.filter(team=other_team, user=admin).exists()


def test_annotator_sees_no_data_pages_of_own_team(client, annotator, team):
    comparison = ComparisonFactory(dataset__team=team)
    client.force_login(annotator)
    assert client.get(reverse("datasets:index")).status_code == 403
    url = reverse("datasets:comparison", args=[comparison.dataset_id, comparison.pk])
    assert client.get(url).status_code == 404
    api = APIClient()
    api.force_authenticate(annotator)
    assert api.get(f"/api/comparisons/{comparison.pk}/").status_code == 404


def test_nobody_imports_into_another_teams_dataset(client, admin, team_b_objects):
    from django.core.files.uploadedfile import SimpleUploadedFile

    dataset = team_b_objects["dataset"]
    before = dataset.comparisons.count()
    data = b'{"id": "x", "conversation": [{"role": "user", "content": "hi"}], "response_1": "a", "response_2": "b"}\n'
    client.force_login(admin)
    page = client.post(
        reverse("datasets:import_new"),
        {"dataset": dataset.pk, "format": "auto", "file": SimpleUploadedFile("x.jsonl", data)},
    )
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()
    api = APIClient()
    api.force_authenticate(admin)
    reply = api.post(
        "/api/imports/",
        {"dataset": dataset.pk, "file": SimpleUploadedFile("x.jsonl", data)},
        format="multipart",
    )
    assert reply.status_code == 400 and reply.json() == {"dataset": "No such dataset."}
    reply = api.post(
        "/api/imports/",
        {
            "team": dataset.team_id,
            "dataset_name": "sneaky",
            "file": SimpleUploadedFile("x.jsonl", data),
        },
        format="multipart",
    )
    assert reply.status_code == 400
    assert dataset.comparisons.count() == before
    assert not type(dataset).objects.filter(name="sneaky").exists()


@pytest.fixture
def team_b_playground(other_team, outsider):
    from judgeapp.judging.services import playground_judge

    judge = JudgeFactory(team=other_team)
    return playground_judge(
        team=other_team,
        judge=judge,
        by=outsider,
        conversation=[{"role": "user", "content": "hi"}],
        response_1="a",
        response_2="b",
    )


@pytest.mark.parametrize("who", ["admin", "annotator", "stranger"])
def test_judging_writes_on_another_team_are_refused(
    request, client, team_b_objects, team_b_playground, who
):
    from judgeapp.judging.models import JudgeRun

    user = request.getfixturevalue(who)
    judge, run = team_b_objects["judge"], team_b_objects["run"]
    run.status = JudgeRun.Status.RUNNING
    run.save()
    client.force_login(user)
    pages = [
        ("get", reverse("judging:judge_edit", args=[judge.pk])),
        ("post", reverse("judging:judge_test", args=[judge.pk])),
        ("post", reverse("judging:run_action", args=[run.pk, "cancel"])),
        ("post", reverse("judging:run_action", args=[run.pk, "retry"])),
        ("get", reverse("judging:playground_result", args=[team_b_playground.pk])),
        ("post", reverse("judging:playground_save", args=[team_b_playground.pk])),
    ]
    for method, url in pages:
        assert getattr(client, method)(url).status_code in (403, 404), url
    api = APIClient()
    api.force_authenticate(user)
    calls = [
        ("patch", f"/api/judges/{judge.pk}/", {"max_in_flight": 1}),
        ("delete", f"/api/judges/{judge.pk}/", None),
        ("post", f"/api/judges/{judge.pk}/test/", None),
        ("post", f"/api/runs/{run.pk}/cancel/", None),
        ("post", f"/api/runs/{run.pk}/retry/", None),
        ("post", f"/api/playground/{team_b_playground.pk}/save/", {"dataset": run.dataset_id}),
        ("post", "/api/runs/", {"dataset": run.dataset_id, "judge": judge.pk}),
        ("post", "/api/playground/", {
            "judge": judge.pk, "conversation": [{"role": "user", "content": "x"}],
            "response_1": "a", "response_2": "b"}),
        ("post", "/api/principle-sets/", {"team": judge.team_id, "name": "x", "principles": ["y"]}),
    ]  # fmt: skip
    for method, url, data in calls:
        reply = getattr(api, method)(url, data, format="json")
        assert reply.status_code in (400, 403, 404), (url, reply.status_code)
    run.refresh_from_db()
    judge.refresh_from_db()
    assert run.status == JudgeRun.Status.RUNNING and judge.max_in_flight != 1
    assert run.judgments.count() == 1


@pytest.mark.parametrize("who", ["admin", "annotator", "stranger"])
def test_campaign_writes_on_another_team_are_refused(request, client, team_b_objects, who):
    from judgeapp.campaigns.models import CampaignItem, Label

    user = request.getfixturevalue(who)
    campaign, label = team_b_objects["campaign"], team_b_objects["label"]
    comparison = team_b_objects["comparison"]
    CampaignItem.objects.create(campaign=campaign, comparison=comparison, wanted=3)
    client.force_login(user)
    pages = [
        ("get", reverse("campaigns:edit", args=[campaign.pk])),
        ("post", reverse("campaigns:gold", args=[campaign.pk])),
        ("post", reverse("campaigns:status", args=[campaign.pk, "closed"])),
        ("get", reverse("campaigns:review", args=[campaign.pk])),
        ("post", reverse("campaigns:review", args=[campaign.pk])),
        ("post", reverse("campaigns:review_item", args=[campaign.pk, comparison.pk])),
        ("get", reverse("campaigns:annotate", args=[campaign.pk])),
        ("get", reverse("campaigns:labels", args=[campaign.pk])),
        ("post", reverse("campaigns:label", args=[campaign.pk, label.pk])),
    ]
    for method, url in pages:
        assert getattr(client, method)(url, {"answer": "1"}).status_code in (403, 404), url
    api = APIClient()
    api.force_authenticate(user)
    calls = [
        ("patch", f"/api/campaigns/{campaign.pk}/", {"overlap": 1}),
        ("post", f"/api/campaigns/{campaign.pk}/close/", None),
        ("get", f"/api/campaigns/{campaign.pk}/progress/", None),
        ("get", f"/api/campaigns/{campaign.pk}/review/", None),
        ("put", f"/api/campaigns/{campaign.pk}/gold/", []),
        ("post", f"/api/campaigns/{campaign.pk}/add-overlap/", {"extra": 1}),
        ("post", f"/api/campaigns/{campaign.pk}/adjudicate/", {
            "comparison": comparison.pk, "answer": 1}),
        ("patch", f"/api/labels/{label.pk}/", {"answer": 3}),
        ("get", f"/api/labels/{label.pk}/history/", None),
        ("post", f"/api/assignments/next/?campaign={campaign.pk}", None),
        ("post", "/api/campaigns/", {"dataset": campaign.dataset_id, "name": "mine"}),
    ]  # fmt: skip
    for method, url, data in calls:
        reply = getattr(api, method)(url, data, format="json")
        assert reply.status_code in (400, 403, 404), (url, reply.status_code)
    campaign.refresh_from_db()
    label.refresh_from_db()
    assert campaign.status == "open" and campaign.overlap == 3 and campaign.name != "mine"
    assert Label.objects.count() == 1 and label.preference == 2
    assert not campaign.gold_items.exists() and campaign.items.get().wanted == 3
