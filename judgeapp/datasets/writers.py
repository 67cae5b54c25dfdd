"""Export writers: the native JSONL object and the flat CSV row of a comparison. No Django import.

What these write, ``judgeapp.datasets.readers`` reads back to the same ``ComparisonIn`` (with the
ids given). Every key of the native object is always present, so that the shape is stable for
tools that read the export; optional fields of labels and judgments are written only when set.
"""

from __future__ import annotations

from typing import Any

import orjson

from judgeapp.datasets.records import ComparisonIn, JudgmentIn, LabelIn

__all__ = [
    "CSV_COLUMNS",
    "csv_row",
    "judgment_object",
    "label_object",
    "native_line",
    "native_record",
]

CSV_COLUMNS: list[str] = [
    "id",
    "prompt",
    "response_1",
    "response_2",
    "conversation",
    "principles",
    "metadata",
    "labels",
    "judgments",
]


def label_object(label: LabelIn) -> dict[str, Any]:
    out: dict[str, Any] = {"annotator": label.annotator, "preference": label.preference}
    if label.score_1 is not None:
        out["score_1"] = label.score_1
    if label.score_2 is not None:
        out["score_2"] = label.score_2
    if label.rationale:
        out["rationale"] = label.rationale
    return out


def judgment_object(judgment: JudgmentIn) -> dict[str, Any]:
    out: dict[str, Any] = {"judge": judgment.judge, "preference": judgment.preference}
    if judgment.ranking is not None:
        out["ranking"] = judgment.ranking
    if judgment.score_1 is not None:
        out["score_1"] = judgment.score_1
    if judgment.score_2 is not None:
        out["score_2"] = judgment.score_2
    out["swapped"] = judgment.swapped
    out["sample"] = judgment.sample
    if judgment.reasoning:
        out["reasoning"] = judgment.reasoning
    if judgment.run:
        out["run"] = judgment.run
    return out


def native_record(c: ComparisonIn) -> dict[str, Any]:
    """The native JSONL object of a comparison (DESIGN.md, "File formats")."""
    return {
        "id": c.id,
        "conversation": [{"role": t["role"], "content": t["content"]} for t in c.conversation],
        "response_1": c.response_1,
        "response_2": c.response_2,
        "principles": list(c.principles),
        "metadata": c.metadata,
        "labels": [label_object(label) for label in c.labels],
        "judgments": [judgment_object(j) for j in c.judgments],
    }


def native_line(c: ComparisonIn) -> bytes:
    """One line of native JSONL: compact UTF-8 JSON (non-ASCII unescaped) and a newline."""
    return orjson.dumps(native_record(c), option=orjson.OPT_APPEND_NEWLINE)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def csv_row(c: ComparisonIn) -> list[str]:
    """The cells of a comparison under ``CSV_COLUMNS``, for ``csv.writer``.

    ``prompt`` is the last user turn, for people reading the file in a spreadsheet; the
    ``conversation`` cell holds the whole conversation and is what the reader uses."""
    prompt = next((t["content"] for t in reversed(c.conversation) if t["role"] == "user"), "")
    record = native_record(c)
    return [
        c.id,
        prompt,
        c.response_1,
        c.response_2,
        _json(record["conversation"]),
        _json(record["principles"]),
        _json(record["metadata"]),
        _json(record["labels"]),
        _json(record["judgments"]),
    ]
