"""The import readers and export writers, through their public surface. No database."""

import csv
import hashlib
import io
import json
import tracemalloc

import orjson
import pytest

from judgeapp.datasets import readers
from judgeapp.datasets.readers import FormatError, derive_id, open_reader
from judgeapp.datasets.records import (
    ComparisonIn,
    Invalid,
    JudgmentIn,
    JudgmentRowIn,
    LabelIn,
    RecordError,
)
from judgeapp.datasets.writers import CSV_COLUMNS, csv_row, native_line, native_record

USER = [{"role": "user", "content": "What about 1+2?"}]


def rec(**fields) -> dict:
    """A valid native record, with fields replaced or (value ...) removed."""
    base = {
        "id": "q-1",
        "conversation": USER,
        "response_1": "1+2=4",
        "response_2": "1+2=3",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def jsonl(*records) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


def read(data: bytes, **kw) -> list:
    return list(open_reader(io.BytesIO(data), **kw))


def one(data: bytes, **kw):
    items = read(data, **kw)
    assert len(items) == 1, items
    return items[0]


def problems(item) -> list[tuple[str, str]]:
    assert isinstance(item, Invalid), item
    assert all(e.line == item.line for e in item.errors)
    return [(e.field, e.message) for e in item.errors]


def problems_of(record: dict, **kw) -> list[tuple[str, str]]:
    return problems(one(jsonl(record), **kw))


def csv_bytes(rows: list[list[str]], lineterminator: str = "\r\n") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator=lineterminator).writerows(rows)
    return out.getvalue().encode()


# --- detection --------------------------------------------------------------------------------


def test_native_jsonl_record_reads_into_comparison():
    record = {
        "id": "q-17",
        "conversation": [{"role": "user", "content": "What about 1+2?"}],
        "response_1": "1+2=4",
        "response_2": "1+2=3",
        "principles": ["Correctness matters most."],
        "metadata": {"domain": "math"},
        "labels": [
            {"annotator": "ann-a", "preference": 3, "score_1": 1, "score_2": 5, "rationale": "."}
        ],
        "judgments": [{"judge": "gpt-4-vanilla", "preference": 2, "swapped": False}],
    }
    reader = open_reader(io.BytesIO(jsonl(record)))
    assert reader.format == "native"
    assert list(reader) == [
        ComparisonIn(
            id="q-17",
            conversation=[{"role": "user", "content": "What about 1+2?"}],
            response_1="1+2=4",
            response_2="1+2=3",
            principles=["Correctness matters most."],
            metadata={"domain": "math"},
            labels=[LabelIn("ann-a", 3, 1, 5, ".")],
            judgments=[JudgmentIn("gpt-4-vanilla", preference=2)],
            line=1,
        )
    ]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "genrm"),
        ({"context": "x", "response1": "a", "response2": "b"}, "helpsteer3"),
        ({"id": "q", "judge": "j", "ranking": 2}, "judgments"),
        ({"id": "q", "judge": "j", "response_1": "a"}, "native"),
        ({"id": "q", "conversation": [], "judge": "j"}, "native"),
        ({"context": "x"}, "native"),
        ({"anything": 1}, "native"),
    ],
)
def test_first_record_shape_picks_the_format(record, expected):
    assert open_reader(io.BytesIO(jsonl(record))).format == expected
    array = json.dumps([record]).encode()
    assert open_reader(io.BytesIO(array)).format == expected


def test_first_byte_picks_csv_and_so_does_a_csv_file_name():
    assert open_reader(io.BytesIO(b"prompt,response_1,response_2\n")).format == "csv"
    assert open_reader(io.BytesIO(jsonl(rec())), filename="x.CSV").format == "csv"
    assert open_reader(io.BytesIO(b"\xef\xbb\xbf\r\n  {}\n")).format == "native"


def test_detection_looks_past_records_that_are_not_objects():
    data = b'{not json\n[1]\n{"messages": []}\n'
    reader = open_reader(io.BytesIO(data))
    assert reader.format == "genrm"
    items = list(reader)
    assert [i.line for i in items] == [1, 2, 3]
    assert problems(items[1]) == [("", "must be a JSON object, got a list")]


def test_explicit_format_reads_every_record_as_that_format():
    reader = open_reader(io.BytesIO(jsonl(rec())), format="genrm")
    assert reader.format == "genrm"
    assert problems(next(iter(reader))) == [("messages", "is required")]
    genrm = {"messages": [{"role": "user", "content": "q"}]}
    assert problems_of(genrm, format="native") == [
        ("conversation", "is required"),
        ("response_1", "is required"),
        ("response_2", "is required"),
    ]


def test_unknown_format_name_raises_format_error_naming_the_allowed_ones():
    with pytest.raises(FormatError) as caught:
        open_reader(io.BytesIO(b""), format="parquet")
    assert caught.value.message == (
        "unknown format 'parquet'; use one of native, genrm, helpsteer3, csv, judgments "
        "(or none to detect it)"
    )


def test_text_stream_raises_format_error():
    with pytest.raises(FormatError, match="binary mode"):
        open_reader(io.StringIO("{}"))


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n  \r\n", b"\xef\xbb\xbf", b"[]", b" [ \n ] \n", b"prompt,response_1,response_2\n"],
)
def test_a_file_without_records_says_so_on_line_1(data):
    assert problems(one(data)) == [("", "the file holds no records")]
    assert one(data).line == 1


# --- line numbers -----------------------------------------------------------------------------


