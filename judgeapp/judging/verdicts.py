"""Reading a judge's reply into scores, ranking and a parse status. No Django import.

``parse_verdict`` follows GENRM_PROTOCOL.md section 3, made strict: it never defaults a missing
or bad value (NVIDIA's parsers fall back to 3, 3, 3.5), it says what was wrong in ``detail``, and
it never raises, whatever the text.

Where the verdict is looked for, in order (the first source that yields anything is used alone):

1. JSON: inside fenced ```` ```json ```` blocks first (the last block holding a qualifying object),
   else anywhere in the verdict text. A qualifying object is the last brace-balanced ``{...}`` that
   parses as an object with at least one of ``score_1``, ``score_2``, ``ranking``, or with such an
   object under ``overall`` (which is then used). Braces inside JSON strings do not count; a quote
   that does not close on its line is taken for a stray quote in prose, not a string.
2. Boxed: the last ``\\boxed{...}`` between the Individual Scores markers (``score_1, score_2``) and
   the last one between the Ranking Score markers (``ranking``).
3. Key regexes: the last ``score_1: 4`` / ``"ranking" = 2`` style occurrence of each field.

A value counts as an integer when it is a JSON integer, or a float or a string holding an exact
integer (``4.0``, ``"4"``); booleans and anything else make the verdict ``unparseable``. A JSON
``null`` counts as missing.

The canonical order (``canonical``) maps a verdict given on swapped responses back onto the
comparison's own order; ``preference`` is HelpSteer3's -3..3 (section 4).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INCONSISTENT",
    "OK",
    "OUT_OF_RANGE",
    "PARTIAL",
    "RANKING_TO_PREFERENCE",
    "STATUSES",
    "TRUNCATED",
    "UNPARSEABLE",
    "Verdict",
    "canonical",
    "parse_verdict",
    "preference_from_ranking",
]

OK = "ok"
PARTIAL = "partial"
OUT_OF_RANGE = "out_of_range"
UNPARSEABLE = "unparseable"
TRUNCATED = "truncated"
INCONSISTENT = "inconsistent"
STATUSES = (OK, PARTIAL, OUT_OF_RANGE, UNPARSEABLE, TRUNCATED, INCONSISTENT)

FIELDS = ("score_1", "score_2", "ranking")
_RANGES = {"score_1": (1, 5), "score_2": (1, 5), "ranking": (1, 6)}

# GENRM_PROTOCOL.md section 4: the ranking 1..6 onto the -3..3 preference; there is no tie.
RANKING_TO_PREFERENCE = {1: -3, 2: -2, 3: -1, 4: 1, 5: 2, 6: 3}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a reply said. Values are ``None`` when missing or invalid; ``detail`` says why when
    ``status`` is not ``ok``. ``verdict_text`` is the raw text the values were read from."""

    score_1: int | None
    score_2: int | None
    ranking: int | None
    status: str
    reasoning: str
    verdict_text: str
    detail: str = ""

    @property
    def preference(self) -> int | None:
        return None if self.ranking is None else preference_from_ranking(self.ranking)


def preference_from_ranking(ranking: int) -> int:
    """The -3..3 preference for a ranking 1..6; ``ValueError`` for anything else."""
    if isinstance(ranking, bool) or ranking not in RANKING_TO_PREFERENCE:
        raise ValueError(f"ranking must be an integer 1..6, not {ranking!r}")
    return RANKING_TO_PREFERENCE[ranking]


def canonical(
    *, score_1: int | None, score_2: int | None, ranking: int | None, swapped: bool
) -> tuple[int | None, int | None, int | None, int | None]:
    """``(score_1, score_2, ranking, preference)`` in the comparison's order.

    ``swapped`` means the judge was sent the comparison's response_2 as its response_1: the scores
    are exchanged and the ranking r becomes 7 - r. Missing values stay ``None``; the preference is
    ``None`` when the ranking is.
    """
    if swapped:
        score_1, score_2 = score_2, score_1
        if ranking is not None:
            ranking = 7 - ranking
    preference = None if ranking is None else preference_from_ranking(ranking)
    return score_1, score_2, ranking, preference


