"""The report flow in a real browser: ask for a report, read it, sort the disagreements, and open
the exported HTML file on its own (no server behind it)."""

import random

import pytest
from playwright.sync_api import expect

from judgeapp.campaigns.models import Label
from tests.factories import (
    ComparisonFactory,
    DatasetFactory,
    JudgeFactory,
    JudgeRunFactory,
    JudgmentFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def judged(team):
    rng = random.Random(3)
    dataset = DatasetFactory(team=team, name="helpsteer3-val", metadata_keys=["domain"])
    judge = JudgeFactory(team=team, name="nemotron-genrm")
    run = JudgeRunFactory(judge=judge, dataset=dataset)
    labels = []
    for n in range(60):
        item = ComparisonFactory(
            dataset=dataset, external_id=f"hs3-{n:03d}",
            metadata={"domain": ["code", "stem", "general"][n % 3]},
        )  # fmt: skip
        truth = rng.choice([-3, -2, -1, 1, 2, 3])
        for k in range(3):
            value = truth if rng.random() < 0.75 else rng.randint(-3, 3)
            labels.append(
                Label(comparison=item, kind=Label.Kind.IMPORTED, annotator_name=f"rater-{k}",
                      preference=value)
            )  # fmt: skip
        for swapped in (False, True):
            verdict = truth if rng.random() < 0.8 else -truth
            JudgmentFactory(run=run, comparison=item, swapped=swapped, preference=verdict)
    Label.objects.bulk_create(labels)
    return dataset


def test_ask_for_a_report_read_it_and_open_its_html_export(page, login, admin, judged, tmp_path):
    login(admin.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_label("Dataset").select_option(label="helpsteer3-val")
    page.get_by_label("Break down by metadata keys").fill("domain")
    page.get_by_label("Bootstrap resamples").fill("300")
    page.get_by_role("button", name="Compute the report").click()

    expect(page.get_by_role("heading", name="Judges against the humans")).to_be_visible()
    headline = page.locator("#headline")
    expect(headline).to_contain_text("nemotron-genrm")
    expect(headline.locator("td").first).to_contain_text("n=")
    expect(headline).to_contain_text("Human ceiling")
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.get_by_role("heading", name="By domain")).to_be_visible()
    expect(page.get_by_role("heading", name="Position bias")).to_be_visible()

    # The disagreement list sorts by a column; the first row is then the smallest gap.
    table = page.locator("#disagreements")
    gaps = [float(t) for t in table.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert gaps == sorted(gaps, reverse=True) and len(gaps) > 1
    table.get_by_role("button", name="Gap").click()
    table.get_by_role("button", name="Gap").click()
    expect(table.locator("tbody tr").first.locator("td").nth(1)).to_have_text(f"{min(gaps):.2f}")
    table.locator("tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Response 1")).to_be_visible()
    page.go_back()

    with page.expect_download() as download:
        page.get_by_role("link", name="Export HTML").click()
    path = tmp_path / "report.html"
    download.value.save_as(path)
    # Opened from disk with the network cut: everything it shows is inside the file.
    page.context.route(
        "**/*",
        lambda route: (
            route.abort() if not route.request.url.startswith("file:") else route.continue_()
        ),
    )
    page.goto(path.as_uri())
    expect(page.get_by_role("heading", name="Judges against the humans")).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator("#headline")).to_contain_text("nemotron-genrm")
    background = page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background != "rgba(0, 0, 0, 0)"  # the inline styles applied