def test_jsonl_lines_count_blank_lines_and_crlf():
    data = b"\r\n" + jsonl(rec(id="a")).replace(b"\n", b"\r\n") + b"\n   \n" + jsonl(rec(id="b"))
    items = read(data)
    assert [(i.id, i.line) for i in items] == [("a", 2), ("b", 5)]


def test_json_array_records_carry_the_line_of_their_opening_brace():
    data = (
        b'[\n  {"id": "a",\n   "conversation": [{"role": "user", "content": "x"}],\n'
        b'   "response_1": "1", "response_2": "2"},\n\n'
        b'  {"id": "b", "conversation": [{"role": "user",\n "content": "y"}],\n'
        b'   "response_1": "1",\n   "response_2": "2"}, {"id": "c", "conversation": '
        b'[{"role": "user", "content": "z"}], "response_1": "", "response_2": ""}\n]\n'
    )
    items = read(data)
    assert [(i.id, i.line) for i in items] == [("a", 2), ("b", 6), ("c", 9)]


def test_json_array_bad_element_is_reported_and_the_next_one_read():
    data = b'[\n{"id": "a",\n "x": 1 "y": 2},\n' + json.dumps(rec(id="b")).encode() + b"\n]"
    bad, good = read(data)
    assert problems(bad) == [("", "not valid JSON: Expecting ',' delimiter at line 3, column 9")]
    assert bad.line == 2
    assert good.id == "b" and good.line == 4


def test_json_array_framing_errors():
    assert problems(read(b'[{"id": "a"} {"id": "b"}]')[-1]) == [
        (
            "",
            "not valid JSON: expected ',' or ']' after the previous record, got '{' at column "
            "14; the rest of the file cannot be read",
        )
    ]
    assert problems(read(b"[\n" + json.dumps(rec()).encode() + b",\n")[-1]) == [
        ("", "the JSON array is not closed: the file ends before ']'")
    ]
    last = read(b'[\n{"id": "a",\n"response_1": "unfinished')[-1]
    assert (last.line, problems(last)) == (
        2,
        [("", "not valid JSON: the file ends before this record is complete")],
    )
    assert problems(read(b"[" + json.dumps(rec()).encode() + b"] x")[-1]) == [
        ("", "not valid JSON: unexpected data after the array's ']'")
    ]
    assert problems(read(b"[" + json.dumps(rec()).encode() + b",]")[-1]) == [
        ("", "not valid JSON: a ',' before ']'")
    ]


def test_json_array_strings_with_brackets_quotes_and_escapes_do_not_confuse_the_scanner():
    tricky = 'a "quoted" [bracket] {brace} \\ back\\slash \\"'
    record = rec(response_1=tricky, response_2="]}", metadata={"k": "[[[", "l": '"}'})
    items = read(json.dumps([record, rec(id="q-2")], indent=2).encode())
    assert [i.response_1 for i in items] == [tricky, "1+2=4"]
    assert items[0].metadata == {"k": "[[[", "l": '"}'}


def test_json_array_elements_longer_than_a_read_chunk(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 7)
    records = [rec(id=str(i), response_1="x\\" * 20 + '"' * i) for i in range(5)]
    data = json.dumps(records, indent=1).encode()
    items = read(data)
    assert [(i.id, i.response_1) for i in items] == [(r["id"], r["response_1"]) for r in records]
    assert [i.line for i in items] == [2, 13, 24, 35, 46]


def test_bad_line_in_the_middle_of_a_large_file_is_reported_on_its_line(tmp_path):
    path = tmp_path / "big.jsonl"
    line = (
        b'{"id": "%d", "conversation": [{"role": "user", "content": "q"}], '
        b'"response_1": "a", "response_2": "b"}\n'
    )
    with path.open("wb") as f:
        for i in range(1, 100_001):
            if i == 50_001:
                f.write(
                    b'{"id": "bad", "conversation": [{"role": "user", "content": "q"}], '
                    b'"response_1": "a", "response_2": "b", "labels": '
                    b'[{"annotator": "a", "preference": 7}]}\n'
                )
            else:
                f.write(line % i)
    with path.open("rb") as f:
        reader = open_reader(f)
        invalid = [item for item in reader if isinstance(item, Invalid)]
        assert reader.bytes_read == path.stat().st_size
    assert len(invalid) == 1
    assert invalid[0].errors == [
        RecordError(
            line=50001,
            field="labels[0].preference",
            message="must be an integer from -3 to 3, got 7",
            record_id="bad",
        )
    ]


def test_bytes_read_moves_while_iterating(monkeypatch):
    monkeypatch.setattr(readers, "_CHUNK", 100)
    data = jsonl(*[rec(id=str(i)) for i in range(20)])
    reader = open_reader(io.BytesIO(data))
    seen = []
    for _ in reader:
        seen.append(reader.bytes_read)
    assert seen == sorted(seen) and seen[0] < len(data) and seen[-1] == len(data)


# --- ids --------------------------------------------------------------------------------------


def test_integer_ids_become_strings_and_ids_are_stripped():
    items = read(jsonl(rec(id=17), rec(id="  q-2 \t")))
    assert [i.id for i in items] == ["17", "q-2"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 256, "must be at most 255 characters, got 256"),
        (True, "must be a string or an integer, got true"),
        (1.5, "must be a string or an integer, got 1.5"),
        (["a"], "must be a string or an integer, got a list"),
    ],
)
def test_bad_ids(value, message):
    assert problems_of(rec(id=value)) == [("id", message)]


