"""How far a running import is. The importer writes its progress to the cache, which the web and
worker processes share, because its own database rows stay invisible until it commits."""

from django.core.cache import cache

from judgeapp.datasets.models import ImportJob


def import_progress_key(job_id: int) -> str:
    return f"import-progress:{job_id}"


def import_progress_set(job: ImportJob, *, bytes_read: int) -> None:
    cache.set(
        import_progress_key(job.pk),
        {"bytes_read": bytes_read, "records": job.records_read},
        timeout=3600,
    )


def import_progress_clear(job: ImportJob) -> None:
    cache.delete(import_progress_key(job.pk))


def import_progress(job: ImportJob) -> dict:
    """The share of the file read so far, in percent, and the records read."""
    progress = cache.get(import_progress_key(job.pk)) or {}
    done = progress.get("bytes_read", job.bytes_read)
    if job.finished_at:
        percent = 100
    else:
        percent = int(100 * done / job.bytes_total) if job.bytes_total else 0
    return {"percent": min(percent, 100), "records": progress.get("records", job.records_read)}
