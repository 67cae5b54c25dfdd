"""Writes for datasets: creating them, and importing files into them."""

import logging
from typing import BinaryIO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from judgeapp.accounts.models import Team, User
from judgeapp.campaigns.models import Label
from judgeapp.core.errors import ApplicationError
from judgeapp.core.statistics import analyze_if_stale
from judgeapp.datasets.importer import BATCH_SIZE, BatchWriter
from judgeapp.datasets.models import Comparison, Dataset, ImportJob
from judgeapp.datasets.progress import import_progress_clear, import_progress_set
from judgeapp.datasets.readers import FormatError, open_reader
from judgeapp.datasets.records import FORMATS, ComparisonIn, Invalid, JudgmentRowIn, RecordError
from judgeapp.datasets.search import search_available, search_index_chunk
from judgeapp.judging.models import Judgment

logger = logging.getLogger(__name__)

# Imports of up to this many items get their search documents at once; larger ones from a
# worker, after the commit.
SEARCH_INLINE_MAX_ITEMS = 1000


def dataset_create(
    *, team: Team, name: str, description: str = "", by: User | None = None
) -> Dataset:
    name = name.strip()
    if not name:
        raise ApplicationError("A dataset needs a name.")
    if len(name) > 200:
        raise ApplicationError("A dataset name has at most 200 characters.")
    if Dataset.objects.filter(team=team, name=name).exists():
        raise ApplicationError(f"The team already has a dataset named {name!r}.")
    return Dataset.objects.create(team=team, name=name, description=description, created_by=by)


def dataset_get_or_create(*, team: Team, name: str, by: User | None = None) -> Dataset:
    dataset = Dataset.objects.filter(team=team, name=name.strip()).first()
    return dataset or dataset_create(team=team, name=name, by=by)


# Imports ---------------------------------------------------------------------------------------


def _check_format(format: str) -> str:
    format = (format or "").strip().lower()
    if format in ("", "auto"):
        return ""
    if format not in FORMATS:
        raise ApplicationError(f"Unknown format {format!r}: expected one of {', '.join(FORMATS)}.")
    return format


def import_job_create(
    *,
    dataset: Dataset,
    by: User | None,
    filename: str,
    format: str = "",
    skip_invalid: bool = False,
    upload: UploadedFile | None = None,
) -> ImportJob:
    """Record an import into ``dataset``; with ``upload``, keep the file for a worker to read."""
    format = _check_format(format)
    limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
    if upload is not None and upload.size > limit:
        raise ApplicationError(
            f"The file is {upload.size / 1024 / 1024:.1f} MB; the upload limit is "
            f"{settings.IMPORT_MAX_UPLOAD_MB} MB (IMPORT_MAX_UPLOAD_MB)."
        )
    job = ImportJob(
        dataset=dataset,
        created_by=by,
        filename=filename[:255],
        format=format,
        skip_invalid=skip_invalid,
        bytes_total=upload.size if upload is not None else 0,
    )
    if upload is not None:
        job.file.save(upload.name, upload, save=False)
    job.save()
    return job


class _Rejected(Exception):
    pass