def test_missing_id_is_derived_from_the_content_and_stable():
    record = rec(id=..., principles=["p"])
    first, second = read(jsonl(record)), read(jsonl(record))
    expected = derive_id(USER, "1+2=4", "1+2=3", ["p"])
    assert first[0].id == second[0].id == expected
    assert expected.startswith("h-") and len(expected) == 18
    canonical = json.dumps(
        [USER, "1+2=4", "1+2=3", ["p"]], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    assert (
        expected == "h-" + hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()[:16]
    )
    assert read(jsonl(rec(id=None)))[0].id == derive_id(USER, "1+2=4", "1+2=3", [])


def test_duplicate_id_is_an_error_on_the_later_record():
    items = read(jsonl(rec(id="x"), rec(id="y"), rec(id="x")))
    assert isinstance(items[0], ComparisonIn)
    assert problems(items[2]) == [("id", "duplicate id 'x' (first on line 1)")]
    assert items[2].record_id == "x"


def test_the_same_content_twice_without_ids_is_a_duplicate():
    items = read(jsonl(rec(id=...), rec(id=...)))
    derived = derive_id(USER, "1+2=4", "1+2=3", [])
    assert problems(items[1]) == [
        (
            "id",
            "duplicate of line 1: the same conversation, responses and principles, and no id to "
            f"tell them apart (derived id '{derived}')",
        )
    ]


# --- conversation and responses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation", "expected"),
    [
        (..., [("conversation", "is required")]),
        ("hi", [("conversation", "must be a list of turns, got 'hi'")]),
        ([], [("conversation", "must not be empty")]),
        (["hi"], [("conversation[0]", "must be an object with role and content, got 'hi'")]),
        ([{"content": "x"}], [("conversation[0].role", "is required")]),
        (
            [{"role": "bot", "content": "x"}],
            [("conversation[0].role", "must be one of 'user', 'assistant', 'system', got 'bot'")],
        ),
        ([{"role": "user"}], [("conversation[0].content", "is required")]),
        (
            [{"role": "user", "content": ["x"]}],
            [("conversation[0].content", "must be a string, got a list")],
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "system", "content": "s"},
                {"role": "user", "content": "b"},
            ],
            [("conversation[1].role", "a system turn may only come first")],
        ),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
            [("conversation[1].role", "the last turn must be from the user, got 'assistant'")],
        ),
        (
            [{"role": "system", "content": "s"}],
            [("conversation[0].role", "the last turn must be from the user, got 'system'")],
        ),
    ],
)
def test_conversation_rules(conversation, expected):
    assert problems_of(rec(conversation=conversation)) == expected


def test_multi_turn_conversation_keeps_only_role_and_content():
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a", "name": "alice"},
        {"role": "assistant", "content": "b", "tool_calls": []},
        {"role": "user", "content": "c"},
    ]
    item = one(jsonl(rec(conversation=conversation)))
    assert item.conversation == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_responses_are_required_strings_and_may_be_empty():
    assert problems_of(rec(response_1=..., response_2=5)) == [
        ("response_1", "is required"),
        ("response_2", "must be a string, got 5"),
    ]
    item = one(jsonl(rec(response_1="", response_2="")))
    assert (item.response_1, item.response_2) == ("", "")


def test_native_record_with_a_prompt_instead_of_a_conversation():
    item = one(jsonl(rec(conversation=..., prompt="Hi?")))
    assert item.conversation == [{"role": "user", "content": "Hi?"}]
    assert item.metadata == {}


# --- principles and metadata ------------------------------------------------------------------


def test_principles_single_string_becomes_a_list_and_non_strings_are_errors():
    assert one(jsonl(rec(principles="Be kind."))).principles == ["Be kind."]
    assert problems_of(rec(principles=["a", 3])) == [("principles[1]", "must be a string, got 3")]
    assert problems_of(rec(principles={"a": 1})) == [
        ("principles", "must be a list of strings, got an object")
    ]


def test_metadata_must_be_an_object():
    assert problems_of(rec(metadata=[1])) == [("metadata", "must be a JSON object, got a list")]


def test_unknown_top_level_keys_go_into_metadata_and_metadata_wins():
    item = one(jsonl(rec(source="hf", domain="code", metadata={"domain": "math"})))
    assert item.metadata == {"source": "hf", "domain": "math"}


def test_metadata_nested_too_deeply_is_refused():
    deep: list = []
    for _ in range(99):
        deep = [deep]  # 100 levels, 101 with the metadata object
    assert problems_of(rec(metadata={"ok": [[1]], "tree": deep})) == [
        ("metadata.tree", "is nested more than 100 levels deep")
    ]
    assert isinstance(one(jsonl(rec(metadata={"tree": deep[0]}))), ComparisonIn)


# --- labels -----------------------------------------------------------------------------------


