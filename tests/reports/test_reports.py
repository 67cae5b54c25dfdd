"""Reports end to end: what is read from the database, the page, the exports, the API, the
command, the cache and the worker. The figures themselves are checked in test_metrics.py."""

import json
import random
import re
from itertools import combinations

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from judgeapp.campaigns.models import Label
from judgeapp.reports.models import Report
from judgeapp.reports.tasks import report_compute_task
from tests.conftest import task_finished
from tests.factories import (
    CampaignFactory,
    ComparisonFactory,
    DatasetFactory,
    JudgeFactory,
    JudgeRunFactory,
    JudgmentFactory,
    LabelFactory,
)

pytestmark = pytest.mark.django_db

ITEMS = 40


def side(x: float) -> int:
    return (x > 0) - (x < 0)


@pytest.fixture
def world(team):
    """40 items, three imported annotators (one skips some items), a campaign annotator, an
    adjudication, and two judges: one in both orders with two samples, one in one order."""
    rng = random.Random(7)
    dataset = DatasetFactory(team=team, name="pairs", metadata_keys=["domain"])
    campaign = CampaignFactory(dataset=dataset, name="round 1")
    items = [
        ComparisonFactory(
            dataset=dataset, external_id=f"i{n:02d}",
            metadata={"domain": "code" if n % 2 else "chat"},
        )
        for n in range(ITEMS)
    ]  # fmt: skip
    truth = {c.pk: rng.choice([-3, -2, -1, 0, 1, 2, 3]) for c in items}
    labels = []
    for c in items:
        for name in ("h1", "h2", "h3"):
            if name == "h3" and c.pk % 3 == 0:
                continue
            value = truth[c.pk] if rng.random() < 0.7 else rng.choice(range(-3, 4))
            labels.append(
                Label(comparison=c, kind=Label.Kind.IMPORTED, annotator_name=name, preference=value)
            )
    Label.objects.bulk_create(labels)
    LabelFactory(campaign=campaign, comparison=items[0], preference=-2, shown_swapped=True)
    Label.objects.create(
        comparison=items[1], campaign=campaign, kind=Label.Kind.ADJUDICATION, preference=3
    )
    genrm = JudgeFactory(team=team, name="genrm")
    run = JudgeRunFactory(judge=genrm, dataset=dataset)
    other = JudgeFactory(team=team, name="other")
    other_run = JudgeRunFactory(judge=other, dataset=dataset)
    for c in items:
        for sample in (0, 1):
            JudgmentFactory(run=run, comparison=c, sample=sample, preference=truth[c.pk] or 1)
        # Mapped back to the item's order already: the same side as the original order.
        JudgmentFactory(run=run, comparison=c, swapped=True, preference=truth[c.pk] or 1)
        JudgmentFactory(run=other_run, comparison=c, preference=rng.choice([-2, 2]))
    return {"dataset": dataset, "campaign": campaign, "items": items, "judges": [genrm, other]}


