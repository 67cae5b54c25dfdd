"""Streaming readers for the import formats, with validation. No Django import.

``open_reader(stream)`` detects the format and returns a ``Reader``; iterating it yields, per
record, a ``ComparisonIn`` (formats native, genrm, helpsteer3, csv), a ``JudgmentRowIn`` (format
judgments) or an ``Invalid`` holding every problem found in that record. Iterating never raises
for bad data. The stream is read in chunks; memory holds one record at a time plus the ids seen
so far (for duplicate detection).

Formats (DESIGN.md, "File formats"):

- native: one JSON object per line (or a JSON array of them) with ``id``, ``conversation``,
  ``response_1``, ``response_2``, ``principles``, ``metadata``, ``labels``, ``judgments``.
  Users bring their own JSONL, so top-level keys we do not know go into ``metadata`` (an explicit
  ``metadata`` entry wins when both name the same key); a record with no ``conversation`` but a
  string ``prompt`` gets a one-turn conversation from it.
- genrm: ``{"messages": [...]}`` with roles user/assistant/system (the conversation), ``principle``
  (one principle each), ``response_1`` and ``response_2`` (exactly one each); optional ``id``,
  ``metadata``, ``labels``, ``judgments``; other keys go into metadata as for native.
- helpsteer3: HelpSteer3 preference rows. ``context`` (turns, or a string for one user turn),
  ``response1``, ``response2``; ``individual_preference`` entries become labels from annotators
  ``helpsteer3-1``, ``helpsteer3-2``...; every other key (``overall_preference``, ``domain``,
  ``language``...) goes into metadata.
- csv: header names matched loosely (see ``CSV_HEADER_NAMES``); JSON cells for conversation,
  principles, metadata, labels and judgments; a flat label from ``preference``/``winner`` cells;
  other non-empty cells go into metadata under their header name. Empty cells are missing values,
  except that an empty response cell is an empty response.
- judgments: rows ``{"id", "judge", "preference" | "ranking" | "winner", ...}`` attaching verdicts
  to existing comparisons by id.

Detection (no format given): the first non-blank byte picks the framing (``[`` a JSON array, ``{``
JSON lines, anything else CSV; a ``.csv``/``.tsv`` file name means CSV); then the first record that
is a JSON object picks the format: ``messages`` -> genrm; ``context`` and ``response1`` ->
helpsteer3; ``judge`` and ``id`` without conversation/messages/context/response_1 -> judgments;
otherwise native.

Validation shared by all formats: ids are strings or integers (stripped, 1..255 characters); a
record without an id gets ``derive_id(...)`` so that re-importing the same file finds the same ids.
Strings that PostgreSQL cannot store (NUL characters, lone surrogates) are errors, as are records
over 64 MiB, JSON too deep for the parser, and metadata nested more than ``MAX_DEPTH`` levels.
Names (annotator, judge, run) are stripped and limited to the sizes of the columns they go into.
An ``Invalid`` lists at most ``MAX_ERRORS_PER_RECORD`` problems, then a count of the rest.

Speed: native records and judgments rows of the common, valid shape go through a fast path of
plain checks (``_native_fast``); anything it does not accept goes through the full check, which
finds and words every problem. NUL characters can only come from ``\u0000`` escapes, so the raw
line is searched for those once instead of checking every string.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson

from judgeapp.datasets.records import (
    FORMATS,
    RANKING_TO_PREFERENCE,
    WINNER_TO_PREFERENCE,
    ComparisonIn,
    Invalid,
    JudgmentIn,
    JudgmentRowIn,
    LabelIn,
    RecordError,
)

__all__ = [
    "CSV_HEADER_NAMES",
    "MAX_DEPTH",
    "MAX_RECORD_BYTES",
    "FormatError",
    "Reader",
    "derive_id",
    "open_reader",
]

MAX_RECORD_BYTES = 64 * 1024 * 1024
# Deeper JSON than this is refused: Python's json.dumps (Django's JSONField, psycopg) recurses, and
# no comparison needs it.
MAX_DEPTH = 100
MAX_ERRORS_PER_RECORD = 1000
# Column sizes of the tables the import writes into.
MAX_ID = 255
MAX_ANNOTATOR = 150
MAX_JUDGE = 100
MAX_RUN = 255

_CHUNK = 1 << 20
# How many records may come before the first JSON object that decides the format.
_DETECT_LOOKAHEAD = 1000
_BOM = b"\xef\xbb\xbf"
_NUL_MESSAGE = "contains a NUL character, which cannot be stored"

csv.field_size_limit(MAX_RECORD_BYTES)


class FormatError(ValueError):
    """A problem with the whole file or the call (not with one record): an unknown format name, a
    stream opened in text mode."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------------------------
# Small value checks. Each appends (field, message) pairs to ``errs`` and returns the clean value
# (or None when the value is missing or wrong).


class _Errors(list):
    """The problems of one record, capped so that one huge bad record cannot fill the memory."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def append(self, item: tuple[str, str]) -> None:
        if len(self) < MAX_ERRORS_PER_RECORD:
            super().append(item)
        else:
            self.dropped += 1

    def finish(self, line: int, record_id: str | None) -> list[RecordError]:
        out = [RecordError(line, f, m, record_id) for f, m in self]
        if self.dropped:
            message = f"{self.dropped} more problems in this record are not listed"
            out.append(RecordError(line, "", message, record_id))
        return out


def _got(value: Any) -> str:
    """A short, storable description of a value for an error message."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    t = type(value)
    if t is str:
        if len(value) > 40:
            return f"{value[:40]!r}... ({len(value):,} characters)"
        return repr(value)  # repr escapes NUL and lone surrogates, so the message is storable
    if t is int:
        text = str(value) if value.bit_length() < 100 else f"a {len(str(value))}-digit number"
        return text
    if t is float:
        return repr(value)
    if t is list:
        return "a list"
    if t is dict:
        return "an object"
    return t.__name__


def _sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_\-]+\Z")