def test_label_winner_maps_to_preference_and_optional_fields_are_kept():
    labels = [
        {"annotator": "a", "winner": 1},
        {"annotator": "b", "winner": 0, "rationale": "same"},
        {"annotator": "c", "winner": 2, "preference": 3, "score_1": 2, "score_2": 5.0},
        {"annotator": " d ", "preference": -2.0},
    ]
    assert one(jsonl(rec(labels=labels))).labels == [
        LabelIn("a", -1),
        LabelIn("b", 0, rationale="same"),
        LabelIn("c", 3, 2, 5),
        LabelIn("d", -2),
    ]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ({"preference": 1}, [("labels[0].annotator", "is required")]),
        ({"annotator": "", "preference": 1}, [("labels[0].annotator", "must not be empty")]),
        ({"annotator": 4, "preference": 1}, [("labels[0].annotator", "must be a string, got 4")]),
        (
            {"annotator": "a", "preference": 7},
            [("labels[0].preference", "must be an integer from -3 to 3, got 7")],
        ),
        (
            {"annotator": "a", "preference": True},
            [("labels[0].preference", "must be an integer from -3 to 3, got true")],
        ),
        (
            {"annotator": "a", "preference": "2"},
            [("labels[0].preference", "must be an integer from -3 to 3, got '2'")],
        ),
        (
            {"annotator": "a", "preference": 1.5},
            [("labels[0].preference", "must be an integer from -3 to 3, got 1.5")],
        ),
        (
            {"annotator": "a"},
            [
                (
                    "labels[0].preference",
                    "is required: give a preference (-3..3) or a winner (1, 2, or 0 for a tie)",
                )
            ],
        ),
        (
            {"annotator": "a", "winner": 3},
            [("labels[0].winner", "must be 1, 2, or 0 for a tie, got 3")],
        ),
        (
            {"annotator": "a", "winner": 1, "preference": 2},
            [("labels[0].winner", "winner 1 disagrees with preference 2")],
        ),
        (
            {"annotator": "a", "winner": 0, "preference": -1},
            [("labels[0].winner", "winner 0 disagrees with preference -1")],
        ),
        (
            {"annotator": "a", "preference": 1, "score_1": 0, "score_2": 6, "rationale": 1},
            [
                ("labels[0].score_1", "must be an integer from 1 to 5, got 0"),
                ("labels[0].score_2", "must be an integer from 1 to 5, got 6"),
                ("labels[0].rationale", "must be a string, got 1"),
            ],
        ),
        ("a", [("labels[0]", "must be an object, got 'a'")]),
    ],
)
def test_label_rules(label, expected):
    assert problems_of(rec(labels=[label])) == expected


def test_labels_must_be_a_list():
    assert problems_of(rec(labels={"annotator": "a"})) == [
        ("labels", "must be a list of labels, got an object")
    ]


def test_the_same_annotator_twice_is_an_error_even_next_to_other_errors():
    labels = [
        {"annotator": "a", "preference": 9},
        {"annotator": "b", "preference": 1},
        {"annotator": "a ", "winner": 1},
    ]
    assert problems_of(rec(labels=labels)) == [
        ("labels[0].preference", "must be an integer from -3 to 3, got 9"),
        ("labels[2].annotator", "annotator 'a' appears twice (first in labels[0])"),
    ]


def test_every_problem_of_a_record_is_listed():
    record = rec(
        id="",
        conversation=[{"role": "assistant", "content": "x"}],
        response_2=...,
        labels=[{"annotator": "a", "preference": 7}],
        judgments=[{"judge": "j"}],
    )
    assert [field for field, _ in problems_of(record)] == [
        "conversation[0].role",
        "response_2",
        "labels[0].preference",
        "judgments[0].preference",
        "id",
    ]


# --- judgments --------------------------------------------------------------------------------


def test_judgments_ranking_sets_preference_and_defaults_apply():
    judgments = [
        {"judge": "g", "ranking": 5, "score_1": 2, "score_2": 4},
        {"judge": "g", "ranking": 2, "preference": -2, "swapped": True, "reasoning": "r"},
        {"judge": "g", "winner": 0, "sample": 1, "run": " run-7 "},
        {"judge": "h", "preference": -3.0, "winner": 1},
    ]
    assert one(jsonl(rec(judgments=judgments))).judgments == [
        JudgmentIn("g", 2, 2, 4, 5),
        JudgmentIn("g", -2, ranking=2, swapped=True, reasoning="r"),
        JudgmentIn("g", 0, sample=1, run="run-7"),
        JudgmentIn("h", -3),
    ]


@pytest.mark.parametrize(
    ("judgment", "expected"),
    [
        ({"ranking": 1}, [("judgments[0].judge", "is required")]),
        (
            {"judge": "g"},
            [
                (
                    "judgments[0].preference",
                    "is required: give a preference (-3..3), a ranking (1..6) or a winner "
                    "(1, 2, or 0 for a tie)",
                )
            ],
        ),
        (
            {"judge": "g", "ranking": 7},
            [("judgments[0].ranking", "must be an integer from 1 to 6, got 7")],
        ),
        (
            {"judge": "g", "ranking": 4, "preference": 2},
            [("judgments[0].preference", "is 2, but ranking 4 means 1")],
        ),
        (
            {"judge": "g", "ranking": 4, "winner": 1},
            [("judgments[0].winner", "winner 1 disagrees with ranking 4")],
        ),
        (
            {"judge": "g", "preference": 1, "swapped": 1},
            [("judgments[0].swapped", "must be true or false, got 1")],
        ),
        (
            {"judge": "g", "preference": 1, "swapped": "true"},
            [("judgments[0].swapped", "must be true or false, got 'true'")],
        ),
        (
            {"judge": "g", "preference": 1, "sample": -1},
            [("judgments[0].sample", "must be an integer of 0 or more, got -1")],
        ),
        (
            {"judge": "g", "preference": 1, "reasoning": {}, "run": 3, "score_2": 9},
            [
                ("judgments[0].score_2", "must be an integer from 1 to 5, got 9"),
                ("judgments[0].reasoning", "must be a string, got an object"),
                ("judgments[0].run", "must be a string, got 3"),
            ],
        ),
    ],
)
def test_judgment_rules(judgment, expected):
    assert problems_of(rec(judgments=[judgment])) == expected


