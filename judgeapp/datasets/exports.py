"""Export of a dataset as native JSONL or flat CSV, streamed in chunks."""

import csv
import io
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from judgeapp.core.errors import ApplicationError
from judgeapp.datasets.models import Dataset
from judgeapp.datasets.selectors import dataset_export_records
from judgeapp.datasets.writers import CSV_COLUMNS, csv_row, native_line

EXPORT_FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def export_filename(dataset: Dataset, format: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in dataset.name)
    return f"{safe or 'dataset'}.{format}"


def export_response(*, dataset: Dataset, format: str) -> StreamingHttpResponse:
    """The export as a streamed download (for the page and the API alike)."""
    response = StreamingHttpResponse(
        export_stream(dataset=dataset, format=format), content_type=EXPORT_FORMATS[format]
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(dataset, format)}"'
    return response


def export_stream(*, dataset: Dataset, format: str) -> Iterator[bytes]:
    if format not in EXPORT_FORMATS:
        raise ApplicationError(f"Unknown export format {format!r}: expected jsonl or csv.")
    if format == "jsonl":
        for record in dataset_export_records(dataset=dataset):
            yield native_line(record)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # A BOM tells spreadsheet programs the file is UTF-8; the reader skips it.
    yield "\ufeff".encode()
    writer.writerow(CSV_COLUMNS)
    for n, record in enumerate(dataset_export_records(dataset=dataset), start=1):
        writer.writerow(csv_row(record))
        if n % 200 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
