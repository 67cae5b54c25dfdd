"""The dataset pages and API: upload, import jobs, browsing with filters, item page, export."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from judgeapp.datasets import services
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.search import search_index_dataset
from judgeapp.datasets.selectors import ItemFilters, comparison_search
from judgeapp.datasets.tasks import import_job_run_task, search_index_task
from tests.conftest import task_finished
from tests.datasets.conftest import jsonl, native
from tests.factories import ComparisonFactory, JudgmentFactory, LabelFactory

pytestmark = pytest.mark.django_db


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_upload_page_imports_a_small_file_into_a_new_dataset(admin_client, team):
    reply = admin_client.post(
        reverse("datasets:import_new"),
        {
            "new_dataset": "uploaded",
            "format": "auto",
            "file": upload("d.jsonl", jsonl(native(i) for i in range(3))),
        },
        follow=True,
    )
    page = reply.content.decode()
    assert "Imported 3 items, 6 labels, 6 verdicts." in page
    dataset = Dataset.objects.get(team=team, name="uploaded")
    assert dataset.comparisons.count() == 3
    job = ImportJob.objects.get(dataset=dataset)
    assert not job.file  # the stored upload is removed once read


def test_upload_page_lists_every_error_with_its_line(admin_client, team, dataset):
    records = [native(i) for i in range(3)]
    records[0]["response_1"] = 5
    records[2]["conversation"] = []
    reply = admin_client.post(
        reverse("datasets:import_new"),
        {"dataset": dataset.pk, "format": "auto", "file": upload("bad.jsonl", jsonl(records))},
        follow=True,
    )
    page = reply.content.decode()
    assert "Nothing was imported: 2 records failed validation" in page
    assert "<td>1</td><td>q-0</td><td><code>response_1</code></td>" in page
    assert "<td>3</td><td>q-2</td><td><code>conversation</code></td>" in page
    assert not dataset.comparisons.exists()


def test_upload_over_the_limit_is_refused_with_the_limit(admin_client, dataset, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 0
    reply = admin_client.post(
        reverse("datasets:import_new"),
        {"dataset": dataset.pk, "format": "auto", "file": upload("d.jsonl", jsonl([native(0)]))},
    )
    assert "the upload limit is 0 MB (IMPORT_MAX_UPLOAD_MB)" in reply.content.decode()
    assert not ImportJob.objects.exists()


def test_viewer_cannot_import(client, viewer, dataset):
    client.force_login(viewer)
    assert client.get(reverse("datasets:import_new")).status_code == 403


def test_api_import_returns_a_job_to_poll(admin, dataset):
    api = APIClient()
    api.force_authenticate(admin)
    reply = api.post(
        "/api/imports/",
        {"dataset": dataset.pk, "file": upload("d.jsonl", jsonl(native(i) for i in range(2)))},
        format="multipart",
    )
    assert reply.status_code == 201, reply.json()
    job = reply.json()
    assert (job["status"], job["items_created"], job["progress"]["percent"]) == ("done", 2, 100)
    polled = api.get(f"/api/imports/{job['id']}/").json()
    assert polled["message"] == "Imported 2 items, 4 labels, 4 verdicts."


def test_api_import_reports_errors_in_the_reply(admin, team):
    api = APIClient()
    api.force_authenticate(admin)
    reply = api.post(
        "/api/imports/",
        {"team": team.pk, "dataset_name": "via-api", "file": upload("d.jsonl", b'{"id": 1}\n')},
        format="multipart",
    )
    body = reply.json()
    assert body["status"] == "rejected"
    assert {e["field"] for e in body["errors"]} >= {"conversation", "response_1", "response_2"}
    assert all(e["line"] == 1 for e in body["errors"])


def test_api_import_needs_admin(viewer, team, dataset):
    api = APIClient()
    api.force_authenticate(viewer)
    reply = api.post(
        "/api/imports/",
        {"dataset": dataset.pk, "file": upload("d.jsonl", jsonl([native(0)]))},
        format="multipart",
    )
    assert reply.status_code == 403
    assert "Only an admin" in reply.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_large_upload_runs_in_a_worker(admin, dataset, settings, celery_worker_thread):
    settings.IMPORT_INLINE_MAX_KB = 0
    with task_finished(import_job_run_task) as finished:
        api = APIClient()
        api.force_authenticate(admin)
        data = jsonl(native(i) for i in range(50))
        reply = api.post(
            "/api/imports/",
            {"dataset": dataset.pk, "file": upload("d.jsonl", data)},
            format="multipart",
        )
        assert reply.json()["status"] == "queued"
        assert finished.wait(timeout=60), "the worker did not run the import"
    job = ImportJob.objects.get(pk=reply.json()["id"])
    assert job.status == "done" and job.items_created == 50


def _ids(page) -> list[str]:
    return [line.split(">")[1].split("<")[0] for line in page.split('<td><a href="/datasets/')[1:]]


@pytest.fixture
def browsable(team, admin):
    dataset = Dataset.objects.create(team=team, name="browse", metadata_keys=["domain"])
    texts = ["Explain recursion", "Sort a list in Python", "Capital of France", "Prime numbers"]
    items = [
        ComparisonFactory(
            dataset=dataset,
            external_id=f"b-{i}",
            metadata={"domain": "code" if i % 2 else "general"},
            conversation=[{"role": "user", "content": texts[i % 4]}],
        )
        for i in range(8)
    ]
    LabelFactory(
        comparison=items[0],
        campaign=None,
        kind="imported",
        annotator=None,
        annotator_name="a",
        preference=-2,
    )
    LabelFactory(
        comparison=items[0],
        campaign=None,
        kind="imported",
        annotator=None,
        annotator_name="b",
        preference=2,
    )
    LabelFactory(
        comparison=items[1],
        campaign=None,
        kind="imported",
        annotator=None,
        annotator_name="a",
        preference=1,
    )
    JudgmentFactory(run__judge__team=team, run__dataset=dataset, comparison=items[1], preference=-2)
    JudgmentFactory(run__judge__team=team, run__dataset=dataset, comparison=items[2], preference=2)
    search_index_dataset(dataset_id=dataset.pk)
    return dataset


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [f"b-{i}" for i in range(8)]),
        ("q=recursion", ["b-0", "b-4"]),
        ("meta=domain:code", ["b-1", "b-3", "b-5", "b-7"]),
        ("labels=1", ["b-0", "b-1"]),
        ("labels=0&judgments=1", ["b-2"]),
        ("disagreement=1", ["b-0", "b-1"]),
        ("q=python&meta=domain:code", ["b-1", "b-5"]),
    ],
)
def test_items_list_filters(admin_client, browsable, query, expected):
    page = admin_client.get(reverse("datasets:detail", args=[browsable.pk]) + "?" + query)
    assert page.status_code == 200
    assert _ids(page.content.decode()) == expected


def _bulk_items(dataset, id_format: str, n: int) -> None:
    Comparison.objects.bulk_create(
        Comparison(
            dataset=dataset,
            external_id=id_format.format(i),
            conversation=[{"role": "user", "content": "x"}],
            response_1="a",
            response_2="b",
        )
        for i in range(n)
    )


def test_items_list_pages_by_id_with_constant_queries(admin_client, team):
    dataset = Dataset.objects.create(team=team, name="many")
    _bulk_items(dataset, "m-{:03}", 120)
    url = reverse("datasets:detail", args=[dataset.pk])
    first = admin_client.get(url).content.decode()
    assert _ids(first)[0] == "m-000" and len(_ids(first)) == 50
    after = first.split('href="?after=')[1].split('"')[0]
    with CaptureQueriesContext(connection) as second_queries:
        second = admin_client.get(f"{url}?after={after}").content.decode()
    assert _ids(second)[0] == "m-050"
    before = second.split('href="?before=')[1].split('"')[0]
    assert _ids(admin_client.get(f"{url}?before={before}").content.decode()) == _ids(first)
    _bulk_items(dataset, "n-{:04}", 1000)
    with CaptureQueriesContext(connection) as later_queries:
        admin_client.get(f"{url}?after={after}")
    assert len(later_queries) == len(second_queries)


def test_item_page_renders_markdown_safely(admin_client, team):
    item = ComparisonFactory(
        dataset__team=team,
        response_1="**bold** <script>alert('x')</script> [click](javascript:alert(1))\n\n```python\nprint(1)\n```",
        response_2="plain",
    )
    LabelFactory(
        comparison=item,
        campaign=None,
        kind="imported",
        annotator=None,
        annotator_name="hs3",
        preference=1,
    )
    page = admin_client.get(
        reverse("datasets:comparison", args=[item.dataset_id, item.pk])
    ).content.decode()
    assert "<strong>bold</strong>" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert '<pre class="highlight"><code class="language-python">' in page
    assert "<td>hs3</td>" in page


def test_dataset_list_counts_items_labels_and_verdicts(admin_client, browsable):
    page = admin_client.get(reverse("datasets:index")).content.decode()
    row = page.split(">browse</a>")[1].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in row.split('class="num">')[1:4]] == ["8", "3", "2"]


def test_export_download(admin_client, browsable):
    reply = admin_client.get(reverse("datasets:export", args=[browsable.pk, "jsonl"]))
    assert reply["Content-Disposition"] == 'attachment; filename="browse.jsonl"'
    lines = b"".join(reply.streaming_content).splitlines()
    assert len(lines) == 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="search documents are PostgreSQL's")
def test_search_says_when_items_are_still_being_indexed(admin_client, browsable):
    ComparisonFactory(
        dataset=browsable, conversation=[{"role": "user", "content": "Explain recursion"}]
    )
    page = admin_client.get(reverse("datasets:detail", args=[browsable.pk]) + "?q=recursion")
    assert "Search covers 8 of them so far" in page.content.decode()
    assert _ids(page.content.decode()) == ["b-0", "b-4"]
    search_index_dataset(dataset_id=browsable.pk)
    page = admin_client.get(reverse("datasets:detail", args=[browsable.pk]) + "?q=recursion")
    assert len(_ids(page.content.decode())) == 3


def _giraffes(n: int) -> bytes:
    turn = "Tell me about giraffes, please ({})."
    return jsonl(
        native(i, conversation=[{"role": "user", "content": turn.format(i)}]) for i in range(n)
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="search documents are PostgreSQL's")
def test_a_small_upload_is_searchable_at_once(admin_client, team):
    admin_client.post(
        reverse("datasets:import_new"),
        {"new_dataset": "zoo", "format": "auto", "file": upload("z.jsonl", _giraffes(3))},
    )
    dataset = Dataset.objects.get(team=team, name="zoo")
    page = admin_client.get(reverse("datasets:detail", args=[dataset.pk]) + "?q=giraffes")
    assert "Search covers" not in page.content.decode()
    # The items' links come first; the import's own link follows them.
    assert _ids(page.content.decode()) == ["q-0", "q-1", "q-2", "z.jsonl"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="search documents are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_large_import_is_indexed_by_a_worker(admin, dataset, monkeypatch, celery_worker_thread):
    monkeypatch.setattr(services, "SEARCH_INLINE_MAX_ITEMS", 2)
    with task_finished(search_index_task) as indexed:
        api = APIClient()
        api.force_authenticate(admin)
        reply = api.post(
            "/api/imports/",
            {"dataset": dataset.pk, "file": upload("z.jsonl", _giraffes(5))},
            format="multipart",
        )
        assert reply.json()["status"] == "done"
        assert indexed.wait(timeout=60), "no worker indexed the import"
    filters = ItemFilters(q="giraffes")
    found = comparison_search(user=None, dataset=dataset, filters=filters)
    assert sorted(found.values_list("external_id", flat=True)) == [f"q-{i}" for i in range(5)]