def test_the_same_verdict_twice_in_a_record_is_an_error():
    judgments = [
        {"judge": "g", "preference": 1},
        {"judge": "g", "preference": 1, "swapped": True},
        {"judge": "g", "preference": 2, "sample": 0, "swapped": False},
    ]
    assert problems_of(rec(judgments=judgments)) == [
        (
            "judgments[2]",
            "repeats judge 'g', run '', swapped false, sample 0 (first in judgments[0])",
        )
    ]


# --- text that cannot be stored, encodings, sizes, broken JSON --------------------------------


def test_nul_characters_anywhere_are_errors_naming_the_field():
    record = rec(
        id="a\u0000",
        conversation=[{"role": "user", "content": "x\u0000"}],
        metadata={"k\u0000": "v", "deep": {"list": ["\u0000"]}},
    )
    assert problems_of(record) == [
        ("id", "contains a NUL character, which cannot be stored"),
        ("conversation[0].content", "contains a NUL character, which cannot be stored"),
        ("metadata['k\\x00']", "the key contains a NUL character, which cannot be stored"),
        ("metadata.deep.list[0]", "contains a NUL character, which cannot be stored"),
    ]
    assert one(jsonl(record)).record_id is None


def test_an_escaped_backslash_before_u0000_is_not_a_nul():
    item = one(jsonl(rec(response_1="\\u0000")))
    assert item.response_1 == "\\u0000"


def test_lone_surrogates_are_errors():
    data = jsonl(rec()).replace(b'"1+2=4"', b'"a\\ud800b"').replace(b'"q-1"', b'"q\\udfff"')
    assert problems(one(data)) == [
        ("id", "contains a lone surrogate ('\\udfff'), which is not valid Unicode"),
        ("response_1", "contains a lone surrogate ('\\ud800'), which is not valid Unicode"),
    ]


def test_invalid_utf8_names_the_byte_offset():
    data = jsonl(rec(id="a"), rec(id="b")).replace(b"1+2=4", b"1+\xff=4", 1)
    bad, good = read(data)
    offset = jsonl(rec(id="a")).index(b"1+2=4") + 2
    assert problems(bad) == [("", f"not valid UTF-8 at byte offset {offset} of the line")]
    assert good.id == "b"


def test_bom_and_crlf_are_accepted():
    data = b"\xef\xbb\xbf" + jsonl(rec(id="a"), rec(id="b")).replace(b"\n", b"\r\n")
    assert [i.id for i in read(data)] == ["a", "b"]
    array = b"\xef\xbb\xbf[\r\n" + json.dumps(rec()).encode() + b"\r\n]\r\n"
    assert [i.line for i in read(array)] == [2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"id": "a", "conv', "not valid JSON: Unterminated string starting at column 13"),
        (
            b'{"id": "a",}',
            "not valid JSON: Expecting property name enclosed in double quotes at column 12",
        ),
        (
            b"{'id': 1}",
            "not valid JSON: Expecting property name enclosed in double quotes at column 2",
        ),
        (b'{"a": NaN}', "not valid JSON: NaN is not a JSON value"),
        (b'{"a": 1e999}', "not valid JSON: the number 1e999 is too large"),
        (b'{"a": 1} x', "not valid JSON: Extra data at column 10"),
    ],
)
def test_broken_json_names_the_column(line, message):
    assert problems(one(b"\n" + line + b"\n")) == [("", message)]


@pytest.mark.parametrize(("value", "got"), [(b"[1]", "a list"), (b'"x"', "'x'"), (b"null", "null")])
def test_a_json_value_that_is_not_an_object_is_an_error(value, got):
    assert problems(read(jsonl(rec()) + value + b"\n")[1]) == [
        ("", f"must be a JSON object, got {got}")
    ]


def test_deep_nesting_is_a_clean_error():
    deep = b"[" * 100_000 + b"]" * 100_000
    assert problems(read(jsonl(rec()) + deep + b"\n")[1]) == [
        ("", "not valid JSON: nested too deeply")
    ]
    record = b'{"metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    assert problems(read(jsonl(rec()) + record + b"\n")[1]) == [
        ("", "not valid JSON: nested too deeply")
    ]
    assert problems(read(b"[" + deep + b"]")[0]) == [("", "not valid JSON: nested too deeply")]


