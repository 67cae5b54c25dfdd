"""Label scales: what an annotator may answer, how each answer reads on screen, and how an answer
given for the responses as shown becomes a preference in the item's own order (-3..3, negative =
response 1 better). Pure functions, no Django import."""

from dataclasses import dataclass

from judgeapp.judging.verdicts import RANKING_TO_PREFERENCE

HELPSTEER3 = "helpsteer3"
RANKING6 = "ranking6"
TERNARY = "ternary"
BINARY = "binary"

# Answers in the order the buttons appear, each with its wording for the responses as shown.
_TEXTS = {
    HELPSTEER3: {
        -3: "A is much better",
        -2: "A is better",
        -1: "A is slightly better",
        0: "About the same",
        1: "B is slightly better",
        2: "B is better",
        3: "B is much better",
    },
    RANKING6: {
        1: "A is much better",
        2: "A is better",
        3: "A is slightly better",
        4: "B is slightly better",
        5: "B is better",
        6: "B is much better",
    },
    TERNARY: {-1: "A is better", 0: "Tie", 1: "B is better"},
    BINARY: {-1: "A is better", 1: "B is better"},
}
SCALES = tuple(_TEXTS)


@dataclass(frozen=True, slots=True)
class Choice:
    value: int  # the answer as sent (API) or posted (page)
    key: str  # the keyboard shortcut on the labelling page
    text: str


def _in_item_order(text: str) -> str:
    """The wording for reviewers, who see the item in its own order (A = response 1)."""
    return text.replace("A ", "Response 1 ").replace("B ", "Response 2 ")


def choices(scale: str, *, item_order: bool = False) -> list[Choice]:
    word = _in_item_order if item_order else str
    return [
        Choice(value, str(n), word(text))
        for n, (value, text) in enumerate(_TEXTS[scale].items(), 1)
    ]


def expected(scale: str) -> str:
    values = list(_TEXTS[scale])
    if len(values) == 2:
        return " or ".join(map(str, values))
    return f"{values[0]}..{values[-1]}"


def is_answer(scale: str, answer: object) -> bool:
    return isinstance(answer, int) and not isinstance(answer, bool) and answer in _TEXTS[scale]


def to_preference(scale: str, answer: int, *, swapped: bool) -> int:
    """The answer (for the responses as shown: A first) as a preference in the item's order."""
    preference = RANKING_TO_PREFERENCE[answer] if scale == RANKING6 else answer
    return -preference if swapped else preference


def to_answer(scale: str, preference: int, *, swapped: bool) -> int:
    """The inverse of ``to_preference``: the button that gives this stored preference."""
    shown = -preference if swapped else preference
    if scale == RANKING6:
        return {v: k for k, v in RANKING_TO_PREFERENCE.items()}[shown]
    return shown


def sign(preference: int) -> int:
    """-1 (response 1 better), 0 (tie) or 1 (response 2 better)."""
    return (preference > 0) - (preference < 0)


def describe(
    scale: str, preference: int | None, *, swapped: bool = False, item_order: bool = False
) -> str:
    """A stored preference in the words of the scale, for the responses as shown (or, with
    ``item_order``, as response 1 and response 2)."""
    if preference is None:
        return ""
    if item_order:
        return _in_item_order(describe(scale, preference))
    shown = -preference if swapped else preference
    if scale == RANKING6:
        if shown == 0:
            return "About the same"
        return _TEXTS[RANKING6][{v: k for k, v in RANKING_TO_PREFERENCE.items()}[shown]]
    texts = _TEXTS[scale]
    if shown in texts:
        return texts[shown]
    return _TEXTS[HELPSTEER3][shown]