def parse_verdict(
    *, content: str | None, reasoning: str | None = None, finish_reason: str | None = None
) -> Verdict:
    """Read a chat completion's reply (``message.content``, the server's reasoning field if it
    filled one, and ``finish_reason``) into a ``Verdict``. Never raises.

    The reasoning is the ``reasoning`` argument when it is not blank, else the part of ``content``
    before its last ``</think>`` (an opening ``<think>`` removed). The verdict text is ``content``
    after its last ``</think>``, or all of it when there is none. A reply cut off at the token
    limit (``finish_reason == "length"``) is ``truncated`` and gets no values, even if something
    that looks like a verdict made it out.
    """
    text = _as_str(content)
    truncated = finish_reason == "length"
    derived_reasoning, verdict_text = _split_reasoning(text, truncated=truncated)
    field_reasoning = _as_str(reasoning).strip()
    reasoning_text = field_reasoning or derived_reasoning

    def verdict(values: dict[str, int], status: str, detail: str) -> Verdict:
        return Verdict(
            score_1=values.get("score_1"),
            score_2=values.get("score_2"),
            ranking=values.get("ranking"),
            status=status,
            reasoning=reasoning_text,
            verdict_text=verdict_text,
            detail=detail,
        )

    if truncated:
        return verdict({}, TRUNCATED, "the reply was cut off at the token limit")
    found = _find_raw_values(verdict_text)
    if found is None:
        return verdict({}, UNPARSEABLE, "no verdict found")
    values, status, detail = _validate(*found)
    return verdict(values, status, detail)


# -- reasoning ---------------------------------------------------------------------------------

_THINK_OPEN = "<think>"
_THINK_END = "</think>"


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _without_think_open(text: str) -> str:
    text = text.strip()
    if text.startswith(_THINK_OPEN):
        text = text[len(_THINK_OPEN) :].strip()
    return text


def _split_reasoning(content: str, *, truncated: bool) -> tuple[str, str]:
    head, sep, tail = content.rpartition(_THINK_END)
    if sep:
        return _without_think_open(head), tail.strip()
    if truncated and content.lstrip().startswith(_THINK_OPEN):
        # Cut off inside the reasoning: all of it is reasoning, there is no verdict text.
        return _without_think_open(content), ""
    return "", content.strip()


# -- finding the values --------------------------------------------------------------------------

# A problem found while extracting or validating, as (status, message).
_Problem = tuple[str, str]


def _find_raw_values(text: str) -> tuple[dict[str, Any], list[_Problem]] | None:
    """The values as written (not yet validated) from the first source that has any."""
    obj = _json_verdict(text)
    if obj is not None:
        return {f: obj[f] for f in FIELDS if obj.get(f) is not None}, []
    boxed = _boxed_verdict(text)
    if boxed is not None:
        return boxed
    raw = _regex_verdict(text)
    return (raw, []) if raw else None