class _LazyStream:
    """A binary stream whose bytes are made as they are read (so that only the reader's own
    memory shows in tracemalloc)."""

    def __init__(self, parts: list[tuple[bytes, int]]) -> None:
        self.parts = parts  # (bytes, repeat)

    def read(self, size: int = -1) -> bytes:
        while self.parts:
            piece, count = self.parts[0]
            if count == 0:
                self.parts.pop(0)
                continue
            n = max(1, min(count, size // len(piece)))
            self.parts[0] = (piece, count - n)
            return piece * n
        return b""


def test_a_record_over_64_mib_is_an_error_and_is_not_kept_in_memory():
    head = b'{"id": "huge", "response_1": "'
    filler = b"x" * 65536
    tail = b'"}\n' + jsonl(rec(id="after"))
    # 192 MiB: the reader holds at most 64 MiB of it before it knows the record is too large.
    stream = _LazyStream([(head, 1), (filler, 3 * 1024), (tail, 1)])
    tracemalloc.start()
    try:
        items = list(open_reader(stream))  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems(items[0]) == [("", "record is larger than 64 MiB")]
    assert items[0].line == 1
    assert items[1].id == "after" and items[1].line == 2
    assert peak < 80 * 1024 * 1024


def test_oversize_records_in_arrays_and_csv(monkeypatch):
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(readers, "_CHUNK", 64)
    big = rec(id="big", response_1="y\\" * 800)
    items = read(json.dumps([rec(id="a"), big, rec(id="b")], indent=1).encode())
    assert [getattr(i, "id", None) for i in items] == ["a", None, "b"]
    assert problems(items[1]) == [("", "record is larger than 64 MiB")]
    rows = [["id", "prompt", "response_1", "response_2"], ["a", "q", "r", "s"]]
    rows += [["big", "q", "z" * 2000, "s"], ["b", "q", "r", "s"]]
    items = read(csv_bytes(rows))
    assert [getattr(i, "id", None) for i in items] == ["a", None, "b"]
    assert (items[1].line, problems(items[1])) == (3, [("", "record is larger than 64 MiB")])


# --- genrm ------------------------------------------------------------------------------------


def test_genrm_messages_map_onto_the_comparison():
    record = {
        "id": 9,
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
            {"role": "principle", "content": "Be correct."},
            {"role": "principle", "content": "Be brief."},
            {"role": "response_1", "content": "r1"},
            {"role": "response_2", "content": "r2"},
        ],
        "metadata": {"m": 1},
        "source": "x",
        "labels": [{"annotator": "a", "preference": 1}],
        "judgments": [{"judge": "g", "ranking": 1}],
    }
    reader = open_reader(io.BytesIO(jsonl(record)))
    assert reader.format == "genrm"
    assert list(reader) == [
        ComparisonIn(
            id="9",
            conversation=[
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2"},
            ],
            response_1="r1",
            response_2="r2",
            principles=["Be correct.", "Be brief."],
            metadata={"source": "x", "m": 1},
            labels=[LabelIn("a", 1)],
            judgments=[JudgmentIn("g", -3, ranking=1)],
            line=1,
        )
    ]


def test_genrm_message_errors():
    record = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "system", "content": "late"},
            {"role": "tool", "content": "t"},
            {"role": "response_1", "content": 5},
            {"role": "response_1", "content": "again"},
            "oops",
        ]
    }
    assert problems_of(record) == [
        (
            "messages[2].role",
            "must be one of 'user', 'assistant', 'system', 'principle', "
            "'response_1', 'response_2', got 'tool'",
        ),
        ("messages[3].content", "must be a string, got 5"),
        ("messages[4].role", "a second 'response_1' message (the first is messages[3])"),
        ("messages[5]", "must be an object with role and content, got 'oops'"),
        ("messages", "needs a message with role 'response_2'"),
        ("messages[1].role", "a system turn may only come first"),
        ("messages[1].role", "the last turn must be from the user, got 'system'"),
    ]
    assert problems_of({"messages": "x"}) == [("messages", "must be a list of messages, got 'x'")]


# --- helpsteer3 -------------------------------------------------------------------------------


def test_helpsteer3_rows_map_to_labels_helpsteer3_1_to_k():
    row = {
        "domain": "code",
        "language": "python",
        "context": [{"role": "user", "content": "q"}],
        "response1": "a",
        "response2": "b",
        "overall_preference": -2,
        "individual_preference": [
            {"score": -2, "reasoning": "first is better", "feedback1": "x"},
            {"score": -1, "reasoning": "slightly"},
            {"score": -3},
        ],
    }
    reader = open_reader(io.BytesIO(jsonl(row)))
    assert reader.format == "helpsteer3"
    item = next(iter(reader))
    assert item.labels == [
        LabelIn("helpsteer3-1", -2, rationale="first is better"),
        LabelIn("helpsteer3-2", -1, rationale="slightly"),
        LabelIn("helpsteer3-3", -3),
    ]
    assert item.metadata == {"domain": "code", "language": "python", "overall_preference": -2}
    assert (item.response_1, item.response_2) == ("a", "b")
    assert item.id == derive_id([{"role": "user", "content": "q"}], "a", "b", [])


def test_helpsteer3_context_string_and_errors():
    row = {"context": "just a prompt", "response1": "a", "response2": "b"}
    assert one(jsonl(row)).conversation == [{"role": "user", "content": "just a prompt"}]
    bad = {
        "context": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        "response1": "a",
        "overall_preference": 4,
        "individual_preference": [{"score": 1}, {"score": 9}, {"reasoning": "r"}],
    }
    assert problems_of(bad, format="helpsteer3") == [
        ("context[1].role", "the last turn must be from the user, got 'assistant'"),
        ("response2", "is required"),
        ("overall_preference", "must be an integer from -3 to 3, got 4"),
        ("individual_preference[1].score", "must be an integer from -3 to 3, got 9"),
        ("individual_preference[2].score", "is required"),
    ]


# --- judgments files --------------------------------------------------------------------------


def test_judgments_file_rows_attach_verdicts_by_id():
    rows = [
        {"id": "q-1", "judge": "g", "ranking": 6, "score_1": 1, "score_2": 5, "reasoning": "r"},
        {"id": "q-1", "judge": "g", "ranking": 1, "swapped": True},
        {"id": 2, "judge": "g", "winner": 2, "run": "r1", "sample": 3},
    ]
    reader = open_reader(io.BytesIO(jsonl(*rows)))
    assert reader.format == "judgments"
    assert list(reader) == [
        JudgmentRowIn("q-1", JudgmentIn("g", 3, 1, 5, 6, reasoning="r"), line=1),
        JudgmentRowIn("q-1", JudgmentIn("g", -3, ranking=1, swapped=True), line=2),
        JudgmentRowIn("2", JudgmentIn("g", 1, sample=3, run="r1"), line=3),
    ]


