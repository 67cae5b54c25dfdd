"""Validated records into the database, in batches: COPY on PostgreSQL, bulk inserts elsewhere.

Everything here runs inside the import's transaction; the caller decides whether it commits.
"""

from collections.abc import Iterable
from datetime import datetime

import orjson
from django.db import connection
from django.utils import timezone

from judgeapp.accounts.models import Team
from judgeapp.campaigns.models import Label
from judgeapp.datasets.models import Comparison, Dataset
from judgeapp.datasets.records import ComparisonIn, JudgmentIn, JudgmentRowIn
from judgeapp.judging.models import Judge, JudgeRun, Judgment

BATCH_SIZE = 2000


def _json(value) -> str:
    return orjson.dumps(value).decode()


class JudgeRuns:
    """Finds or creates the judge (protocol ``imported`` when new) and the imported run that
    verdicts of one (judge, run key) go to, once per import."""

    def __init__(self, *, team: Team, dataset: Dataset, by) -> None:
        self.team, self.dataset, self.by = team, dataset, by
        self._runs: dict[tuple[str, str], JudgeRun] = {}

    def run_for(self, judgment: JudgmentIn) -> JudgeRun:
        key = (judgment.judge, judgment.run)
        run = self._runs.get(key)
        if run is None:
            judge, _ = Judge.objects.get_or_create(
                team=self.team,
                name=judgment.judge,
                defaults={"protocol": Judge.Protocol.IMPORTED, "created_by": self.by},
            )
            run, _ = JudgeRun.objects.get_or_create(
                judge=judge,
                dataset=self.dataset,
                import_key=judgment.run,
                defaults={
                    "team": self.team,
                    "status": JudgeRun.Status.DONE,
                    "created_by": self.by,
                    "started_at": timezone.now(),
                    "finished_at": timezone.now(),
                },
            )
            self._runs[key] = run
        return run

    @property
    def runs(self) -> list[JudgeRun]:
        return list(self._runs.values())


def _judgment_row(judgment: JudgmentIn, *, run_id: int, comparison_id: int, now: datetime) -> dict:
    return {
        "run_id": run_id,
        "comparison_id": comparison_id,
        "swapped": judgment.swapped,
        "sample": judgment.sample,
        "status": Judgment.Status.DONE,
        "score_1": judgment.score_1,
        "score_2": judgment.score_2,
        "ranking": judgment.ranking,
        "preference": judgment.preference,
        "reasoning": judgment.reasoning,
        "parse_status": Judgment.ParseStatus.OK,
        "finished_at": now,
        "created_at": now,
    }


JUDGMENT_DEFAULTS = {
    "raw_output": "",
    "finish_reason": "",
    "attempts": 0,
    "error": "",
}


class BatchWriter:
    """Writes batches of new comparisons (with their labels and verdicts) and of verdict rows."""

    def __init__(self, *, dataset: Dataset, judge_runs: JudgeRuns) -> None:
        self.dataset = dataset
        self.judge_runs = judge_runs
        self.postgres = connection.vendor == "postgresql"
        self.labels_created = 0
        self.judgments_created = 0
        self.judgment_duplicates = 0

    # Comparisons ------------------------------------------------------------------------------
    def write_comparisons(self, records: list[ComparisonIn]) -> list[int]:
        """Insert ``records`` (none of whose ids exist yet) and their labels and verdicts."""
        if not records:
            return []
        now = timezone.now()
        ids = (
            self._comparisons_pg(records, now) if self.postgres else self._comparisons_orm(records)
        )
        labels = [
            {
                "comparison_id": pk,
                "kind": Label.Kind.IMPORTED,
                "annotator_name": label.annotator,
                "preference": label.preference,
                "score_1": label.score_1,
                "score_2": label.score_2,
                "rationale": label.rationale,
                "created_at": now,
                "updated_at": now,
            }
            for pk, record in zip(ids, records, strict=True)
            for label in record.labels
        ]
        self._labels(labels)
        judgments = [
            _judgment_row(j, run_id=self.judge_runs.run_for(j).pk, comparison_id=pk, now=now)
            for pk, record in zip(ids, records, strict=True)
            for j in record.judgments
        ]
        self._judgments(judgments, fresh=True)
        return ids

    def _comparisons_pg(self, records: list[ComparisonIn], now: datetime) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('datasets_comparison', 'id')) "
                "FROM generate_series(1, %s)",
                [len(records)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            columns = (
                "id, dataset_id, external_id, conversation, response_1, response_2, "
                "principles, metadata, created_at"
            )
            with cursor.cursor.copy(f"COPY datasets_comparison ({columns}) FROM STDIN") as copy:
                for pk, r in zip(ids, records, strict=True):
                    copy.write_row(
                        (
                            pk,
                            self.dataset.pk,
                            r.id,
                            _json(r.conversation),
                            r.response_1,
                            r.response_2,
                            _json(r.principles),
                            _json(r.metadata),
                            now,
                        )
                    )
        return ids

    def _comparisons_orm(self, records: list[ComparisonIn]) -> list[int]:
        created = Comparison.objects.bulk_create(
            [
                Comparison(
                    dataset=self.dataset,
                    external_id=r.id,
                    conversation=r.conversation,
                    response_1=r.response_1,
                    response_2=r.response_2,
                    principles=r.principles,
                    metadata=r.metadata,
                )
                for r in records
            ],
            batch_size=500,
        )
        return [c.pk for c in created]

    # Labels -----------------------------------------------------------------------------------
    def _labels(self, rows: list[dict]) -> None:
        if not rows:
            return
        if self.postgres:
            columns = list(rows[0])
            sql = f"COPY campaigns_label ({', '.join(columns)}) FROM STDIN"
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(tuple(row.values()))
        else:
            Label.objects.bulk_create([Label(**row) for row in rows], batch_size=500)
        self.labels_created += len(rows)

    # Judgments --------------------------------------------------------------------------------
    def write_judgment_rows(self, rows: Iterable[tuple[JudgmentRowIn, int]]) -> None:
        """Attach verdict rows of a judgments file to existing comparisons (row, comparison pk)."""
        now = timezone.now()
        judgments = [
            _judgment_row(r.judgment, run_id=self.judge_runs.run_for(r.judgment).pk,
                          comparison_id=pk, now=now)
            for r, pk in rows
        ]  # fmt: skip
        self._judgments(judgments, fresh=False)

    def _judgments(self, rows: list[dict], *, fresh: bool) -> None:
        """Insert verdicts. ``fresh`` rows belong to comparisons created in this import, so none
        can exist yet; others may repeat a verdict already stored, which is counted and skipped."""
        if not rows:
            return
        objects = [Judgment(**JUDGMENT_DEFAULTS, **row) for row in rows]
        if fresh:
            Judgment.objects.bulk_create(objects, batch_size=1000)
            self.judgments_created += len(rows)
            return
        before = Judgment.objects.filter(run__in=self.judge_runs.runs).count()
        Judgment.objects.bulk_create(objects, batch_size=1000, ignore_conflicts=True)
        added = Judgment.objects.filter(run__in=self.judge_runs.runs).count() - before
        self.judgments_created += added
        self.judgment_duplicates += len(rows) - added