def _key_path(path: str, key: str) -> str:
    key = key if _SIMPLE_KEY.match(key) else f"[{key!r}]"
    if not path:
        return key
    return f"{path}{key}" if key[0] == "[" else f"{path}.{key}"


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(value: Any, path: str, errs: _Errors, surrogates: bool) -> None:
    """Report every string (keys included) that cannot be stored: NUL characters, and lone
    surrogates when ``surrogates`` (only Python's json parser lets those through).

    Iterative, so that nesting cannot exhaust Python's stack."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        v, p = stack.pop()
        t = type(v)
        if t is str:
            _check_string(v, p, errs, surrogates, "")
        elif t is dict:
            children = []
            for k, x in v.items():
                kp = _key_path(p, k)
                _check_string(k, kp, errs, surrogates, "the key ")
                children.append((x, kp))
            stack.extend(reversed(children))
        elif t is list:
            stack.extend(reversed([(x, f"{p}[{i}]") for i, x in enumerate(v)]))


def _too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels in ``value`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        for child in v.values() if type(v) is dict else v:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _check_depth(metadata: dict, errs: _Errors) -> None:
    """Metadata is the only free-form JSON that gets stored, and storing it recurses (json.dumps):
    refuse nesting deeper than MAX_DEPTH there."""
    for key, v in metadata.items():
        if (type(v) is dict or type(v) is list) and _too_deep(v, MAX_DEPTH - 1):
            errs.append(
                (_key_path("metadata", key), f"is nested more than {MAX_DEPTH} levels deep")
            )


def _check_string(text: str, path: str, errs: _Errors, surrogates: bool, what: str) -> None:
    if "\x00" in text:
        errs.append((path, what + _NUL_MESSAGE))
    if surrogates:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            bad = text[e.start]
            errs.append(
                (path, f"{what}contains a lone surrogate ({bad!r}), which is not valid Unicode")
            )


_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*\Z")


def _int(value: Any, lo: int, hi: int | None, path: str, errs: _Errors, cells: bool) -> int | None:
    """An integer in lo..hi (hi None: no upper bound). Booleans are refused; integral floats are
    accepted; digit strings only in CSV (``cells``)."""
    t = type(value)
    if t is int:
        n = value
    elif (t is float and value.is_integer()) or (cells and t is str and _INT_TEXT.match(value)):
        n = int(value)
    else:
        errs.append((path, f"{_range(lo, hi)}, got {_got(value)}"))
        return None
    if n < lo or (hi is not None and n > hi):
        errs.append((path, f"{_range(lo, hi)}, got {_got(n)}"))
        return None
    return n


def _range(lo: int, hi: int | None) -> str:
    if hi is None:
        return f"must be an integer of {lo} or more"
    return f"must be an integer from {lo} to {hi}"


def _winner(value: Any, path: str, errs: _Errors, cells: bool) -> int | None:
    t = type(value)
    n: Any = None
    if (
        t is int
        or (t is float and value.is_integer())
        or (cells and t is str and _INT_TEXT.match(value))
    ):
        n = int(value)
    if n not in WINNER_TO_PREFERENCE:
        errs.append((path, f"must be 1, 2, or 0 for a tie, got {_got(value)}"))
        return None
    return n


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _bool(value: Any, path: str, errs: _Errors, cells: bool) -> bool | None:
    if value is True or value is False:
        return value
    if cells:
        if type(value) is str:
            word = value.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        elif type(value) is int and value in (0, 1):
            return bool(value)
    errs.append((path, f"must be true or false, got {_got(value)}"))
    return None


def _text(value: Any, path: str, errs: _Errors) -> str | None:
    """A required string (may be empty)."""
    if type(value) is str:
        return value
    errs.append((path, "is required" if value is None else f"must be a string, got {_got(value)}"))
    return None


def _optional_text(value: Any, path: str, errs: _Errors) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    errs.append((path, f"must be a string, got {_got(value)}"))
    return ""


def _name(value: Any, path: str, errs: _Errors, limit: int) -> str | None:
    """A required, stripped, non-empty name of at most ``limit`` characters."""
    if value is None:
        errs.append((path, "is required"))
        return None
    if type(value) is not str:
        errs.append((path, f"must be a string, got {_got(value)}"))
        return None
    name = value.strip()
    if not name:
        errs.append((path, "must not be empty"))
        return None
    if len(name) > limit:
        errs.append((path, f"must be at most {limit} characters, got {len(name):,}"))
        return None
    return name


class _Unstorable:
    """An id that holds a NUL or a lone surrogate (reported by ``_walk``)."""


_UNSTORABLE = _Unstorable()


def _id(value: Any, errs: _Errors) -> str | _Unstorable | None:
    t = type(value)
    if t is str:
        rid = value.strip()
    elif t is int:
        rid = str(value)
    else:
        errs.append(("id", f"must be a string or an integer, got {_got(value)}"))
        return None
    if not rid:
        errs.append(("id", "must not be empty"))
        return None
    if len(rid) > MAX_ID:
        errs.append(("id", f"must be at most {MAX_ID} characters, got {len(rid):,}"))
        return None
    if not _storable(rid):
        return _UNSTORABLE
    return rid


def derive_id(
    conversation: list[dict], response_1: str, response_2: str, principles: list[str]
) -> str:
    """The id of a record that has none: ``"h-"`` and the first 16 hex digits of the SHA-1 of the
    canonical JSON of ``[conversation, response_1, response_2, principles]``, that is
    ``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` in UTF-8
    (orjson writes the same bytes for these values, faster)."""
    canonical = orjson.dumps(
        [conversation, response_1, response_2, principles], option=orjson.OPT_SORT_KEYS
    )
    return "h-" + hashlib.sha1(canonical, usedforsecurity=False).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# The parts of a comparison.

_ROLES = frozenset({"user", "assistant", "system"})
_ROLE_LIST = "'user', 'assistant', 'system'"


def _turns(value: Any, path: str, errs: _Errors) -> list[dict] | None:
    if value is None:
        errs.append((path, "is required"))
        return None
    if type(value) is not list:
        errs.append((path, f"must be a list of turns, got {_got(value)}"))
        return None
    if not value:
        errs.append((path, "must not be empty"))
        return None
    out = []
    before = len(errs)
    last_role = None
    for i, turn in enumerate(value):
        if type(turn) is not dict:
            errs.append(
                (f"{path}[{i}]", f"must be an object with role and content, got {_got(turn)}")
            )
            last_role = None
            continue
        role = turn.get("role")
        content = turn.get("content")
        if type(role) is not str or role not in _ROLES:
            message = (
                "is required" if role is None else f"must be one of {_ROLE_LIST}, got {_got(role)}"
            )
            errs.append((f"{path}[{i}].role", message))
            role = None
        elif role == "system" and i:
            errs.append((f"{path}[{i}].role", "a system turn may only come first"))
        if type(content) is not str:
            message = "is required" if content is None else f"must be a string, got {_got(content)}"
            errs.append((f"{path}[{i}].content", message))
        # Only role and content are kept; reuse the parsed dict when it holds nothing else.
        out.append(turn if len(turn) == 2 else {"role": role, "content": content})
        last_role = role
    if last_role is not None and last_role != "user":
        errs.append(
            (
                f"{path}[{len(value) - 1}].role",
                f"the last turn must be from the user, got {last_role!r}",
            )
        )
    return out if len(errs) == before else None


def _principles(value: Any, path: str, errs: _Errors) -> list[str]:
    if value is None:
        return []
    if type(value) is str:
        return [value]
    if type(value) is not list:
        errs.append((path, f"must be a list of strings, got {_got(value)}"))
        return []
    for i, p in enumerate(value):
        if type(p) is not str:
            errs.append((f"{path}[{i}]", f"must be a string, got {_got(p)}"))
    return value


def _metadata(value: Any, path: str, errs: _Errors) -> dict:
    if value is None:
        return {}
    if type(value) is not dict:
        errs.append((path, f"must be a JSON object, got {_got(value)}"))
        return {}
    return value


def _with_extra(obj: dict, known: frozenset[str], metadata: dict) -> dict:
    """``metadata`` plus the record's unknown top-level keys (metadata wins on conflict)."""
    extra = {k: v for k, v in obj.items() if k not in known}
    if not extra:
        return metadata
    extra.update(metadata)
    return extra


def _labels(
    value: Any, path: str, errs: _Errors, cells: bool, seen: dict[str, int] | None = None
) -> list[LabelIn]:
    """The labels of a record. ``seen`` maps each annotator to the index of their label (for the
    one-label-per-annotator rule) and is filled in."""
    if type(value) is not list:
        if value is not None:
            errs.append((path, f"must be a list of labels, got {_got(value)}"))
        return []
    if not value:
        return []
    if seen is None:
        seen = {}
    out = []
    for i, item in enumerate(value):
        label = None if cells else _fast_label(item)
        if label is None:
            label = _label(item, f"{path}[{i}]", errs, cells)
            # Repeated annotators are found even among labels with other problems.
            name = item.get("annotator") if type(item) is dict else None
            name = name.strip() if type(name) is str else None
        else:
            name = label.annotator
        if name:
            first = seen.get(name)
            if first is not None:
                message = f"annotator {name!r} appears twice (first in {path}[{first}])"
                errs.append((f"{path}[{i}].annotator", message))
                continue
            seen[name] = i
        if label is not None:
            out.append(label)
    return out


def _fast_scores(get) -> tuple[int | None, int | None] | None:
    """score_1 and score_2 when each is absent or an integer 1..5, else None (full check)."""
    score_1, score_2 = get("score_1"), get("score_2")
    for score in (score_1, score_2):
        if score is not None and (type(score) is not int or not 1 <= score <= 5):
            return None
    return score_1, score_2


def _fast_label(item: Any) -> LabelIn | None:
    """The common shape of a valid label, checked cheaply; None sends the item to ``_label``,
    which checks everything and words the errors."""
    if type(item) is not dict:
        return None
    try:
        annotator = item["annotator"]
        pref = item["preference"]
    except KeyError:
        return None
    get = item.get
    if (
        type(annotator) is not str
        or type(pref) is not int
        or not -3 <= pref <= 3
        or not annotator
        or len(annotator) > MAX_ANNOTATOR
        or annotator.strip() != annotator
        or get("winner") is not None
    ):
        return None
    if len(item) == 2:  # annotator and preference only
        return LabelIn(annotator, pref)
    scores = _fast_scores(get)
    if scores is None:
        return None
    score_1, score_2 = scores
    rationale = get("rationale")
    if rationale is None:
        rationale = ""
    elif type(rationale) is not str:
        return None
    return LabelIn(annotator, pref, score_1, score_2, rationale)


def _label(item: Any, path: str, errs: _Errors, cells: bool) -> LabelIn | None:
    if type(item) is not dict:
        errs.append((path, f"must be an object, got {_got(item)}"))
        return None
    before = len(errs)
    get = item.get
    annotator = _name(get("annotator"), _sub(path, "annotator"), errs, MAX_ANNOTATOR)
    raw_pref = get("preference")
    raw_win = get("winner")
    pref = win = None
    if raw_pref is not None:
        pref = _int(raw_pref, -3, 3, _sub(path, "preference"), errs, cells)
    if raw_win is not None:
        win = _winner(raw_win, _sub(path, "winner"), errs, cells)
    if raw_pref is None and raw_win is None:
        errs.append(
            (
                _sub(path, "preference"),
                "is required: give a preference (-3..3) or a winner (1, 2, or 0 for a tie)",
            )
        )
    elif pref is not None and win is not None and _sign(pref) != _sign(WINNER_TO_PREFERENCE[win]):
        errs.append((_sub(path, "winner"), f"winner {win} disagrees with preference {pref}"))
    score_1 = score_2 = None
    if (s := get("score_1")) is not None:
        score_1 = _int(s, 1, 5, _sub(path, "score_1"), errs, cells)
    if (s := get("score_2")) is not None:
        score_2 = _int(s, 1, 5, _sub(path, "score_2"), errs, cells)
    rationale = _optional_text(get("rationale"), _sub(path, "rationale"), errs)
    if len(errs) != before:
        return None
    preference = pref if pref is not None else WINNER_TO_PREFERENCE[win]  # type: ignore[index]
    return LabelIn(annotator, preference, score_1, score_2, rationale)  # type: ignore[arg-type]


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def _judgments(value: Any, path: str, errs: _Errors, cells: bool) -> list[JudgmentIn]:
    if type(value) is not list:
        if value is not None:
            errs.append((path, f"must be a list of judgments, got {_got(value)}"))
        return []
    if not value:
        return []
    out = []
    seen: dict[tuple, int] = {}
    for i, item in enumerate(value):
        j = None if cells else _fast_judgment(item)
        if j is None:
            j = _judgment(item, f"{path}[{i}]", errs, cells)
            if j is None:
                continue
        key = (j.judge, j.run, j.swapped, j.sample)
        first = seen.get(key)
        if first is None:
            seen[key] = i
            out.append(j)
        else:
            errs.append((f"{path}[{i}]", f"repeats {_verdict_key(j)} (first in {path}[{first}])"))
    return out


def _fast_judgment(item: Any) -> JudgmentIn | None:
    """The common shape of a valid judgment, checked cheaply; None sends the item to
    ``_judgment``, which checks everything and words the errors."""
    if type(item) is not dict:
        return None
    get = item.get
    judge = get("judge")
    if (
        type(judge) is not str
        or not judge
        or len(judge) > MAX_JUDGE
        or judge.strip() != judge
        or get("winner") is not None
    ):
        return None
    pref = get("preference")
    if pref is not None and (type(pref) is not int or not -3 <= pref <= 3):
        return None
    rank = get("ranking")
    if rank is not None:
        if type(rank) is not int or not 1 <= rank <= 6:
            return None
        mapped = RANKING_TO_PREFERENCE[rank]
        if pref is not None and pref != mapped:
            return None
        pref = mapped
    elif pref is None:
        return None
    scores = _fast_scores(get)
    if scores is None:
        return None
    score_1, score_2 = scores
    swapped = get("swapped")
    if swapped is None:
        swapped = False
    elif swapped is not True and swapped is not False:
        return None
    sample = get("sample")
    if sample is None:
        sample = 0
    elif type(sample) is not int or sample < 0:
        return None
    reasoning = get("reasoning")
    if reasoning is None:
        reasoning = ""
    elif type(reasoning) is not str:
        return None
    run = get("run")
    if run is None:
        run = ""
    elif type(run) is not str or len(run) > MAX_RUN or run.strip() != run:
        return None
    return JudgmentIn(judge, pref, score_1, score_2, rank, swapped, sample, reasoning, run)


def _verdict_key(j: JudgmentIn) -> str:
    swapped = "true" if j.swapped else "false"
    return f"judge {j.judge!r}, run {j.run!r}, swapped {swapped}, sample {j.sample}"


def _judgment(item: Any, path: str, errs: _Errors, cells: bool) -> JudgmentIn | None:
    if type(item) is not dict:
        errs.append((path, f"must be an object, got {_got(item)}"))
        return None
    before = len(errs)
    get = item.get
    judge = _name(get("judge"), _sub(path, "judge"), errs, MAX_JUDGE)
    raw_pref, raw_rank, raw_win = get("preference"), get("ranking"), get("winner")
    pref = rank = win = None
    if raw_pref is not None:
        pref = _int(raw_pref, -3, 3, _sub(path, "preference"), errs, cells)
    if raw_rank is not None:
        rank = _int(raw_rank, 1, 6, _sub(path, "ranking"), errs, cells)
    if raw_win is not None:
        win = _winner(raw_win, _sub(path, "winner"), errs, cells)
    if raw_pref is None and raw_rank is None and raw_win is None:
        errs.append(
            (
                _sub(path, "preference"),
                "is required: give a preference (-3..3), a ranking (1..6) "
                "or a winner (1, 2, or 0 for a tie)",
            )
        )
    preference = pref
    if rank is not None:
        preference = RANKING_TO_PREFERENCE[rank]
        if pref is not None and pref != preference:
            errs.append(
                (_sub(path, "preference"), f"is {pref}, but ranking {rank} means {preference}")
            )
    if win is not None:
        if preference is None:
            preference = WINNER_TO_PREFERENCE[win]
        elif _sign(preference) != _sign(WINNER_TO_PREFERENCE[win]):
            given = f"ranking {rank}" if rank is not None else f"preference {pref}"
            errs.append((_sub(path, "winner"), f"winner {win} disagrees with {given}"))
    score_1 = score_2 = None
    if (s := get("score_1")) is not None:
        score_1 = _int(s, 1, 5, _sub(path, "score_1"), errs, cells)
    if (s := get("score_2")) is not None:
        score_2 = _int(s, 1, 5, _sub(path, "score_2"), errs, cells)
    swapped: bool | None = False
    if (v := get("swapped")) is not None:
        swapped = _bool(v, _sub(path, "swapped"), errs, cells)
    sample: int | None = 0
    if (v := get("sample")) is not None:
        sample = _int(v, 0, None, _sub(path, "sample"), errs, cells)
    reasoning = _optional_text(get("reasoning"), _sub(path, "reasoning"), errs)
    run = ""
    if (v := get("run")) is not None:
        if cells and type(v) is int:
            v = str(v)
        if type(v) is str and not v.strip():
            run = ""
        else:
            run = _name(v, _sub(path, "run"), errs, MAX_RUN) or ""
    if len(errs) != before:
        return None
    return JudgmentIn(
        judge,  # type: ignore[arg-type]
        preference,
        score_1,
        score_2,
        rank,
        swapped,  # type: ignore[arg-type]
        sample,  # type: ignore[arg-type]
        reasoning,
        run,
    )


class _State:
    """What a reader remembers across records: the ids seen, for duplicate detection."""

    __slots__ = ("ids", "verdicts")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.verdicts: dict[tuple, int] = {}


def _finish(
    st: _State,
    line: int,
    raw_id: Any,
    conversation: list[dict] | None,
    response_1: str | None,
    response_2: str | None,
    principles: list[str],
    metadata: dict,
    labels: list[LabelIn],
    judgments: list[JudgmentIn],
    errs: _Errors,
) -> ComparisonIn | Invalid:
    """The common end of every format: the id (given or derived), duplicates, the result."""
    if metadata:
        _check_depth(metadata, errs)
    rid: str | None = None
    if raw_id is not None:
        checked = _id(raw_id, errs)
        if checked is _UNSTORABLE:
            if not errs:  # _walk reports it; this only guards the invariant
                errs.append(("id", _NUL_MESSAGE))
        elif checked is not None:
            rid = checked  # type: ignore[assignment]
            first = st.ids.get(rid)  # type: ignore[arg-type]
            if first is None:
                st.ids[rid] = line  # type: ignore[index]
            else:
                errs.append(("id", f"duplicate id {rid!r} (first on line {first})"))
    elif not errs:
        rid = derive_id(conversation, response_1, response_2, principles)  # type: ignore[arg-type]
        first = st.ids.get(rid)
        if first is None:
            st.ids[rid] = line
        else:
            errs.append(
                (
                    "id",
                    f"duplicate of line {first}: the same conversation, responses and principles, "
                    f"and no id to tell them apart (derived id {rid!r})",
                )
            )
            rid = None
    if errs:
        return Invalid(line, errs.finish(line, rid), rid)
    return ComparisonIn(
        rid,  # type: ignore[arg-type]
        conversation,  # type: ignore[arg-type]
        response_1,  # type: ignore[arg-type]
        response_2,  # type: ignore[arg-type]
        principles,
        metadata,
        labels,
        judgments,
        line,
    )


# ---------------------------------------------------------------------------------------------
# Formats over parsed JSON objects.

_NATIVE_KEYS = frozenset(
    {
        "id",
        "conversation",
        "response_1",
        "response_2",
        "principles",
        "metadata",
        "labels",
        "judgments",
    }
)
_NATIVE_KEYS_WITH_PROMPT = _NATIVE_KEYS | {"prompt"}


def _label_key(label: LabelIn) -> str:
    return label.annotator


def _judgment_key(judgment: JudgmentIn) -> tuple:
    return (judgment.judge, judgment.run, judgment.swapped, judgment.sample)


def _fast_list(value, make, key) -> list | None:
    """A list of labels or verdicts checked on the fast path; None sends the record to the full
    check (wrong type, a bad entry, or two entries with the same key)."""
    if value is None:
        return []
    if type(value) is not list:
        return None
    items = [make(x) for x in value]
    if None in items or (len(items) > 1 and len({key(x) for x in items}) != len(items)):
        return None
    return items


def _native_fast(obj: dict, line: int, st: _State) -> ComparisonIn | None:
    """The import's hot path: a record of the common, valid shape, checked with plain tests and
    no error wording. None sends the record to the full check, which words every problem."""
    # Subscripts rather than .get() for what must be there: a missing key is the slow path anyway.
    try:
        conversation = obj["conversation"]
        response_1 = obj["response_1"]
        response_2 = obj["response_2"]
        if (
            type(conversation) is not list
            or not conversation
            or type(response_1) is not str
            or type(response_2) is not str
        ):
            return None
        first = conversation[0]
        for turn in conversation:
            if type(turn) is not dict or len(turn) != 2 or type(turn["content"]) is not str:
                return None
            role = turn["role"]
            if role != "user" and role != "assistant" and (role != "system" or turn is not first):
                return None
    except KeyError:
        return None
    if conversation[-1]["role"] != "user":
        return None
    get = obj.get
    principles = get("principles")
    if principles is None:
        principles = []
    elif type(principles) is not list:
        return None
    else:
        for p in principles:
            if type(p) is not str:
                return None
    metadata = get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict:
        return None
    if not _NATIVE_KEYS.issuperset(obj):
        if "prompt" in obj:
            return None
        metadata = _with_extra(obj, _NATIVE_KEYS, metadata)
    for v in metadata.values():
        if (type(v) is dict or type(v) is list) and _too_deep(v, MAX_DEPTH - 1):
            return None
    labels = _fast_list(get("labels"), _fast_label, _label_key)
    if labels is None:
        return None
    judgments = _fast_list(get("judgments"), _fast_judgment, _judgment_key)
    if judgments is None:
        return None
    rid = get("id")
    if type(rid) is str:
        if not rid or len(rid) > MAX_ID or rid.strip() != rid:
            return None
    elif type(rid) is int:
        rid = str(rid)
        if len(rid) > MAX_ID:
            return None
    elif rid is None:
        rid = derive_id(conversation, response_1, response_2, principles)
    else:
        return None
    ids = st.ids
    if rid in ids:
        return None
    ids[rid] = line
    return ComparisonIn(
        rid, conversation, response_1, response_2, principles, metadata, labels, judgments, line
    )


def _native(obj: dict, line: int, st: _State, errs: _Errors | None) -> ComparisonIn | Invalid:
    if errs is None:
        fast = _native_fast(obj, line, st)
        if fast is not None:
            return fast
        errs = _Errors()
    get = obj.get
    known = _NATIVE_KEYS
    raw_conversation = get("conversation")
    if raw_conversation is None and type(get("prompt")) is str:
        raw_conversation = [{"role": "user", "content": obj["prompt"]}]
        known = _NATIVE_KEYS_WITH_PROMPT
    conversation = _turns(raw_conversation, "conversation", errs)
    response_1 = get("response_1")
    if type(response_1) is not str:
        response_1 = _text(response_1, "response_1", errs)
    response_2 = get("response_2")
    if type(response_2) is not str:
        response_2 = _text(response_2, "response_2", errs)
    principles = get("principles")
    if principles is None:
        principles = []
    elif type(principles) is not list or not all(type(p) is str for p in principles):
        principles = _principles(principles, "principles", errs)
    metadata = get("metadata")
    if type(metadata) is not dict:
        metadata = _metadata(metadata, "metadata", errs)
    if not known.issuperset(obj):
        metadata = _with_extra(obj, known, metadata)
    labels = get("labels")
    labels = [] if labels is None else _labels(labels, "labels", errs, False)
    judgments = get("judgments")
    judgments = [] if judgments is None else _judgments(judgments, "judgments", errs, False)
    return _finish(
        st,
        line,
        get("id"),
        conversation,
        response_1,
        response_2,
        principles,
        metadata,
        labels,
        judgments,
        errs,
    )


_GENRM_KEYS = frozenset({"id", "messages", "metadata", "labels", "judgments"})
_GENRM_ROLES = ("user", "assistant", "system", "principle", "response_1", "response_2")
_GENRM_ROLE_LIST = ", ".join(repr(r) for r in _GENRM_ROLES)


def _genrm(obj: dict, line: int, st: _State, errs: _Errors | None) -> ComparisonIn | Invalid:
    if errs is None:
        errs = _Errors()
    get = obj.get
    messages = get("messages")
    conversation: list[dict] = []
    turn_paths: list[str] = []
    principles: list[str] = []
    responses: dict[str, str] = {}
    response_paths: dict[str, str] = {}
    before = len(errs)
    if messages is None:
        errs.append(("messages", "is required"))
    elif type(messages) is not list:
        errs.append(("messages", f"must be a list of messages, got {_got(messages)}"))
    else:
        for i, m in enumerate(messages):
            p = f"messages[{i}]"
            if type(m) is not dict:
                errs.append((p, f"must be an object with role and content, got {_got(m)}"))
                continue
            role, content = m.get("role"), m.get("content")
            if type(content) is not str:
                message = (
                    "is required" if content is None else f"must be a string, got {_got(content)}"
                )
                errs.append((f"{p}.content", message))
            if type(role) is not str or role not in _GENRM_ROLES:
                message = (
                    "is required"
                    if role is None
                    else f"must be one of {_GENRM_ROLE_LIST}, got {_got(role)}"
                )
                errs.append((f"{p}.role", message))
            elif role in _ROLES:
                conversation.append({"role": role, "content": content})
                turn_paths.append(p)
            elif role == "principle":
                principles.append(content)
            elif role in response_paths:
                errs.append(
                    (
                        f"{p}.role",
                        f"a second {role!r} message (the first is {response_paths[role]})",
                    )
                )
            else:
                response_paths[role] = p
                responses[role] = content
        for role in ("response_1", "response_2"):
            if role not in response_paths:
                errs.append(("messages", f"needs a message with role {role!r}"))
        for j, turn in enumerate(conversation):
            if turn["role"] == "system" and j:
                errs.append((f"{turn_paths[j]}.role", "a system turn may only come first"))
        if not conversation:
            errs.append(("messages", "needs at least one user message"))
        elif conversation[-1]["role"] != "user":
            last = conversation[-1]["role"]
            errs.append(
                (f"{turn_paths[-1]}.role", f"the last turn must be from the user, got {last!r}")
            )
    ok = len(errs) == before
    metadata = _metadata(get("metadata"), "metadata", errs)
    if not _GENRM_KEYS.issuperset(obj):
        metadata = _with_extra(obj, _GENRM_KEYS, metadata)
    labels = _labels(get("labels"), "labels", errs, False)
    judgments = _judgments(get("judgments"), "judgments", errs, False)
    return _finish(
        st,
        line,
        get("id"),
        conversation if ok else None,
        responses.get("response_1"),
        responses.get("response_2"),
        principles,
        metadata,
        labels,
        judgments,
        errs,
    )


_HELPSTEER3_KEYS = frozenset(
    {"id", "context", "response1", "response2", "individual_preference", "metadata"}
)


def _helpsteer3(obj: dict, line: int, st: _State, errs: _Errors | None) -> ComparisonIn | Invalid:
    if errs is None:
        errs = _Errors()
    get = obj.get
    context = get("context")
    if type(context) is str:
        conversation: list[dict] | None = [{"role": "user", "content": context}]
    else:
        conversation = _turns(context, "context", errs)
    response_1 = _text(get("response1"), "response1", errs)
    response_2 = _text(get("response2"), "response2", errs)
    if (overall := get("overall_preference")) is not None:
        _int(overall, -3, 3, "overall_preference", errs, False)
    metadata = _with_extra(obj, _HELPSTEER3_KEYS, _metadata(get("metadata"), "metadata", errs))
    if type(metadata.get("overall_preference")) is float:
        metadata["overall_preference"] = int(metadata["overall_preference"])
    labels = []
    individual = get("individual_preference")
    if individual is not None:
        if type(individual) is not list:
            errs.append(("individual_preference", f"must be a list, got {_got(individual)}"))
        else:
            for i, entry in enumerate(individual):
                p = f"individual_preference[{i}]"
                if type(entry) is not dict:
                    errs.append((p, f"must be an object, got {_got(entry)}"))
                    continue
                score = entry.get("score")
                if score is None:
                    errs.append((f"{p}.score", "is required"))
                    continue
                score = _int(score, -3, 3, f"{p}.score", errs, False)
                reasoning = _optional_text(entry.get("reasoning"), f"{p}.reasoning", errs)
                if score is not None:
                    labels.append(LabelIn(f"helpsteer3-{i + 1}", score, rationale=reasoning))
    return _finish(
        st, line, get("id"), conversation, response_1, response_2, [], metadata, labels, [], errs
    )


def _judgment_row_fast(obj: dict, line: int, st: _State) -> JudgmentRowIn | None:
    """The common, valid shape of a judgments row (see _native_fast)."""
    judgment = _fast_judgment(obj)
    if judgment is None:
        return None
    rid = obj.get("id")
    if type(rid) is str:
        if not rid or len(rid) > MAX_ID or rid.strip() != rid:
            return None
    elif type(rid) is int:
        rid = str(rid)
        if len(rid) > MAX_ID:
            return None
    else:
        return None
    key = (rid, judgment.judge, judgment.run, judgment.swapped, judgment.sample)
    if key in st.verdicts:
        return None
    st.verdicts[key] = line
    return JudgmentRowIn(rid, judgment, line)


def _judgment_row(
    obj: dict, line: int, st: _State, errs: _Errors | None
) -> JudgmentRowIn | Invalid:
    if errs is None:
        fast = _judgment_row_fast(obj, line, st)
        if fast is not None:
            return fast
        errs = _Errors()
    raw_id = obj.get("id")
    rid: str | None = None
    if raw_id is None:
        errs.append(("id", "is required: it names the comparison this verdict belongs to"))
    else:
        checked = _id(raw_id, errs)
        if checked is _UNSTORABLE:
            if not errs:
                errs.append(("id", _NUL_MESSAGE))
        else:
            rid = checked  # type: ignore[assignment]
    judgment = _judgment(obj, "", errs, False)
    if judgment is not None and rid is not None:
        key = (rid, judgment.judge, judgment.run, judgment.swapped, judgment.sample)
        first = st.verdicts.get(key)
        if first is None:
            st.verdicts[key] = line
        else:
            errs.append(
                (
                    "",
                    f"duplicate verdict for id {rid!r}: {_verdict_key(judgment)} "
                    f"(first on line {first})",
                )
            )
    if errs:
        return Invalid(line, errs.finish(line, rid), rid)
    return JudgmentRowIn(rid, judgment, line)  # type: ignore[arg-type]


_VALIDATORS: dict[str, Callable[[dict, int, _State, _Errors | None], Any]] = {
    "native": _native,
    "genrm": _genrm,
    "helpsteer3": _helpsteer3,
    "judgments": _judgment_row,
}


# Formats whose common, valid records have a fast path (no NUL check: the caller does that).
_FAST: dict[str, Callable[[dict, int, _State], Any]] = {
    "native": _native_fast,
    "judgments": _judgment_row_fast,
}


def _detect(obj: dict) -> str:
    if "messages" in obj:
        return "genrm"
    if "context" in obj and "response1" in obj:
        return "helpsteer3"
    if (
        "judge" in obj
        and "id" in obj
        and not ("conversation" in obj or "context" in obj or "response_1" in obj)
    ):
        return "judgments"
    return "native"


# ---------------------------------------------------------------------------------------------
# Parsing JSON text.


class _Problem:
    """A record that could not be parsed: its problems, as (field, message) pairs."""

    __slots__ = ("errors",)

    def __init__(self, message: str, field: str = "") -> None:
        self.errors = [(field, message)]


class _JsonFailure(Exception):
    """Where and why one JSON text failed: ``offset`` is a byte offset (UTF-8 problems) or None;
    ``lineno``/``colno`` are 1-based within the text when known."""

    def __init__(
        self, reason: str, *, offset: int | None = None, lineno: int = 0, colno: int = 0
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.lineno = lineno
        self.colno = colno


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:30]} is too large")
    return value


# 0: nothing to check; 1: NUL escapes are possible; 2: lone surrogates too.
def _parse(data: bytes | str) -> tuple[Any, int]:
    """Parse one JSON text; returns the value and how deep a check of its strings it needs.
    Raises _JsonFailure."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        return _parse_slowly(data, e), 2
    deep = (b"\\u0000" in data) if isinstance(data, bytes) else ("\\u0000" in data)
    return value, 1 if deep else 0


def _parse_slowly(data: bytes | str, fast_error: Exception) -> Any:
    """orjson refused the text: find out why (or read what it refuses but Python's json accepts,
    such as lone surrogates, which validation then reports by field)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _JsonFailure("not valid UTF-8", offset=e.start) from None
    else:
        text = data
    if "depth limit" in str(fast_error) or "recursion" in str(fast_error):
        raise _JsonFailure("not valid JSON: nested too deeply") from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _JsonFailure("not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as e:
        reason = e.msg.removesuffix(" at").removesuffix(":")
        raise _JsonFailure(f"not valid JSON: {reason}", lineno=e.lineno, colno=e.colno) from None
    except ValueError as e:
        raise _JsonFailure(f"not valid JSON: {e}") from None


def _json_problem(failure: _JsonFailure, data: bytes, line: int, column: int) -> _Problem:
    """Word a parse failure of a record that starts on ``line`` at byte column ``column``."""
    if failure.offset is not None:
        at = failure.offset
        err_line = line + data.count(b"\n", 0, at)
        line_start = data.rfind(b"\n", 0, at) + 1
        offset = at - line_start + (column - 1 if line_start == 0 else 0)
        where = "the line" if err_line == line else f"line {err_line}"
        return _Problem(f"not valid UTF-8 at byte offset {offset} of {where}")
    if failure.lineno:
        err_line = line + failure.lineno - 1
        col = failure.colno + (column - 1 if failure.lineno == 1 else 0)
        if err_line == line:
            return _Problem(f"{failure.reason} at column {col}")
        return _Problem(f"{failure.reason} at line {err_line}, column {col}")
    return _Problem(failure.reason)


# ---------------------------------------------------------------------------------------------
# Framing: the stream as chunks, lines, JSON lines, JSON array elements.


class _Source:
    """The binary stream read in chunks. The first chunk is read at once (for detection), with a
    UTF-8 BOM removed and leading blank chunks dropped (their newlines kept in ``blank_lines``)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream_read = stream.read
        self.offset = 0
        self.blank_lines = 0
        self.first_byte = b""
        self._pending: bytes | None = None
        chunk = self._raw()
        while chunk and len(chunk) < 3 and _BOM.startswith(chunk):
            more = self._raw()
            if not more:
                break
            chunk += more
        if chunk.startswith(_BOM):
            chunk = chunk[3:]
        while chunk:
            head = chunk.lstrip()
            if head:
                self.first_byte = head[:1]
                break
            self.blank_lines += chunk.count(b"\n")
            chunk = self._raw()
        self._pending = chunk

    def _raw(self) -> bytes:
        chunk = self._stream_read(_CHUNK)
        if isinstance(chunk, str):
            raise FormatError("the file must be opened in binary mode")
        if chunk is None:  # a non-blocking stream with nothing ready: treat as the end
            return b""
        self.offset += len(chunk)
        return chunk

    def read(self) -> bytes:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        chunk = self._stream_read(_CHUNK)
        if not chunk:
            return b""
        self.offset += len(chunk)
        return chunk


# Stands for a line over MAX_RECORD_BYTES in a batch of lines (a real line never holds "\n").
_OVERSIZE = b"\n"
_OVERSIZE_MESSAGE = f"record is larger than {MAX_RECORD_BYTES >> 20} MiB"


def _line_batches(src: _Source) -> Iterator[tuple[int, list[bytes]]]:
    """The physical lines of the stream (without their ``\n``), a chunk's worth at a time, with
    the number of the line before the batch. A line over MAX_RECORD_BYTES comes as ``_OVERSIZE``:
    its bytes are skipped up to the next newline, never kept."""
    lineno = src.blank_lines
    tail: list[bytes] = []
    tail_len = 0
    skipping = False
    limit = MAX_RECORD_BYTES
    while chunk := src.read():
        parts = chunk.split(b"\n")
        last = parts.pop()
        if parts:
            if skipping:
                parts[0] = _OVERSIZE
                skipping = False
            elif tail:
                tail_len += len(parts[0])
                parts[0] = b"".join((*tail, parts[0])) if tail_len <= limit else _OVERSIZE
                tail = []
                tail_len = 0
            yield lineno, parts
            lineno += len(parts)
        if last and not skipping:
            tail.append(last)
            tail_len += len(last)
            if tail_len > limit:
                skipping = True
                tail = []
                tail_len = 0
    if skipping:
        yield lineno, [_OVERSIZE]
    elif tail:
        yield lineno, [b"".join(tail)]


def _lines(src: _Source) -> Iterator[tuple[int, bytes | None]]:
    """Physical lines with their 1-based numbers; None for a line over MAX_RECORD_BYTES."""
    for before, batch in _line_batches(src):
        for lineno, data in enumerate(batch, before + 1):
            yield lineno, (None if data == _OVERSIZE else data)


_Raw = tuple[int, Any, int]  # (line, parsed value or _Problem, how deep a check it needs)
_WS_BYTES = b" \t\r\n\x0b\x0c"


def _jsonl_items(src: _Source, fmt: str | None, st: _State) -> Iterator[Any]:
    """JSON lines, parsed and validated in one loop (the import's hot path). The first item
    yielded is the format (given, or detected from the first JSON object); then the records."""
    detect = _Detection(fmt, st)
    if fmt is not None:
        yield fmt
    validator = detect.validator
    fast = _FAST.get(fmt)  # type: ignore[arg-type]
    seen = False
    loads = orjson.loads
    ws = _WS_BYTES
    decode_error = orjson.JSONDecodeError
    for before, batch in _line_batches(src):
        lineno = before
        for data in batch:
            lineno += 1
            if not data:
                continue
            if data[0] in ws:
                if data == _OVERSIZE:
                    yield from detect.problem(lineno, _Problem(_OVERSIZE_MESSAGE))
                    continue
                if not data.strip():
                    continue
            try:
                value = loads(data)
            except decode_error as e:
                try:
                    value = _parse_slowly(data, e)
                except _JsonFailure as failure:
                    yield from detect.problem(lineno, _json_problem(failure, data, lineno, 1))
                    continue
                deep = 2
            else:
                # orjson refuses lone surrogates; a NUL can only come from a \u0000 escape.
                deep = b"\\u0000" in data
            if type(value) is not dict:
                yield from detect.problem(lineno, _as_problem(value))
                continue
            if validator is None:
                yield from detect.decide(value)
                validator = detect.validator
                fast = _FAST.get(detect.format)
            seen = True
            if deep:
                errs = _Errors()
                _walk(value, "", errs, deep == 2)
            else:
                if fast is not None:
                    item = fast(value, lineno, st)
                    if item is not None:
                        yield item
                        continue
                # Something is off (or the format has no fast path): the full check words it.
                errs = _Errors()
            yield validator(value, lineno, st, errs)  # type: ignore[misc]
    yield from detect.end(seen)


class _Detection:
    """Picks the format from the first JSON object when none was given; records that come before
    it (only problems, whatever the format) wait here, at most _DETECT_LOOKAHEAD of them."""

    def __init__(self, fmt: str | None, st: _State) -> None:
        self.format = fmt
        self.validator = _VALIDATORS[fmt] if fmt is not None else None
        self.pending: list[Invalid] = []
        self.seen_any = False

    def problem(self, line: int, problem: _Problem) -> Iterator[Any]:
        self.seen_any = True
        invalid = Invalid(line, [RecordError(line, f, m) for f, m in problem.errors])
        if self.validator is not None:
            yield invalid
            return
        self.pending.append(invalid)
        if len(self.pending) >= _DETECT_LOOKAHEAD:
            yield from self.decide(None)

    def decide(self, first: dict | None) -> Iterator[Any]:
        """Fix the format (native when no object was seen); yield it, then what waited."""
        if first is not None:
            self.seen_any = True
        fmt = _detect(first) if first is not None else "native"
        self.format = fmt
        self.validator = _VALIDATORS[fmt]
        yield fmt
        yield from self.pending
        self.pending = []

    def end(self, seen_object: bool) -> Iterator[Any]:
        if self.validator is None:
            yield from self.decide(None)
        if not (self.seen_any or seen_object):
            yield _invalid(1, "the file holds no records")


def _array_items(src: _Source, fmt: str | None, st: _State) -> Iterator[Any]:
    """A JSON array: like _jsonl_items, over the elements found by _ArrayScanner."""
    detect = _Detection(fmt, st)
    if fmt is not None:
        yield fmt
    for line, value, deep in _ArrayScanner(src).records():
        if type(value) is not dict:
            yield from detect.problem(line, _as_problem(value))
            continue
        if detect.validator is None:
            yield from detect.decide(value)
        detect.seen_any = True
        errs = None
        if deep:
            errs = _Errors()
            _walk(value, "", errs, deep == 2)
        yield detect.validator(value, line, st, errs)  # type: ignore[misc]
    yield from detect.end(False)


_WS = re.compile(rb"[ \t\r\n]*+")
# Outside strings: everything up to the next bracket, skipping whole strings; stops at a bracket,
# at the quote of a string that the buffer does not finish, or at the end of the buffer.
_SKIP = re.compile(rb'(?:[^"{}\[\]]++|"(?:[^"\\]++|\\.)*+")*+', re.S)
# Inside a string: up to its closing quote, or to the end of the buffer (or a final backslash).
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.S)
_SCALAR = re.compile(rb"[^,\]\s]*+")


class _ArrayScanner:
    """Splits a JSON array into its elements without holding more than one of them: a small
    bracket/string scanner finds where each element ends, and each element is parsed on its own,
    so a bad element is reported and the next one still read."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.buf = b""
        self.base = 0  # absolute offset of buf[0]
        self.pos = 0  # index into buf
        self.eof = False
        self.line = src.blank_lines + 1  # line number at absolute offset `counted`
        self.counted = 0
        self.line_start = 0  # absolute offset where the line of `counted` starts

    def _more(self, keep: int) -> bool:
        """Read another chunk, dropping buf[:keep]. False at the end of the stream."""
        if self.eof:
            return False
        self._count_to(keep)
        chunk = self.src.read()
        if not chunk:
            self.eof = True
            return False
        if keep:
            self.buf = self.buf[keep:]
            self.base += keep
            self.pos -= keep
        self.buf += chunk
        return True

    def _count_to(self, index: int) -> None:
        """Advance the line count to buf[index]."""
        target = self.base + index
        if target <= self.counted:
            return
        start = self.counted - self.base
        n = self.buf.count(b"\n", start, index)
        if n:
            self.line += n
            self.line_start = self.base + self.buf.rfind(b"\n", start, index) + 1
        self.counted = target

    def _skip_ws(self) -> bool:
        """Skip whitespace; False at the end of the stream."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return True
            if not self._more(self.pos):
                return False

    def records(self) -> Iterator[_Raw]:
        self._skip_ws()
        self.pos += 1  # the '[' (detection saw it)
        first = True
        while True:
            if not self._skip_ws():
                self._count_to(self.pos)
                yield (
                    self.line,
                    _Problem("the JSON array is not closed: the file ends before ']'"),
                    0,
                )
                return
            c = self.buf[self.pos]
            if c == 0x5D:  # ']'
                self.pos += 1
                if self._skip_ws():
                    self._count_to(self.pos)
                    yield (
                        self.line,
                        _Problem("not valid JSON: unexpected data after the array's ']'"),
                        0,
                    )
                return
            if not first:
                if c != 0x2C:  # ','
                    self._count_to(self.pos)
                    got = self.buf[self.pos : self.pos + 1].decode("utf-8", "replace")
                    yield (
                        self.line,
                        _Problem(
                            f"not valid JSON: expected ',' or ']' after the previous record, "
                            f"got {got!r} at column {self._column()}; the rest of the file "
                            "cannot be read"
                        ),
                        0,
                    )
                    return
                self.pos += 1
                if not self._skip_ws():
                    continue  # reported as an unclosed array above
                if self.buf[self.pos] == 0x5D:
                    self._count_to(self.pos)
                    yield self.line, _Problem("not valid JSON: a ',' before ']'"), 0
                    self.pos += 1
                    return
            first = False
            self._count_to(self.pos)
            line, column = self.line, self._column()
            found = self._element_end()
            if found is None:
                yield (
                    line,
                    _Problem("not valid JSON: the file ends before this record is complete"),
                    0,
                )
                return
            end, dropped = found
            if dropped or end - self.pos > MAX_RECORD_BYTES:
                self.pos = end
                yield line, _Problem(_OVERSIZE_MESSAGE), 0
                continue
            data = self.buf[self.pos : end]
            self.pos = end
            try:
                value, deep = _parse(data)
            except _JsonFailure as failure:
                yield line, _json_problem(failure, data, line, column), 0
                continue
            yield line, value, deep

    def _column(self) -> int:
        return self.base + self.pos - self.line_start + 1

    def _element_end(self) -> tuple[int, bool] | None:
        """Find the end of the element at buf[pos]: (index just past it, False); or (index past it,
        True) when it was larger than MAX_RECORD_BYTES and its bytes were dropped on the way (then
        buf[pos:index] is not the element); None when the stream ends inside it."""
        start_abs = self.base + self.pos
        p = self.pos
        c = self.buf[p]
        if c not in b'{["':  # a number, literal or garbage: up to the next ',', ']' or space
            while True:
                p = _SCALAR.match(self.buf, p).end()  # type: ignore[union-attr]
                keep = self.pos
                if p < len(self.buf) or not self._more(keep):
                    return p, False
                p -= keep
        depth = 0
        in_string = c == 0x22
        if in_string:
            p += 1
        dropping = False
        while True:
            buf = self.buf
            if in_string:
                p = _STRING_BODY.match(buf, p).end()  # type: ignore[union-attr]
                if p < len(buf) and buf[p] == 0x22:
                    p += 1
                    in_string = False
                    if depth == 0:
                        return p, dropping
                    continue
            else:
                p = _SKIP.match(buf, p).end()  # type: ignore[union-attr]
                if p < len(buf):
                    ch = buf[p]
                    p += 1
                    if ch == 0x22:
                        # A string this buffer does not finish: follow it on its own from here,
                        # so that a long string is not scanned again after each read.
                        in_string = True
                    elif ch == 0x7B or ch == 0x5B:
                        depth += 1
                    else:
                        depth -= 1
                        if depth == 0:
                            return p, dropping
                    continue
            # The buffer ends inside the element: read on, keeping the element unless it is too
            # large (then keep only from p, where the scan resumes).
            if not dropping and self.base + len(buf) - start_abs > MAX_RECORD_BYTES:
                dropping = True
            if dropping:
                self.pos = p
            keep = self.pos
            if not self._more(keep):
                return None
            p -= keep


# ---------------------------------------------------------------------------------------------
# CSV.

# Canonical column -> accepted header names (compared after lower-casing and turning spaces and
# dashes into underscores).
CSV_HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "item_id", "external_id", "uid"),
    "prompt": ("prompt", "question", "instruction", "query", "input", "user"),
    "response_1": tuple(
        f"{word}{sep}{n}"
        for word in ("response", "answer", "completion", "output")
        for n in ("1", "a")
        for sep in ("_", "")
    ),
    "response_2": tuple(
        f"{word}{sep}{n}"
        for word in ("response", "answer", "completion", "output")
        for n in ("2", "b")
        for sep in ("_", "")
    ),
    "conversation": ("conversation",),
    "system": ("system", "system_prompt"),
    "principles": ("principles", "principle"),
    "metadata": ("metadata",),
    "labels": ("labels",),
    "judgments": ("judgments",),
    "preference": ("preference",),
    "winner": ("winner",),
    "annotator": ("annotator",),
    "rationale": ("rationale",),
    "score_1": ("score_1", "score1", "score_a"),
    "score_2": ("score_2", "score2", "score_b"),
}
_CSV_ALIAS = {alias: canon for canon, aliases in CSV_HEADER_NAMES.items() for alias in aliases}
_HEADER_SEP = re.compile(r"[\s\-]+")
_LABEL_CELLS = ("annotator", "rationale", "score_1", "score_2")


class _Oversize(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _CsvLines:
    """Physical lines as text for csv.reader: remembers the last line number handed out, the
    lines of the current row that were not valid UTF-8, and the size of the current row."""

    def __init__(self, lines: Iterator[tuple[int, bytes | None]]) -> None:
        self._lines = lines
        self._peeked: tuple[int, bytes | None] | None = None
        self.lineno = 0
        self.bad: list[tuple[int, int]] = []
        self.row_bytes = 0

    def __iter__(self) -> _CsvLines:
        return self

    def peek_text(self) -> str:
        """The first non-blank line, decoded loosely (for sniffing the delimiter)."""
        for item in self._lines:
            if item[1] is None or item[1].strip():
                self._peeked = item
                return (item[1] or b"").decode("utf-8", "replace")
            self.lineno = item[0]
        return ""

    def __next__(self) -> str:
        if self._peeked is not None:
            lineno, data = self._peeked
            self._peeked = None
        else:
            lineno, data = next(self._lines)
        self.lineno = lineno
        if data is None:
            raise _Oversize(lineno)
        self.row_bytes += len(data)
        if self.row_bytes > MAX_RECORD_BYTES:
            raise _Oversize(lineno)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.bad.append((lineno, e.start))
            text = data.decode("utf-8", "replace")
        # csv.reader needs the line ending to keep newlines inside quoted cells.
        return text + "\n"


def _csv_items(src: _Source, filename: str, st: _State) -> Iterator[ComparisonIn | Invalid]:
    lines = _CsvLines(_lines(src))
    first = lines.peek_text()
    delimiter = ","
    if filename.lower().endswith(".tsv") or ("\t" in first and "," not in first):
        delimiter = "\t"
    elif ";" in first and "," not in first:
        delimiter = ";"

    def new_reader() -> Any:
        return csv.reader(lines, delimiter=delimiter)

    reader = new_reader()
    columns: _CsvColumns | None = None
    header_line = 1
    any_rows = False
    while True:
        start = lines.lineno + 1
        lines.row_bytes = 0
        lines.bad = []
        try:
            row = next(reader)
        except StopIteration:
            break
        except _Oversize:
            # The rest of the too-large line was skipped; a fresh csv.reader goes on from the next
            # line (if the row went on in a quoted cell, its remainder reads as rows of its own).
            any_rows = True
            yield _invalid(start, _OVERSIZE_MESSAGE)
            reader = new_reader()
            continue
        except csv.Error as e:
            any_rows = True
            yield _invalid(start, f"not valid CSV: {e}")
            reader = new_reader()
            continue
        errs = _Errors()
        for bad_line, offset in lines.bad:
            where = "the line" if bad_line == start else f"line {bad_line}"
            errs.append(("", f"not valid UTF-8 at byte offset {offset} of {where}"))
        if not errs and not any(cell.strip() for cell in row):
            continue
        if columns is None:
            header_line = start
            columns = _CsvColumns(row)
            if errs or columns.problem:
                yield Invalid(
                    start,
                    [RecordError(start, "", m) for _, m in errs]
                    + ([RecordError(start, "", columns.problem)] if columns.problem else []),
                )
                return
            continue
        any_rows = True
        yield _csv_record(row, columns, start, st, errs)
    if not any_rows:
        yield _invalid(header_line, "the file holds no records")


def _invalid(line: int, message: str, field: str = "") -> Invalid:
    return Invalid(line, [RecordError(line, field, message)])


class _CsvColumns:
    """The header: which column holds what."""

    def __init__(self, header: list[str]) -> None:
        self.size = len(header)
        self.index: dict[str, int] = {}
        self.names: list[str] = []  # field name used in errors for each column
        self.extra: list[tuple[int, str]] = []  # (column, metadata key)
        self.problem = ""
        taken: dict[str, str] = {}
        used_keys: set[str] = set()
        for i, raw in enumerate(header):
            if "\x00" in raw:
                self.problem = f"the name of column {i + 1} {_NUL_MESSAGE}"
                return
            name = raw.strip()
            canon = _CSV_ALIAS.get(_HEADER_SEP.sub("_", name.lower()))
            if canon is None:
                key = name or f"column_{i + 1}"
                if key in used_keys:
                    key = f"{key} ({i + 1})"
                used_keys.add(key)
                self.extra.append((i, key))
                self.names.append(_key_path("", key))
                continue
            if canon in taken:
                self.problem = (
                    f"the columns {taken[canon]!r} and {name!r} both mean {canon}: keep one"
                )
                return
            taken[canon] = name
            self.index[canon] = i
            self.names.append(canon)
        missing = []
        if "prompt" not in self.index and "conversation" not in self.index:
            missing.append("prompt")
        missing += [c for c in ("response_1", "response_2") if c not in self.index]
        if missing:
            accepted = "; ".join(f"{c}: {', '.join(CSV_HEADER_NAMES[c])}" for c in missing)
            self.problem = (
                f"the header has no column for {', '.join(missing)}. Accepted header names "
                f"(case, spaces and dashes do not matter): {accepted}"
                + ("; or a conversation column (JSON)" if "prompt" in missing else "")
            )


def _csv_record(
    row: list[str], cols: _CsvColumns, line: int, st: _State, errs: _Errors
) -> ComparisonIn | Invalid:
    size = len(row)
    if size > cols.size and any(c.strip() for c in row[cols.size :]):
        errs.append(("", f"has {size} cells, but the header has {cols.size} columns"))
    names = cols.names
    for i in range(min(size, cols.size)):
        if "\x00" in row[i]:
            errs.append((names[i], _NUL_MESSAGE))
    index = cols.index

    def cell(name: str) -> str | None:
        i = index.get(name)
        if i is None or i >= size or not row[i].strip():
            return None
        return row[i]

    def json_cell(name: str) -> Any:
        # None when empty, or when not valid JSON (reported; the record is invalid anyway).
        raw = cell(name)
        if raw is None:
            return None
        value = _cell_json(raw, name, errs)
        return None if value is _BAD_CELL else value

    conversation: list[dict] | None = None
    if (raw := cell("conversation")) is not None:
        value = _cell_json(raw, "conversation", errs)
        if value is not _BAD_CELL:
            conversation = _turns(value, "conversation", errs)
    elif (prompt := cell("prompt")) is not None:
        conversation = [{"role": "user", "content": prompt}]
        if (system := cell("system")) is not None:
            conversation.insert(0, {"role": "system", "content": system})
    else:
        field = "prompt" if "prompt" in index else "conversation"
        errs.append((field, "is required: the prompt (or conversation) cell is empty"))

    # The response columns exist (the header was checked); an empty cell is an empty response.
    i1, i2 = index["response_1"], index["response_2"]
    response_1 = row[i1] if i1 < size else ""
    response_2 = row[i2] if i2 < size else ""

    principles: list[str] = []
    if (raw := cell("principles")) is not None:
        if raw.lstrip().startswith("["):
            principles = _principles(json_cell("principles"), "principles", errs)
        else:
            principles = [p.strip() for p in raw.splitlines() if p.strip()]

    metadata = _metadata(json_cell("metadata"), "metadata", errs)
    extra = {key: row[i] for i, key in cols.extra if i < size and row[i] != ""}
    if extra:
        extra.update(metadata)
        metadata = extra

    seen: dict[str, int] = {}
    labels = _labels(json_cell("labels"), "labels", errs, True, seen)
    pref, win = cell("preference"), cell("winner")
    if pref is not None or win is not None:
        flat = {
            "annotator": cell("annotator") or "csv",
            "preference": pref,
            "winner": win,
            "score_1": cell("score_1"),
            "score_2": cell("score_2"),
            "rationale": cell("rationale"),
        }
        label = _label(flat, "", errs, True)
        if label is not None:
            if (first := seen.get(label.annotator)) is not None:
                message = f"annotator {label.annotator!r} appears twice (first in labels[{first}])"
                errs.append(("annotator", message))
            else:
                labels.append(label)
    elif any(cell(name) is not None for name in _LABEL_CELLS):
        errs.append(
            (
                "preference",
                "is required: the row has label cells (annotator, rationale, score_1, score_2) "
                "but no preference or winner",
            )
        )

    judgments = _judgments(json_cell("judgments"), "judgments", errs, True)

    return _finish(
        st,
        line,
        cell("id"),
        conversation,
        response_1,
        response_2,
        principles,
        metadata,
        labels,
        judgments,
        errs,
    )


class _Bad:
    """A JSON cell that could not be read (already reported)."""


_BAD_CELL = _Bad()


def _cell_json(text: str, field: str, errs: _Errors) -> Any:
    try:
        value, deep = _parse(text)
    except _JsonFailure as failure:
        where = ""
        if failure.lineno:
            where = (
                f" at column {failure.colno}"
                if failure.lineno == 1
                else f" at line {failure.lineno}, column {failure.colno} of the cell"
            )
        errs.append((field, failure.reason + where))
        return _BAD_CELL
    if deep:
        _walk(value, field, errs, deep == 2)
    return value


# ---------------------------------------------------------------------------------------------
# The public surface.


class Reader:
    """Iterate once: yields ``ComparisonIn``, ``JudgmentRowIn`` or ``Invalid``, in file order.

    ``format`` is the detected (or given) format; ``bytes_read`` how many bytes of the stream
    have been read so far (it moves in steps of up to 1 MiB, enough for a progress bar)."""

    def __init__(
        self, source: _Source, format: str, items: Iterator[ComparisonIn | JudgmentRowIn | Invalid]
    ) -> None:
        self._source = source
        self.format = format
        self._items = items

    @property
    def bytes_read(self) -> int:
        return self._source.offset

    def __iter__(self) -> Iterator[ComparisonIn | JudgmentRowIn | Invalid]:
        return self._items


def open_reader(stream: BinaryIO, *, format: str | None = None, filename: str = "") -> Reader:
    """Open a reader over a binary stream. ``format`` None detects it (module docstring).

    Raises FormatError for an unknown format name or a text-mode stream; every problem in the
    data itself comes out of the iteration as an ``Invalid``."""
    if format is not None and format not in FORMATS:
        raise FormatError(
            f"unknown format {format!r}; use one of {', '.join(FORMATS)} (or none to detect it)"
        )
    src = _Source(stream)
    st = _State()
    first = src.first_byte
    if format == "csv" or (
        format is None
        and (filename.lower().endswith((".csv", ".tsv")) or first not in (b"[", b"{", b""))
    ):
        return Reader(src, "csv", _csv_items(src, filename, st))
    items = (_array_items if first == b"[" else _jsonl_items)(src, format, st)
    # The first item is the format: detection reads up to the first JSON object.
    return Reader(src, next(items), items)


def _as_problem(value: Any) -> _Problem:
    if isinstance(value, _Problem):
        return value
    return _Problem(f"must be a JSON object, got {_got(value)}")