def test_judgments_file_errors():
    rows = [
        {"id": "q-1", "judge": "g", "preference": 1},
        {"id": "q-1", "judge": "g", "preference": -1},
        {"judge": "g", "preference": 1},
        {"id": "q-2", "judge": " ", "ranking": 0},
    ]
    items = read(jsonl(*rows), format="judgments")
    assert isinstance(items[0], JudgmentRowIn)
    assert problems(items[1]) == [
        (
            "",
            "duplicate verdict for id 'q-1': judge 'g', run '', swapped false, sample 0 "
            "(first on line 1)",
        )
    ]
    assert problems(items[2]) == [
        ("id", "is required: it names the comparison this verdict belongs to")
    ]
    assert problems(items[3]) == [
        ("judge", "must not be empty"),
        ("ranking", "must be an integer from 1 to 6, got 0"),
    ]


def test_judgments_file_as_a_json_array():
    data = json.dumps([{"id": "a", "judge": "g", "preference": 0}]).encode()
    reader = open_reader(io.BytesIO(data))
    assert reader.format == "judgments"
    assert list(reader) == [JudgmentRowIn("a", JudgmentIn("g", 0), line=1)]


# --- csv --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ["id", "prompt", "response_1", "response_2"],
        ["Item ID", "Question", "Response A", "Response B"],
        ["UID", "instruction", "response1", "response2"],
        ["external-id", "Query", "response-1", "RESPONSE-2"],
        ["item_id", "input", "answer_1", "answer_2"],
        ["id", "user", "completion_a", "completion_b"],
        ["id", "prompt", "output_1", "output 2"],
    ],
)
def test_csv_headers_are_matched_loosely(header):
    item = one(csv_bytes([header, ["7", "Hi?", "a", "b"]]))
    assert item == ComparisonIn("7", [{"role": "user", "content": "Hi?"}], "a", "b", line=2)


def test_csv_missing_columns_are_one_error_on_line_1_naming_accepted_headers():
    item = one(b"question,answer\nq,a\n")
    assert item.line == 1
    [(field, message)] = problems(item)
    assert field == ""
    assert message.startswith(
        "the header has no column for response_1, response_2. Accepted header names "
        "(case, spaces and dashes do not matter): response_1: response_1, response1, response_a"
    )
    assert "response_2: response_2, response2, response_b" in message
    [(_, message)] = problems(one(b"id,response_1,response_2\n1,a,b\n"))
    assert message.startswith("the header has no column for prompt. Accepted header names")
    assert "prompt: prompt, question, instruction, query, input, user" in message
    assert message.endswith("; or a conversation column (JSON)")


def test_csv_header_with_a_nul_is_an_error():
    assert problems(one(b"prompt,response_1,response_2,no\x00te\nq,a,b,c\n")) == [
        ("", "the name of column 4 contains a NUL character, which cannot be stored")
    ]


def test_csv_two_columns_meaning_the_same_thing_is_an_error():
    assert problems(one(b"prompt,Question,response_1,response_2\n")) == [
        ("", "the columns 'prompt' and 'Question' both mean prompt: keep one")
    ]


def test_csv_quoted_multiline_cells_bom_and_crlf_keep_row_line_numbers():
    rows = [
        ["id", "prompt", "response_1", "response_2"],
        ["a", "line one\r\nline two", "x, y", 'say "hi"'],
        ["b", "q", "r\nwith\nnewlines", ""],
        ["c", "q", "r", "s"],
    ]
    data = b"\xef\xbb\xbf" + csv_bytes(rows)
    items = read(data)
    assert [(i.id, i.line) for i in items] == [("a", 2), ("b", 4), ("c", 7)]
    assert items[0].conversation[0]["content"] == "line one\r\nline two"
    assert (items[0].response_1, items[0].response_2) == ("x, y", 'say "hi"')
    assert items[1].response_1 == "r\nwith\nnewlines" and items[1].response_2 == ""


def test_csv_json_columns_flat_label_and_extra_columns():
    conversation = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
    ]
    header = ["id", "prompt", "response_1", "response_2", "conversation", "principles"]
    header += ["metadata", "labels", "judgments", "Winner", "annotator", "score_1", "Notes", "x"]
    row = [
        "1",
        "ignored when conversation is given",
        "a",
        "b",
        json.dumps(conversation),
        '["P1", "P2"]',
        '{"domain": "math", "Notes": "from metadata"}',
        '[{"annotator": "ann", "preference": "-2"}]',
        '[{"judge": "g", "ranking": "5", "swapped": "true"}]',
        "2",
        "",
        " 4 ",
        "n",
        "",
    ]
    item = one(csv_bytes([header, row]))
    assert item == ComparisonIn(
        "1",
        conversation,
        "a",
        "b",
        ["P1", "P2"],
        {"Notes": "from metadata", "domain": "math"},
        [LabelIn("ann", -2), LabelIn("csv", 1, score_1=4)],
        [JudgmentIn("g", 2, ranking=5, swapped=True)],
        line=2,
    )


def test_csv_system_column_and_principles_as_text():
    header = ["prompt", "system", "response_1", "response_2", "principles", "preference"]
    item = one(csv_bytes([header, ["q", "be brief", "a", "b", "One.\n\n  Two.  \n", "-3"]]))
    assert item.conversation == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "q"},
    ]
    assert item.principles == ["One.", "Two."]
    assert item.labels == [LabelIn("csv", -3)]
    assert item.id == derive_id(item.conversation, "a", "b", ["One.", "Two."])


