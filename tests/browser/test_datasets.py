import json

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from judgeapp.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = [
    {
        "id": f"web-{i}",
        "conversation": [
            {"role": "user", "content": f"Question number {i}: how do I sort a list?"}
        ],
        "response_1": f"Use `sorted(xs)` ({i}).\n\n```python\nsorted([3, 1, 2])\n```",
        "response_2": "<script>window.hacked = true</script> Sort it by hand.",
        "metadata": {"domain": "code"},
        "labels": [{"annotator": "ann-a", "preference": -2}],
    }
    for i in range(30)
]


def drop_file(page, selector: str, name: str, content: str) -> None:
    """Drop a file onto an element the way a user's drag and drop does."""
    transfer = page.evaluate_handle(
        """([name, content]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([content], name, {type: "application/json"}));
            return dt;
        }""",
        [name, content],
    )
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_drop_a_file_watch_it_import_browse_and_open_an_item(page, login, admin, team, settings):
    settings.IMPORT_INLINE_MAX_KB = 0  # every upload goes to a worker, as large ones do
    celery_app.control.purge()  # messages left by earlier tests of this process
    login("alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="Import a file").first.click()
    page.get_by_label("New dataset name").fill("from-the-browser")
    drop_file(page, "#dropzone", "items.jsonl", "\n".join(json.dumps(r) for r in RECORDS))
    expect(page.locator("#chosen")).to_contain_text("items.jsonl")
    page.get_by_role("button", name="Import").click()

    # No worker yet: the job waits, with its progress bar.
    expect(page.get_by_role("heading", level=1)).to_have_text("Import of items.jsonl")
    expect(page.locator("#import-status")).to_have_attribute("data-status", "queued")
    expect(page.get_by_label("Reading the file")).to_be_visible()

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        expect(page.locator("#import-status")).to_have_attribute(
            "data-status", "done", timeout=30_000
        )
    expect(page.get_by_role("status")).to_contain_text("Imported 30 items, 30 labels.")

    page.get_by_role("link", name="Open from-the-browser").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("from-the-browser")
    expect(page.locator("table.items tbody tr")).to_have_count(30)
    page.get_by_role("link", name="web-7", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("web-7")
    first = page.get_by_role("region", name="Response 1")
    expect(first.locator("code.language-python")).to_contain_text("sorted([3, 1, 2])")
    second = page.get_by_role("region", name="Response 2")
    expect(second).to_contain_text("<script>window.hacked = true</script>")
    assert page.evaluate("window.hacked") is None
    expect(page.get_by_role("cell", name="ann-a")).to_be_visible()


def test_a_rejected_file_shows_every_error_line(page, login, admin, team):
    login("alice")
    page.goto("/datasets/import/")
    page.get_by_label("New dataset name").fill("broken")
    bad = [dict(RECORDS[0]), dict(RECORDS[1], response_2=None), dict(RECORDS[2], id="web-0")]
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "bad.jsonl", "mimeType": "application/json",
                "buffer": "\n".join(json.dumps(r) for r in bad).encode()}],
    )  # fmt: skip
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text("Nothing was imported: 2 records")
    rows = page.locator("table.errors tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("response_2")
    expect(rows.nth(1)).to_contain_text("duplicate id")
