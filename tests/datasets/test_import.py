import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from judgeapp.campaigns.models import Label
from judgeapp.datasets.exports import export_stream
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.search import search_index_dataset
from judgeapp.datasets.selectors import ItemFilters, comparison_search, dataset_export_records
from judgeapp.judging.models import Judge, JudgeRun, Judgment
from tests.datasets.conftest import jsonl, native

pytestmark = pytest.mark.django_db


def test_native_import_writes_items_labels_and_verdicts(dataset, run_import):
    job = run_import(dataset, jsonl(native(i) for i in range(3)))
    assert job.status == ImportJob.Status.DONE, job.errors
    assert (job.format, job.items_created, job.labels_created, job.judgments_created) == (
        "native",
        3,
        6,
        6,
    )
    assert job.message == "Imported 3 items, 6 labels, 6 verdicts."
    item = Comparison.objects.get(dataset=dataset, external_id="q-1")
    assert item.conversation[0] == {"role": "system", "content": "Be brief."}
    assert item.principles == ["Correctness matters most."]
    assert item.metadata == {"domain": "math", "language": "en"}
    label = Label.objects.get(comparison=item, annotator_name="ann-a")
    assert (label.kind, label.preference, label.score_1, label.score_2, label.rationale) == (
        "imported",
        3,
        1,
        5,
        "2 is right",
    )
    judge = Judge.objects.get(team=dataset.team, name="gpt-4-vanilla")
    assert judge.protocol == Judge.Protocol.IMPORTED
    run = JudgeRun.objects.get(judge=judge, dataset=dataset)
    assert run.import_key == "" and run.status == JudgeRun.Status.DONE
    swapped = Judgment.objects.get(run=run, comparison=item, swapped=True)
    assert (swapped.ranking, swapped.preference, swapped.score_1, swapped.status) == (
        2,
        -2,
        4,
        "done",
    )
    dataset.refresh_from_db()
    assert dataset.metadata_keys == ["domain", "language"]


def test_conversations_are_kept_as_written_and_read_back_whole(dataset, run_import):
    # On PostgreSQL the column is ``json`` (stored as written, not taken apart like jsonb): the
    # ORM, raw SQL and the search documents all read it whole.
    turns = [
        {"role": "system", "content": "Réponds en français 🙂"},
        {"role": "user", "content": 'Quote "this", a tab\tand a backslash \\ please'},
    ]
    job = run_import(dataset, jsonl([native(1, conversation=turns)]))
    assert job.status == ImportJob.Status.DONE, job.errors
    item = Comparison.objects.get(dataset=dataset)
    assert item.conversation == turns
    assert list(Comparison.objects.values_list("conversation", flat=True)) == [turns]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_typeof(conversation)::text, conversation::text FROM datasets_comparison "
            "WHERE id = %s",
            [item.pk],
        )
        kind, text = cursor.fetchone()
    assert kind == "json"
    assert json.loads(text) == turns
    search_index_dataset(dataset_id=dataset.pk)
    found = comparison_search(user=None, dataset=dataset, filters=ItemFilters(q="français"))
    assert list(found) == [item]


def test_reimport_of_same_ids_adds_nothing(dataset, run_import):
    data = jsonl(native(i) for i in range(4))
    run_import(dataset, data)
    again = run_import(dataset, data)
    assert again.status == ImportJob.Status.DONE
    assert (again.items_created, again.labels_created, again.judgments_created) == (0, 0, 0)
    assert again.duplicates == 4
    assert "4 already present (same id), skipped" in again.message
    assert Comparison.objects.filter(dataset=dataset).count() == 4
    assert Label.objects.filter(comparison__dataset=dataset).count() == 8


def test_a_bad_record_rejects_the_whole_file_and_names_its_line(dataset, run_import):
    records = [native(i) for i in range(5)]
    records[3]["labels"][1]["preference"] = 7
    job = run_import(dataset, jsonl(records))
    assert job.status == ImportJob.Status.REJECTED
    assert job.invalid == 1
    assert job.errors == [
        {
            "line": 4,
            "field": "labels[1].preference",
            "id": "q-3",
            "message": job.errors[0]["message"],
        }
    ]
    assert "-3" in job.errors[0]["message"] and "7" in job.errors[0]["message"]
    assert job.message.startswith("Nothing was imported: 1 record failed validation")
    assert job.items_created == 0
    assert not Comparison.objects.filter(dataset=dataset).exists()
    assert not Label.objects.exists() and not Judgment.objects.exists()
    assert not Judge.objects.filter(team=dataset.team).exists()


def test_skip_invalid_imports_the_valid_records_and_reports_the_others(dataset, run_import):
    records = [native(i) for i in range(5)]
    records[1]["conversation"][-1]["role"] = "assistant"
    lines = jsonl(records).splitlines(keepends=True)
    lines.insert(2, b"{not json\n")
    job = run_import(dataset, b"".join(lines), skip_invalid=True)
    assert job.status == ImportJob.Status.DONE
    assert job.items_created == 4 and job.invalid == 2
    assert [e["line"] for e in job.errors] == [2, 3]
    assert "2 invalid records skipped" in job.message
    assert sorted(Comparison.objects.values_list("external_id", flat=True)) == [
        "q-0",
        "q-2",
        "q-3",
        "q-4",
    ]