def test_csv_row_errors():
    header = ["id", "prompt", "response_1", "response_2", "labels", "preference", "rationale"]
    rows = [
        header,
        ["1", "", "a", "b", "", "", ""],
        ["2", "q", "a", "b", "[{", "9", ""],
        ["3", "q", "a", "b", "", "", "why"],
        ["4", "q", "a", "b", "", "1", "", "extra"],
        ["5", "q\x00", "a", "b", '[{"annotator": "csv", "preference": 1}]', "1", ""],
    ]
    items = read(csv_bytes(rows))
    assert [i.line for i in items] == [2, 3, 4, 5, 6]
    assert problems(items[0]) == [
        ("prompt", "is required: the prompt (or conversation) cell is empty")
    ]
    assert problems(items[1]) == [
        ("labels", "not valid JSON: Expecting property name enclosed in double quotes at column 3"),
        ("preference", "must be an integer from -3 to 3, got 9"),
    ]
    assert problems(items[2]) == [
        (
            "preference",
            "is required: the row has label cells (annotator, rationale, score_1, score_2) but "
            "no preference or winner",
        )
    ]
    assert problems(items[3]) == [("", "has 8 cells, but the header has 7 columns")]
    assert problems(items[4]) == [
        ("prompt", "contains a NUL character, which cannot be stored"),
        ("annotator", "annotator 'csv' appears twice (first in labels[0])"),
    ]


def test_csv_invalid_utf8_blank_rows_and_tabs():
    data = b"id\tprompt\tresponse_1\tresponse_2\n\n1\tq\xe9\ta\tb\n\t\t\t\n2\tq\ta\tb\n"
    bad, good = read(data)
    assert (bad.line, problems(bad)) == (3, [("", "not valid UTF-8 at byte offset 3 of the line")])
    assert (good.id, good.line) == ("2", 5)


def test_csv_utf8_error_inside_a_multiline_cell_names_its_line():
    data = b'id,prompt,response_1,response_2\n1,"q\nsecond \xff line",a,b\n'
    assert problems(one(data)) == [("", "not valid UTF-8 at byte offset 7 of line 3")]


# --- writers and round trips ------------------------------------------------------------------

RICH = ComparisonIn(
    id="rt-1",
    conversation=[
        {"role": "system", "content": "Sois bref. ✓"},
        {"role": "user", "content": 'Quote "this", and, commas'},
        {"role": "assistant", "content": "line 1\r\nline 2\n"},
        {"role": "user", "content": "日本語です 🎉"},
    ],
    response_1='He said "x,y"\r\n\ttab',
    response_2="",
    principles=["Be correct.", "Multi\nline"],
    metadata={"domain": "math", "nested": {"a": [1, 2.5, None, True]}, "ünï": "cödé"},
    labels=[LabelIn("ann-a", 3, 1, 5, "because\nreasons"), LabelIn("ann-b", 0)],
    judgments=[
        JudgmentIn("genrm", -2, 4, 3, 2, False, 0, "think", "run-1"),
        JudgmentIn("genrm", 2, ranking=5, swapped=True, sample=1),
        JudgmentIn("vanilla", 0),
    ],
    line=1,
)


def test_native_record_always_has_every_key():
    plain = ComparisonIn("x", USER, "a", "b")
    assert native_record(plain) == {
        "id": "x",
        "conversation": USER,
        "response_1": "a",
        "response_2": "b",
        "principles": [],
        "metadata": {},
        "labels": [],
        "judgments": [],
    }
    assert native_record(RICH)["labels"] == [
        {
            "annotator": "ann-a",
            "preference": 3,
            "score_1": 1,
            "score_2": 5,
            "rationale": "because\nreasons",
        },
        {"annotator": "ann-b", "preference": 0},
    ]
    assert native_record(RICH)["judgments"] == [
        {
            "judge": "genrm",
            "preference": -2,
            "ranking": 2,
            "score_1": 4,
            "score_2": 3,
            "swapped": False,
            "sample": 0,
            "reasoning": "think",
            "run": "run-1",
        },
        {"judge": "genrm", "preference": 2, "ranking": 5, "swapped": True, "sample": 1},
        {"judge": "vanilla", "preference": 0, "swapped": False, "sample": 0},
    ]


def test_native_line_is_compact_utf8_json_with_a_newline():
    line = native_line(RICH)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert "日本語".encode() in line and b": " not in line
    assert orjson.loads(line) == native_record(RICH)


def test_native_jsonl_round_trip_is_exact():
    second = ComparisonIn("rt-2", USER, "a", "b", line=2)
    assert read(native_line(RICH) + native_line(second)) == [RICH, second]


def test_csv_round_trip_is_exact():
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow(csv_row(RICH))
    writer.writerow(csv_row(ComparisonIn("rt-2", USER, "", "b")))
    data = out.getvalue().encode()
    items = read(data, filename="export.csv")
    expected_second = ComparisonIn("rt-2", USER, "", "b", line=0)
    assert items[0] == ComparisonIn(**{**_fields(RICH), "line": 2})
    assert items[1] == ComparisonIn(**{**_fields(expected_second), "line": _line_of(data, b"rt-2")})


def test_csv_row_prompt_is_the_last_user_turn():
    row = csv_row(RICH)
    assert row[:4] == ["rt-1", "日本語です 🎉", 'He said "x,y"\r\n\ttab', ""]
    assert json.loads(row[4]) == RICH.conversation
    assert row[5] == '["Be correct.","Multi\\nline"]'


def _fields(c: ComparisonIn) -> dict:
    return {name: getattr(c, name) for name in ComparisonIn.__slots__}


def _line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1
