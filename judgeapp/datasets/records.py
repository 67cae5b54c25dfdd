"""The shapes the format readers produce and the import service consumes. No Django import.

Every verdict and label is in canonical order: response_1 is the first response of the record,
whatever order the judge or annotator saw. ``preference`` is HelpSteer3's -3..3: negative means
response_1 is better, 0 about the same, positive response_2 better.
"""

from dataclasses import dataclass, field

# The GenRM's ranking 1..6 mapped onto the -3..3 preference (GENRM_PROTOCOL.md section 4).
RANKING_TO_PREFERENCE = {1: -3, 2: -2, 3: -1, 4: 1, 5: 2, 6: 3}
# A winner (1, 2, or 0 for a tie) is the weakest statement of a preference.
WINNER_TO_PREFERENCE = {1: -1, 0: 0, 2: 1}

FORMATS = ("native", "genrm", "helpsteer3", "csv", "judgments")


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem in one record. ``line`` is the 1-based line where the record starts (for CSV,
    the physical line of the row; the header is line 1); ``field`` is a path such as
    ``response_1`` or ``labels[2].preference`` ("" for the record as a whole)."""

    line: int
    field: str
    message: str
    record_id: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.record_id:
            where += f" (id {self.record_id})"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def as_dict(self) -> dict:
        return {
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "id": self.record_id,
        }


@dataclass(slots=True)
class LabelIn:
    annotator: str
    preference: int
    score_1: int | None = None
    score_2: int | None = None
    rationale: str = ""


@dataclass(slots=True)
class JudgmentIn:
    judge: str
    preference: int | None = None
    score_1: int | None = None
    score_2: int | None = None
    ranking: int | None = None
    swapped: bool = False
    sample: int = 0
    reasoning: str = ""
    # Groups verdicts of one judge into one imported run (e.g. the id of the run they came from).
    run: str = ""


@dataclass(slots=True)
class ComparisonIn:
    id: str
    conversation: list[dict]
    response_1: str
    response_2: str
    principles: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    labels: list[LabelIn] = field(default_factory=list)
    judgments: list[JudgmentIn] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True)
class JudgmentRowIn:
    """A row of a judgments file: a verdict for the existing comparison whose id is ``id``."""

    id: str
    judgment: JudgmentIn
    line: int = 0


@dataclass(slots=True)
class Invalid:
    """A record that failed validation, with every problem found in it."""

    line: int
    errors: list[RecordError]
    record_id: str | None = None
