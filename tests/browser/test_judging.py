import pytest
from playwright.sync_api import expect

from judgeapp.judging.models import Judge, JudgeRun
from tests.factories import ComparisonFactory, DatasetFactory
from tests.genrm_server import FakeGenRM, expected_verdict

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def genrm():
    with FakeGenRM(service_time=0.05) as server:
        yield server


@pytest.fixture
def worker(settings, celery_worker_thread):
    """The shared in-process worker, running the pumps this time."""
    settings.JUDGING_PUMPS = 1
    return celery_worker_thread


def test_add_a_judge_test_it_run_it_and_open_a_judgment(page, login, admin, team, genrm, worker):
    dataset = DatasetFactory(team=team, name="pairs")
    for i in range(8):
        ComparisonFactory(
            dataset=dataset,
            conversation=[{"role": "user", "content": f"Question {i}?"}],
            response_1=f"Short answer {i}",
            response_2=f"A **longer** answer {i}",
        )
    login("alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Judges").click()
    page.get_by_role("link", name="New judge").click()
    page.get_by_label("Name").fill("qwen-genrm")
    page.get_by_label("Base URL").fill(genrm.base_url)
    page.get_by_label("Model").fill("nvidia/Qwen3-Nemotron-235B-A22B-GenRM")
    page.get_by_label("API key", exact=True).fill("sk-browser-secret")
    page.get_by_label("Requests in flight").fill("4")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("qwen-genrm")
    expect(page.locator("main")).not_to_contain_text("sk-browser-secret")
    expect(page.locator("main")).to_contain_text("stored (hidden)")

    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("The judge answered", timeout=30_000)
    _, _, ranking = expected_verdict("2 + 2 = 4.", "2 + 2 = 5.")
    expect(page.locator("#test-result [data-field=ranking]")).to_contain_text(str(ranking))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="pairs").click()
    page.get_by_role("link", name="Judge all items").click()
    page.get_by_label("qwen-genrm").check()
    page.get_by_label("Judge both orders").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("qwen-genrm on pairs")
    expect(page.locator("#run-progress")).to_have_attribute("data-status", "done", timeout=60_000)
    expect(page.locator("#run-progress")).to_contain_text("16 of 16 finished")
    run = JudgeRun.objects.get(dataset=dataset)
    assert run.judgments.filter(preference__isnull=False).count() == 16
    assert genrm.stats()["max_open"] <= 4

    page.reload()  # the judgments table is rendered with the page
    page.locator("table a", has_text="#").first.click()
    expect(page.get_by_role("heading", name="Reasoning")).to_be_visible()
    expect(page.get_by_role("heading", name="Raw output")).to_be_visible()
    expect(page.get_by_role("region", name="Response 2")).to_contain_text("longer")


def test_playground_asks_the_judge_and_saves_the_item(page, login, admin, team, genrm, worker):
    Judge.objects.create(team=team, name="local", base_url=genrm.base_url, model="m")
    DatasetFactory(team=team, name="keepers")
    login("alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Playground").click()
    page.get_by_label("Judge").select_option(label="local")
    page.get_by_label("Turn 1", exact=True).fill("Hi! Can you help with Python?")
    page.get_by_role("button", name="Add a turn").click()
    expect(page.get_by_label("Role of turn 2")).to_have_value("assistant")
    page.get_by_label("Turn 2", exact=True).fill("Of course.")
    page.get_by_role("button", name="Add a turn").click()
    page.get_by_label("Turn 3", exact=True).fill("How do I reverse a list?")
    page.get_by_label("Response 1", exact=True).fill("Use `xs[::-1]` or `xs.reverse()`.")
    page.get_by_label("Response 2", exact=True).fill("You cannot.")
    page.get_by_label("Principles").fill("Correctness matters most.")
    page.get_by_role("button", name="Ask the judge").click()

    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Verdict", timeout=30_000)
    _, _, ranking = expected_verdict("Use `xs[::-1]` or `xs.reverse()`.", "You cannot.")
    expect(verdict.locator("[data-field=ranking]")).to_contain_text(str(ranking))
    request = genrm.requests[-1]
    assert [m["role"] for m in request["messages"]] == [
        "user", "assistant", "user", "principle", "response_1", "response_2",
    ]  # fmt: skip

    verdict.get_by_label("Save the item into").select_option(label="keepers")
    verdict.get_by_label("as id").fill("reverse-list")
    verdict.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as reverse-list in keepers")
    expect(page.get_by_role("region", name="Response 1")).to_contain_text("xs[::-1]")