def test_judgments_file_attaches_verdicts_to_existing_items(dataset, run_import):
    run_import(dataset, jsonl(native(i, judgments=[]) for i in range(3)))
    rows = [
        {
            "id": "q-0",
            "judge": "nemotron-genrm",
            "ranking": 5,
            "swapped": False,
            "reasoning": "2 wins",
        },
        {"id": "q-1", "judge": "nemotron-genrm", "winner": 1, "swapped": True},
        {"id": "q-2", "judge": "nemotron-genrm", "preference": -3},
    ]
    job = run_import(dataset, jsonl(rows), name="verdicts.jsonl")
    assert (job.status, job.format, job.judgments_created) == ("done", "judgments", 3)
    verdicts = dict(Judgment.objects.values_list("comparison__external_id", "preference"))
    assert verdicts == {"q-0": 2, "q-1": -1, "q-2": -3}
    again = run_import(dataset, jsonl(rows), name="verdicts.jsonl")
    assert (again.judgments_created, again.duplicates) == (0, 3)


def test_judgments_for_unknown_ids_are_errors(dataset, run_import):
    run_import(dataset, jsonl([native(0)]))
    job = run_import(dataset, jsonl([{"id": "nope", "judge": "j", "preference": 1}]))
    assert job.status == ImportJob.Status.REJECTED
    assert job.errors[0]["field"] == "id"
    assert "no item with id 'nope'" in job.errors[0]["message"]


def _snapshot(dataset) -> list:
    """Everything an export carries, without database ids."""
    out = []
    for record in dataset_export_records(dataset=dataset):
        out.append(
            (
                record.id,
                record.conversation,
                record.response_1,
                record.response_2,
                record.principles,
                record.metadata,
                sorted(
                    (lb.annotator, lb.preference, lb.score_1, lb.score_2, lb.rationale)
                    for lb in record.labels
                ),
                sorted(
                    (
                        j.judge,
                        j.run,
                        j.swapped,
                        j.sample,
                        j.preference,
                        j.ranking,
                        j.score_1,
                        j.score_2,
                        j.reasoning,
                    )
                    for j in record.judgments
                ),
            )
        )
    return out


GENRM = {
    "id": "g-1",
    "messages": [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "Which size?"},
        {"role": "user", "content": 'Small, with a comma, and "quotes"\r\nplease.'},
        {"role": "principle", "content": "Be correct."},
        {"role": "response_1", "content": "4"},
        {"role": "response_2", "content": "3, which is prime."},
    ],
    "labels": [{"annotator": "lead", "winner": 2}],
    "judgments": [{"judge": "genrm", "ranking": 6, "score_1": 1, "score_2": 5, "run": "r7"}],
}
HELPSTEER3 = {
    "domain": "code",
    "language": "english",
    "context": [{"role": "user", "content": "Reverse a list in Python"}],
    "response1": "`xs[::-1]`",
    "response2": "Use a loop.",
    "overall_preference": -2,
    "individual_preference": [
        {"score": -2, "reasoning": "Slicing is idiomatic."},
        {"score": -1, "reasoning": "Both work; 1 is shorter."},
    ],
}
CSV_TEXT = (
    "\ufeffID,Prompt,Response A,Response B,domain\r\n"
    'c-1,"Two\nlines?",yes,"no, ""really""",chat\r\n'
)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        (jsonl(native(i) for i in range(6)), "native.jsonl"),
        (json.dumps([native(i) for i in range(3)], indent=2).encode(), "native.json"),
        (jsonl([GENRM]), "genrm.jsonl"),
        (jsonl([HELPSTEER3]), "hs3.jsonl"),
        (CSV_TEXT.encode(), "sheet.csv"),
    ],
    ids=["native", "json-array", "genrm", "helpsteer3", "csv"],
)
@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_export_then_import_gives_the_same_data(
    team, admin, run_import, source, name, export_format, tmp_path
):
    first = Dataset.objects.create(team=team, name="first")
    job = run_import(first, source, name=name)
    assert job.status == "done", job.errors
    out = tmp_path / f"export.{export_format}"
    call_command(
        "export_dataset",
        "--team",
        team.name,
        "--dataset",
        "first",
        "--format",
        export_format,
        "-o",
        str(out),
    )
    second = Dataset.objects.create(team=team, name="second")
    again = run_import(second, out.read_bytes(), name=out.name)
    assert again.status == "done", again.errors
    assert again.items_created == job.items_created
    assert _snapshot(second) == _snapshot(first)
    assert _snapshot(first)  # the data is there, so equality is not between two empties


def test_helpsteer3_rows_become_items_with_annotator_labels(dataset, run_import):
    job = run_import(dataset, jsonl([HELPSTEER3]))
    assert job.format == "helpsteer3"
    item = Comparison.objects.get(dataset=dataset)
    assert item.metadata["overall_preference"] == -2 and item.metadata["domain"] == "code"
    labels = dict(Label.objects.values_list("annotator_name", "preference"))
    assert labels == {"helpsteer3-1": -2, "helpsteer3-2": -1}


def test_csv_export_is_a_flat_table(run_import, dataset):
    run_import(dataset, jsonl([native(1)]))
    text = b"".join(export_stream(dataset=dataset, format="csv")).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["id"] == "q-1" and rows[0]["prompt"] == "What is 1+1?"
    assert json.loads(rows[0]["labels"])[0]["annotator"] == "ann-a"


def test_import_command_reports_errors_and_exits_non_zero(team, tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    records = [native(i) for i in range(3)]
    del records[2]["response_2"]
    path.write_bytes(jsonl(records))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_dataset", str(path), "--team", team.name, "--dataset", "cli")
    err = capsys.readouterr().err
    assert "bad.jsonl: line 3 (id q-2): response_2:" in err
    assert not Comparison.objects.filter(dataset__name="cli").exists()
    call_command(
        "import_dataset", str(path), "--team", team.name, "--dataset", "cli", "--skip-invalid"
    )
    assert "Imported 2 items" in capsys.readouterr().out


def test_import_command_names_a_missing_team(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonl([native(0)]))
    with pytest.raises(CommandError, match="No team named 'Nope'"):
        call_command("import_dataset", str(path), "--team", "Nope", "--dataset", "d")