def report_via_page(client, admin, **fields):
    client.force_login(admin)
    data = {"humans": "all", "tie_policy": "strict", "resamples": "200", "seed": "1", **fields}
    response = client.post(reverse("reports:index"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Report.objects.get(pk=int(response.url.rstrip("/").split("/")[-1]))


def test_report_reads_the_right_labels_and_verdicts(client, admin, world):
    report = report_via_page(client, admin, dataset=world["dataset"].pk, breakdown="domain")
    assert report.status == Report.Status.DONE, report.error
    result = report.result
    labels = list(Label.objects.exclude(kind=Label.Kind.ADJUDICATION))
    assert result["counts"]["labels"] == len(labels) and result["counts"]["adjudicated"] == 1
    assert result["counts"]["annotators"] == 4 and result["counts"]["items"] == ITEMS
    # Independent computation from the rows: per-label accuracy without ties of "other".
    other = {j.comparison_id: j.preference for j in world["judges"][1].runs.get().judgments.all()}
    pairs = [(side(other[lb.comparison_id]), side(lb.preference)) for lb in labels if lb.preference]
    expected = sum(a == b for a, b in pairs) / len(pairs)
    figure = result["judges"]["other"]["accuracy_without_ties"]
    assert figure["value"] == pytest.approx(expected, abs=1e-12) and figure["n"] == len(pairs)
    # ... and the humans' pairwise agreement with ties.
    by_item: dict[int, list[int]] = {}
    for lb in labels:
        by_item.setdefault(lb.comparison_id, []).append(side(lb.preference))
    agree = [a == b for sides in by_item.values() for a, b in combinations(sides, 2)]
    pairwise = result["human_human"]["pairwise_agreement_with_ties"]
    assert pairwise["value"] == pytest.approx(sum(agree) / len(agree), abs=1e-12)
    # Both orders: the genrm judge is position-consistent by construction.
    position = result["judges"]["genrm"]["position"]
    assert position["consistency"]["value"] == 1.0 and position["consistency"]["n"] == ITEMS
    assert "position" not in result["judges"]["other"]
    assert result["judges"]["genrm"]["self_consistency"]["items"] == ITEMS
    # Stated with the figures: the configuration, fingerprint and versions.
    assert result["config"]["tie_policy"] == "strict" and result["config"]["seed"] == 1
    assert result["fingerprint"] == report.fingerprint and "numpy" in result["versions"]
    assert [g["value"] for g in result["breakdown"]["domain"]] in (
        ["chat", "code"],
        ["code", "chat"],
    )


def test_json_export_has_the_documented_keys(client, admin, world):
    report = report_via_page(client, admin, dataset=world["dataset"].pk)
    body = json.loads(client.get(reverse("reports:export", args=[report.pk, "json"])).content)
    for key in (
        "krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa",
        "pairwise_agreement_with_ties", "pairwise_agreement_without_ties",
    ):  # fmt: skip
        assert set(body["human_human"][key]) == {"value", "ci_low", "ci_high", "n"}
    judge = body["judges"]["genrm"]
    for key in (
        "accuracy_without_ties",
        "cohen_kappa",
        "weighted_kappa",
        "spearman",
        "human_ceiling",
    ):
        assert set(judge[key]) == {"value", "ci_low", "ci_high", "n"}
    for key in (
        "accuracy_original",
        "accuracy_swapped",
        "accuracy_average",
        "accuracy_both",
        "consistency",
    ):
        assert set(judge["position"][key]) == {"value", "ci_low", "ci_high", "n"}
    assert body["config"]["tie_policy"] == "strict" and body["fingerprint"]


def test_page_csv_and_html_exports(client, admin, world):
    report = report_via_page(client, admin, dataset=world["dataset"].pk)
    page = client.get(reverse("reports:detail", args=[report.pk])).content.decode()
    for text in ("Judges against the humans", "Humans with each other", "Position bias", "genrm"):
        assert text in page
    assert "<svg" in page
    csv_text = client.get(reverse("reports:export", args=[report.pk, "csv"])).content.decode()
    assert csv_text.splitlines()[0] == "table,subject,metric,value,ci_low,ci_high,n"
    assert f"meta,,fingerprint,{report.fingerprint}" in csv_text
    assert "position,genrm,consistency,1.0" in csv_text
    html = client.get(reverse("reports:export", args=[report.pk, "html"])).content.decode()
    assert "<style>" in html and "<svg" in html and report.fingerprint in html
    # Self-contained: nothing fetched from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html and 'rel="stylesheet"' not in html


def test_unchanged_inputs_reuse_the_report_and_changes_do_not(client, admin, world):
    first = report_via_page(client, admin, dataset=world["dataset"].pk)
    again = report_via_page(client, admin, dataset=world["dataset"].pk)
    assert again.pk == first.pk
    other_policy = report_via_page(client, admin, dataset=world["dataset"].pk, tie_policy="ignore")
    assert other_policy.pk != first.pk
    label = Label.objects.filter(kind=Label.Kind.IMPORTED).first()
    label.preference = -label.preference or 1
    label.save()
    changed = report_via_page(client, admin, dataset=world["dataset"].pk)
    assert changed.pk != first.pk and changed.fingerprint != first.fingerprint


def test_campaign_scope_reads_its_labels_only(client, admin, world):
    report = report_via_page(client, admin, campaign=world["campaign"].pk, humans="campaign")
    assert report.status == Report.Status.DONE, report.error
    assert report.result["counts"]["labels"] == 0  # the campaign has no items of its own


def test_api_report_and_exports(admin, viewer, annotator, outsider, world):
    api = APIClient()
    api.force_authenticate(viewer)
    reply = api.post(
        "/api/reports/",
        {"dataset": world["dataset"].pk, "tie_policy": "half", "resamples": 100},
        format="json",
    )
    assert reply.status_code == 201, reply.json()
    body = reply.json()
    assert body["result"]["config"]["tie_policy"] == "half"
    assert set(body["result"]["judges"]) == {"genrm", "other"}
    exported = api.get(f"/api/reports/{body['id']}/export/?format=csv")
    assert exported.status_code == 200 and exported.content.startswith(b"table,subject")
    for user in (annotator, outsider):
        api.force_authenticate(user)
        assert api.get(f"/api/reports/{body['id']}/").status_code == 404
        assert api.get(f"/api/reports/{body['id']}/export/?format=json").status_code == 404
        refused = api.post("/api/reports/", {"dataset": world["dataset"].pk}, format="json")
        assert refused.status_code in (400, 404)
    bad = APIClient()
    bad.force_authenticate(admin)
    reply = bad.post(
        "/api/reports/", {"dataset": world["dataset"].pk, "breakdown": ["nope"]}, format="json"
    )
    assert reply.status_code == 400 and "nope" in reply.json()["detail"]


def test_command_writes_each_format(tmp_path, team, world):
    for format in ("json", "csv", "html"):
        path = tmp_path / f"report.{format}"
        call_command(
            "agreement_report", "--team", team.name, "--dataset", "pairs", "--judge", "genrm",
            "--tie-policy", "ignore", "--resamples", "50", "--format", format, "-o", str(path),
        )  # fmt: skip
        assert path.stat().st_size > 200
    body = json.loads((tmp_path / "report.json").read_text())
    assert list(body["judges"]) == ["genrm"] and body["config"]["tie_policy"] == "ignore"


@pytest.mark.django_db(transaction=True)
def test_large_reports_compute_on_a_worker_with_progress(
    settings, client, admin, team, celery_worker_thread
):
    settings.REPORT_INLINE_MAX_ITEMS = 0
    dataset = DatasetFactory(team=team, name="big")
    items = ComparisonFactory.create_batch(30, dataset=dataset)
    Label.objects.bulk_create(
        Label(comparison=c, kind=Label.Kind.IMPORTED, annotator_name=name, preference=p)
        for c in items
        for name, p in (("a", 1), ("b", 2 if c.pk % 2 else -1))
    )
    with task_finished(report_compute_task) as finished:
        client.force_login(admin)
        response = client.post(
            reverse("reports:index"),
            {"dataset": dataset.pk, "humans": "all", "tie_policy": "strict", "resamples": "100",
             "seed": "0"},
        )  # fmt: skip
        assert finished.wait(timeout=60), "the worker did not compute the report"
    report = Report.objects.get()
    assert report.status == Report.Status.DONE and report.progress == 1.0, report.error
    assert report.result["counts"]["labels"] == 60
    done = client.get(response.url, HTTP_HX_REQUEST="true")
    assert done.status_code == 204 and done["HX-Refresh"] == "true"


@pytest.mark.django_db
def test_status_partial_polls_while_queued(client, admin, team):
    dataset = DatasetFactory(team=team, name="q")
    report = Report.objects.create(team=team, dataset=dataset, config={}, fingerprint="x" * 64)
    client.force_login(admin)
    partial = client.get(reverse("reports:detail", args=[report.pk]), HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 1s"' in partial.content and b"<html" not in partial.content