_FENCE = re.compile(r"```[ \t]*json\b(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_KEY = re.compile(r"score_[12]|ranking")
_STRUCTURE = re.compile(r'[{}"]')
# The rest of a JSON string after its opening quote, up to its closing quote on the same line.
_STRING_REST = re.compile(r'[^"\\\n]*(?:\\.[^"\\\n]*)*"')
# Objects nested deeper than this inside a candidate are not verdicts; skipping them bounds the
# work of re-parsing nested candidates. Open braces beyond _MAX_OPEN are only counted.
_MAX_NESTING = 20
_MAX_OPEN = 256
# Each failed parse costs up to the length of its candidate; a real reply needs a handful.
_MAX_PARSE_ATTEMPTS = 200
_JSON_WINDOW = 1 << 18


def _json_verdict(text: str) -> dict[str, Any] | None:
    # Only the end of a long text is searched: a verdict object is shorter than a reply's token
    # budget (32768 tokens at most by default, a few characters each), and scanning brace-dense
    # text costs a Python step per brace.
    text = text[-_JSON_WINDOW:]
    fences = [m.group(1) for m in _FENCE.finditer(text)]
    for body in reversed(fences):
        obj = _last_verdict_object(body)
        if obj is not None:
            return obj
    return _last_verdict_object(text)


def _verdict_fields(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    overall = obj.get("overall")
    if isinstance(overall, dict) and any(f in overall for f in FIELDS):
        return overall
    if any(f in obj for f in FIELDS):
        return obj
    return None


def _last_verdict_object(text: str) -> dict[str, Any] | None:
    keys = [m.start() for m in _KEY.finditer(text)]
    if not keys:
        return None
    attempts = 0
    # Spans close in order, so the last-ending (outermost first, when nested) comes first.
    for start, end in reversed(_object_spans(text, keys)):
        attempts += 1
        if attempts > _MAX_PARSE_ATTEMPTS:
            return None
        try:
            obj = json.loads(text[start:end], strict=False)
        except (ValueError, RecursionError):
            continue
        fields = _verdict_fields(obj)
        if fields is not None:
            return fields
    return None


def _object_spans(text: str, keys: list[int]) -> list[tuple[int, int]]:
    """``(start, end)`` of every brace-balanced ``{...}`` holding one of the ``keys`` positions
    (ascending), in the order they close. Quotes only matter inside braces, so prose around the
    JSON is free to hold apostrophes, quotes and stray closing braces."""
    spans: list[tuple[int, int]] = []
    starts: list[int] = []
    nesting: list[int] = []  # the deepest object nesting seen inside each open object
    overflow = 0
    skip_to = 0  # the end of the string being skipped
    last_key = keys[-1]
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at < skip_to:
            continue
        char = match.group()
        if not starts:
            if at > last_key:
                break  # nothing that opens from here on can hold a key
            if char == "{":
                starts.append(at)
                nesting.append(0)
        elif char == "{":
            if len(starts) < _MAX_OPEN:
                starts.append(at)
                nesting.append(0)
            else:
                overflow += 1
                nesting[-1] = _MAX_NESTING + 1
        elif char == "}":
            if overflow:
                overflow -= 1
                continue
            start = starts.pop()
            depth = nesting.pop()
            if nesting:
                nesting[-1] = max(nesting[-1], depth + 1)
            if depth <= _MAX_NESTING and _holds_key(keys, start, at):
                spans.append((start, at + 1))
        else:
            string = _STRING_REST.match(text, at + 1)
            if string is not None:
                skip_to = string.end()
            else:
                # An unclosed quote: the rest of its line cannot be told apart from string text.
                newline = text.find("\n", at)
                skip_to = len(text) if newline < 0 else newline
    return spans


def _holds_key(keys: list[int], start: int, end: int) -> bool:
    first = bisect.bisect_right(keys, start)
    return first < len(keys) and keys[first] < end


_SCORES_MARKERS = (
    re.compile(re.escape("[The Begin of Individual Scores]"), re.IGNORECASE),
    re.compile(re.escape("[The End of Individual Scores]"), re.IGNORECASE),
)
_RANKING_MARKERS = (
    re.compile(re.escape("[The Begin of Ranking Score]"), re.IGNORECASE),
    re.compile(re.escape("[The End of Ranking Score]"), re.IGNORECASE),
)
_BOXED = "\\boxed{"


def _last_match(pattern: re.Pattern[str], text: str, endpos: int) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text, 0, endpos):  # noqa: B007 - the last one is kept
        pass
    return last


def _last_box(text: str, markers: tuple[re.Pattern[str], re.Pattern[str]]) -> str | None:
    """The inside of the last ``\\boxed{...}`` in the last complete block between ``markers``."""
    begin, end = markers
    # The last end marker, then the last begin marker before it: a lazy regex from every begin
    # marker to a missing end marker would be quadratic.
    end_match = _last_match(end, text, len(text))
    if end_match is None:
        return None
    begin_match = _last_match(begin, text, end_match.start())
    if begin_match is None:
        return None
    box_at = text.rfind(_BOXED, begin_match.end(), end_match.start())
    if box_at < 0:
        return None
    close_at = text.find("}", box_at, end_match.start())
    if close_at < 0:
        return None
    return text[box_at + len(_BOXED) : close_at]


def _boxed_verdict(text: str) -> tuple[dict[str, Any], list[_Problem]] | None:
    scores = _last_box(text, _SCORES_MARKERS)
    ranking = _last_box(text, _RANKING_MARKERS)
    if scores is None and ranking is None:
        return None
    raw: dict[str, Any] = {}
    problems: list[_Problem] = []
    if scores is not None:
        parts = [part.strip() for part in scores.split(",")]
        if len(parts) > 2:
            problems.append((UNPARSEABLE, f"expected two scores in the box, found {len(parts)}"))
        else:
            for field, part in zip(("score_1", "score_2"), parts, strict=False):
                if part:
                    raw[field] = part
    if ranking is not None and ranking.strip():
        raw["ranking"] = ranking.strip()
    return raw, problems


# The field name leads the pattern so the regex engine can look for it as a literal; the check
# that it does not continue a longer word (``best_score_1``) is done on the match.
_KEY_VALUE = {field: re.compile(rf'{field}"?\s*[:=]\s*"?(-?\d+(?:\.\d+)?)') for field in FIELDS}


def _regex_verdict(text: str) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for field, pattern in _KEY_VALUE.items():
        for match in pattern.finditer(text):
            at = match.start()
            if at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"):
                raw[field] = match.group(1)
    return raw


# -- validation ----------------------------------------------------------------------------------

_INTEGER_TEXT = re.compile(r"([+-]?)0*(\d+)(?:\.0*)?")
# More digits than this are out of range whatever they are; only this many are converted (int()
# refuses very long digit strings) and the detail shows fewer still.
_MAX_DIGITS = 40
_SHOWN = 40


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        match = _INTEGER_TEXT.fullmatch(value.strip())
        if match is not None:
            return int(match.group(1) + match.group(2)[:_MAX_DIGITS])
    return None


def _show(value: Any) -> str:
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        shown = type(value).__name__
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def _list_fields(fields: list[str]) -> str:
    if len(fields) == 1:
        return fields[0]
    return ", ".join(fields[:-1]) + " or " + fields[-1]


def _validate(raw: dict[str, Any], problems: list[_Problem]) -> tuple[dict[str, int], str, str]:
    values: dict[str, int] = {}
    problems = list(problems)
    missing: list[str] = []
    for field in FIELDS:
        if field not in raw:
            missing.append(field)
            continue
        number = _integer(raw[field])
        if number is None:
            problems.append((UNPARSEABLE, f"{field} is not an integer: {_show(raw[field])}"))
            continue
        low, high = _RANGES[field]
        if not low <= number <= high:
            shown = str(number)
            if len(shown) > _SHOWN:
                shown = shown[: _SHOWN - 3] + "..."
            problems.append((OUT_OF_RANGE, f"{field} {shown} is outside {low}..{high}"))
            continue
        values[field] = number
    if missing:
        problems.append((PARTIAL, f"no {_list_fields(missing)} in the verdict"))
    if len(values) == 3:
        s1, s2, r = values["score_1"], values["score_2"], values["ranking"]
        if s1 > s2 and r >= 4:
            problems.append(
                (INCONSISTENT, f"score_1 {s1} > score_2 {s2} but ranking {r} prefers response 2")
            )
        elif s1 < s2 and r <= 3:
            problems.append(
                (INCONSISTENT, f"score_1 {s1} < score_2 {s2} but ranking {r} prefers response 1")
            )
    if not problems:
        return values, OK, ""
    order = (UNPARSEABLE, OUT_OF_RANGE, PARTIAL, INCONSISTENT)
    problems.sort(key=lambda problem: order.index(problem[0]))
    status = problems[0][0]
    if status == PARTIAL and not values:
        # Every field missing is no verdict at all, not a partial one.
        status = UNPARSEABLE
    return values, status, "; ".join(message for _, message in problems)
