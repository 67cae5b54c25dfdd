"""Validated records into the database, in batches: COPY on PostgreSQL, bulk inserts elsewhere.

Everything here runs inside the import's transaction; the caller decides whether it commits.

On PostgreSQL the writing of a batch overlaps the reading of the next: a writer thread streams
batch N over the import's own connection (so it stays one transaction) while the main thread
parses and validates batch N+1. The main thread touches the database only after ``drain()``.
"""

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
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
ID_BLOCK = 20_000
QUEUED_BATCHES = 2

COMPARISON_COLUMNS = (
    "id, dataset_id, external_id, conversation, response_1, response_2, principles, metadata, "
    "created_at"
)
LABEL_COLUMNS = (
    "comparison_id, kind, annotator_name, preference, score_1, score_2, rationale, created_at, "
    "updated_at"
)
JUDGMENT_COLUMNS = (
    "run_id, comparison_id, swapped, sample, status, score_1, score_2, ranking, preference, "
    "reasoning, raw_output, parse_status, finish_reason, attempts, error, lease_owner, "
    "finished_at, created_at"
)


def _copy_text(value) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _escape(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    return text


def _escape_json(value) -> str:
    # orjson writes control characters as escapes, so only its backslashes need doubling.
    text = orjson.dumps(value).decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


def _comparison_rows(
    ids: list[int], records: list[ComparisonIn], *, dataset_id: int, now: datetime
) -> bytes:
    """The comparisons' COPY text, built with as little per-field work as the hot path allows."""
    head = f"\t{dataset_id}\t"
    tail = f"\t{now.isoformat()}\n"
    return "".join(
        [
            f"{pk}{head}{_escape(r.id)}\t{_escape_json(r.conversation)}\t"
            f"{_escape(r.response_1)}\t{_escape(r.response_2)}\t"
            f"{_escape_json(r.principles) if r.principles else '[]'}\t"
            f"{_escape_json(r.metadata) if r.metadata else '{}'}{tail}"
            for pk, r in zip(ids, records, strict=True)
        ]
    ).encode()


def _copy_rows(rows) -> bytes:
    """Rows in COPY's text format, ready to send: the formatting is done by the thread that
    calls this, so the writer thread only moves bytes (and holds the GIL very little)."""
    return "".join("\t".join([_copy_text(v) for v in row]) + "\n" for row in rows).encode()


class JudgeRuns:
    """Finds or creates the judge (protocol ``imported`` when new) and the imported run that
    verdicts of one (judge, run key) go to, once per import."""

    def __init__(self, *, team: Team, dataset: Dataset, by, before_db=lambda: None) -> None:
        self.team, self.dataset, self.by = team, dataset, by
        self.before_db = before_db
        self._runs: dict[tuple[str, str], JudgeRun] = {}

    def run_id(self, judgment: JudgmentIn) -> int:
        key = (judgment.judge, judgment.run)
        run = self._runs.get(key)
        if run is None:
            self.before_db()
            judge, _ = Judge.objects.get_or_create(
                team=self.team,
                name=judgment.judge,
                defaults={"protocol": Judge.Protocol.IMPORTED, "created_by": self.by},
            )
            now = timezone.now()
            run, _ = JudgeRun.objects.get_or_create(
                judge=judge,
                dataset=self.dataset,
                import_key=judgment.run,
                defaults={
                    "team": self.team,
                    "status": JudgeRun.Status.DONE,
                    "created_by": self.by,
                    "started_at": now,
                    "finished_at": now,
                },
            )
            self._runs[key] = run
        return run.pk

    @property
    def runs(self) -> list[JudgeRun]:
        return list(self._runs.values())


def _label_row(comparison_id: int, label, now: datetime) -> tuple:
    return (
        comparison_id, Label.Kind.IMPORTED, label.annotator, label.preference, label.score_1,
        label.score_2, label.rationale, now, now,
    )  # fmt: skip


def _judgment_row(judgment: JudgmentIn, run_id: int, comparison_id: int, now: datetime) -> tuple:
    return (
        run_id, comparison_id, judgment.swapped, judgment.sample, Judgment.Status.DONE,
        judgment.score_1, judgment.score_2, judgment.ranking, judgment.preference,
        judgment.reasoning, "", Judgment.ParseStatus.OK, "", 0, "", "", now, now,
    )  # fmt: skip


def _as_dict(columns: str, row: tuple) -> dict:
    return dict(zip([c.strip() for c in columns.split(",")], row, strict=True))


class BatchWriter:
    """Writes batches of new comparisons (with their labels and verdicts) and of verdict rows."""

    def __init__(self, *, dataset: Dataset, team: Team, by) -> None:
        self.dataset = dataset
        self.postgres = connection.vendor == "postgresql"
        self.judge_runs = JudgeRuns(team=team, dataset=dataset, by=by, before_db=self.drain)
        self.items_created = 0
        self.labels_created = 0
        self.judgments_created = 0
        self.judgment_duplicates = 0
        self._pool = ThreadPoolExecutor(max_workers=1) if self.postgres else None
        self._pending: deque[Future] = deque()
        # Django's connection object is per thread; the psycopg connection under it is what the
        # writer thread borrows.
        connection.ensure_connection()
        self._raw = connection.connection
        self._free_ids: list[int] = []

    def _take_ids(self, n: int) -> list[int]:
        """Ids for ``n`` new comparisons, from a block reserved ahead of time so the main thread
        seldom needs the database (it must drain the writer first)."""
        if len(self._free_ids) < n:
            self.drain()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('datasets_comparison', 'id')) "
                    "FROM generate_series(1, %s)",
                    [max(n, ID_BLOCK)],
                )
                self._free_ids.extend(row[0] for row in cursor.fetchall())
        ids, self._free_ids = self._free_ids[:n], self._free_ids[n:]
        return ids

    def drain(self, keep: int = 0) -> None:
        """Wait until at most ``keep`` batches are still queued for writing; re-raise what went
        wrong in any of them."""
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    # Comparisons ------------------------------------------------------------------------------
    def write_comparisons(self, records: list[ComparisonIn]) -> None:
        """Insert ``records`` (none of whose ids exist yet) with their labels and verdicts."""
        if not records:
            return
        # Resolving judges may touch the database, so it happens here, before the hand-off.
        run_ids = [[self.judge_runs.run_id(j) for j in r.judgments] for r in records]
        if self.postgres:
            self._write_pg(records, run_ids)
        else:
            self._write_orm(records, run_ids)

    def _write_pg(self, records: list[ComparisonIn], run_ids: list[list[int]]) -> None:
        ids = self._take_ids(len(records))
        now = timezone.now()
        comparisons = _comparison_rows(ids, records, dataset_id=self.dataset.pk, now=now)
        labels = [
            _label_row(pk, lb, now) for pk, r in zip(ids, records, strict=True) for lb in r.labels
        ]
        judgments = [
            _judgment_row(j, run_id, pk, now)
            for pk, r, runs in zip(ids, records, run_ids, strict=True)
            for j, run_id in zip(r.judgments, runs, strict=True)
        ]
        copies = [(f"COPY datasets_comparison ({COMPARISON_COLUMNS}) FROM STDIN", comparisons)]
        if labels:
            sql = f"COPY campaigns_label ({LABEL_COLUMNS}) FROM STDIN"
            copies.append((sql, _copy_rows(labels)))
        if judgments:
            sql = f"COPY judging_judgment ({JUDGMENT_COLUMNS}) FROM STDIN"
            copies.append((sql, _copy_rows(judgments)))
        # A few batches may queue so the database never waits for the reader; each is ~4 MB.
        self.drain(keep=QUEUED_BATCHES - 1)
        self._pending.append(self._pool.submit(self._send, copies))
        self.items_created += len(records)
        self.labels_created += len(labels)
        self.judgments_created += len(judgments)

    def _send(self, copies: list[tuple[str, bytes]]) -> None:
        # The import's own psycopg connection, used from this thread only while the main thread
        # stays off the database (it calls drain() first): one transaction, two threads in turn.
        with self._raw.cursor() as cursor:
            for sql, data in copies:
                with cursor.copy(sql) as copy:
                    copy.write(data)

    def _write_orm(self, records: list[ComparisonIn], run_ids: list[list[int]]) -> None:
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
        now = timezone.now()
        labels = [
            Label(**_as_dict(LABEL_COLUMNS, _label_row(c.pk, lb, now)))
            for c, r in zip(created, records, strict=True)
            for lb in r.labels
        ]
        Label.objects.bulk_create(labels, batch_size=500)
        judgments = [
            Judgment(**_as_dict(JUDGMENT_COLUMNS, _judgment_row(j, run_id, c.pk, now)))
            for c, r, runs in zip(created, records, run_ids, strict=True)
            for j, run_id in zip(r.judgments, runs, strict=True)
        ]
        Judgment.objects.bulk_create(judgments, batch_size=500)
        self.items_created += len(created)
        self.labels_created += len(labels)
        self.judgments_created += len(judgments)

    # Verdicts for existing items --------------------------------------------------------------
    def write_judgment_rows(self, rows: list[tuple[JudgmentRowIn, int]]) -> None:
        """Attach verdict rows of a judgments file to existing comparisons (row, comparison pk).
        A verdict already stored (same run, item, order and sample) is counted and skipped."""
        run_ids = [self.judge_runs.run_id(r.judgment) for r, _ in rows]
        self.drain()
        now = timezone.now()
        objects = [
            Judgment(**_as_dict(JUDGMENT_COLUMNS, _judgment_row(r.judgment, run_id, pk, now)))
            for (r, pk), run_id in zip(rows, run_ids, strict=True)
        ]
        runs = Judgment.objects.filter(run__in=self.judge_runs.runs)
        before = runs.count()
        Judgment.objects.bulk_create(objects, batch_size=1000, ignore_conflicts=True)
        added = runs.count() - before
        self.judgments_created += added
        self.judgment_duplicates += len(objects) - added