class _Errors:
    """Every error of the file is counted; the first ``cap`` are kept to show."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.shown: list[dict] = []
        self.count = 0
        self.records = 0

    def add(self, errors: list[RecordError]) -> None:
        self.records += 1
        self.count += len(errors)
        room = self.cap - len(self.shown)
        if room > 0:
            self.shown.extend(e.as_dict() for e in errors[:room])


def _summary(job: ImportJob) -> str:
    if job.status == ImportJob.Status.REJECTED:
        return (
            f"Nothing was imported: {job.invalid} record{'s' if job.invalid != 1 else ''} "
            f"failed validation ({job.error_count} error{'s' if job.error_count != 1 else ''}). "
            "Fix them, or import again with “skip invalid records”."
        )
    parts = [f"Imported {job.items_created} item{'s' if job.items_created != 1 else ''}"]
    if job.labels_created:
        parts.append(f"{job.labels_created} labels")
    if job.judgments_created:
        parts.append(f"{job.judgments_created} verdicts")
    text = ", ".join(parts) + "."
    if job.duplicates:
        text += f" {job.duplicates} already present (same id), skipped."
    if job.invalid:
        text += f" {job.invalid} invalid record{'s' if job.invalid != 1 else ''} skipped."
    return text


def dataset_import(*, job: ImportJob, stream: BinaryIO) -> ImportJob:
    """Read ``stream`` into the job's dataset: validate every record, write in batches inside one
    transaction, and commit only when the file is clean (or the job skips invalid records).

    Records whose ids the dataset already has are counted as duplicates and add nothing.
    """
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status"])
    errors = _Errors(settings.IMPORT_MAX_ERRORS_SHOWN)
    try:
        reader = open_reader(stream, format=job.format or None, filename=job.filename)
    except FormatError as exc:
        return _finish(job, ImportJob.Status.REJECTED, message=exc.message)
    job.format = reader.format
    try:
        with transaction.atomic():
            _import_records(job, reader, errors)
            if errors.records and not job.skip_invalid:
                raise _Rejected
    except _Rejected:
        job.items_created = job.labels_created = job.judgments_created = job.duplicates = 0
        return _finish(job, ImportJob.Status.REJECTED, errors=errors)
    except Exception as exc:
        logger.exception("import %s failed", job.pk)
        return _finish(
            job, ImportJob.Status.FAILED, errors=errors, message=f"The import failed: {exc}"
        )
    analyze_if_stale(
        {
            Comparison._meta.db_table: job.items_created,
            Label._meta.db_table: job.labels_created,
            Judgment._meta.db_table: job.judgments_created,
        }
    )
    if job.items_created:
        _index_for_search(job.dataset_id, job.items_created)
    return _finish(job, ImportJob.Status.DONE, errors=errors)


def _index_for_search(dataset_id: int, items: int) -> None:
    """Search documents for newly imported items: at once for a small import, from a worker
    (after the commit) for a larger one or whatever the inline pass left."""
    if not search_available():
        return
    if items <= SEARCH_INLINE_MAX_ITEMS:
        indexed = search_index_chunk(dataset_id=dataset_id, chunk=SEARCH_INLINE_MAX_ITEMS)
        if indexed < SEARCH_INLINE_MAX_ITEMS:
            return  # none of the dataset's items is left without a document
    transaction.on_commit(lambda: _queue_search_index(dataset_id))


def _queue_search_index(dataset_id: int) -> None:
    from judgeapp.datasets.tasks import search_index_task

    try:
        search_index_task.delay(dataset_id)
    except Exception:  # the broker is down: the periodic catch-up task indexes them later
        logger.warning("could not queue search indexing of dataset %s", dataset_id, exc_info=True)


def _import_records(job: ImportJob, reader, errors: _Errors) -> None:
    # Holding the dataset row serialises imports into one dataset, so ids are checked safely.
    dataset = Dataset.objects.select_for_update().select_related("team").get(pk=job.dataset_id)
    ids = Comparison.objects.filter(dataset=dataset).values_list("external_id", "pk")
    if reader.format == "judgments":
        known = dict(ids.iterator(chunk_size=10_000))
    else:
        known = {external_id for external_id, _ in ids.iterator(chunk_size=10_000)}
    keys = set(dataset.metadata_keys)
    writer = BatchWriter(dataset=dataset, team=dataset.team, by=job.created_by)
    writing = True
    batch: list = []

    def flush() -> None:
        if batch:
            if reader.format == "judgments":
                writer.write_judgment_rows(batch)
            else:
                writer.write_comparisons(batch)
            batch.clear()
        import_progress_set(job, bytes_read=reader.bytes_read)

    try:
        for item in reader:
            job.records_read += 1
            if isinstance(item, JudgmentRowIn) and item.id not in known:
                message = f"no item with id {item.id!r} in dataset {dataset.name!r}"
                item = Invalid(
                    line=item.line,
                    record_id=item.id,
                    errors=[RecordError(item.line, "id", message, item.id)],
                )
            if isinstance(item, Invalid):
                errors.add(item.errors)
                job.invalid += 1
                writing = writing and job.skip_invalid
                continue
            if not writing:
                continue
            if isinstance(item, ComparisonIn):
                if item.id in known:
                    job.duplicates += 1
                    continue
                known.add(item.id)
                keys.update(item.metadata)
                batch.append(item)
            else:
                batch.append((item, known[item.id]))
            if len(batch) >= BATCH_SIZE:
                flush()
        flush()
    finally:
        writer.close()
    job.items_created = writer.items_created
    job.labels_created = writer.labels_created
    job.judgments_created = writer.judgments_created
    job.duplicates += writer.judgment_duplicates
    if writing and keys != set(dataset.metadata_keys):
        dataset.metadata_keys = sorted(keys)
        dataset.save(update_fields=["metadata_keys"])


def _finish(
    job: ImportJob, status: str, *, errors: _Errors | None = None, message: str = ""
) -> ImportJob:
    job.status = status
    if errors is not None:
        job.errors = errors.shown
        job.error_count = errors.count
        job.invalid = errors.records
    job.finished_at = timezone.now()
    job.message = message or _summary(job)
    job.bytes_read = job.bytes_total
    job.save()
    import_progress_clear(job)
    return job


def import_job_run(*, job_id: int, redelivered: bool = False) -> ImportJob | None:
    """Run a queued import from its stored file, once. A redelivered task (its worker died
    mid-import, so its transaction never committed) may take over a running job."""
    claimable = [ImportJob.Status.QUEUED] + ([ImportJob.Status.RUNNING] if redelivered else [])
    claimed = ImportJob.objects.filter(pk=job_id, status__in=claimable).update(
        status=ImportJob.Status.RUNNING
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("dataset").get(pk=job_id)
    job.records_read = job.items_created = job.duplicates = job.invalid = 0
    try:
        with job.file.open("rb") as stream:
            return dataset_import(job=job, stream=stream)
    finally:
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")


def import_job_start(*, job: ImportJob) -> ImportJob:
    """Run small uploads at once; hand larger ones to a worker (after the job is committed)."""
    from judgeapp.datasets.tasks import import_job_run_task

    if job.bytes_total <= settings.IMPORT_INLINE_MAX_KB * 1024:
        return import_job_run(job_id=job.pk) or job
    transaction.on_commit(lambda: import_job_run_task.delay(job.pk))
    return job
