import json

import pytest

from judgeapp.datasets.models import Dataset, ImportJob
from judgeapp.datasets.services import dataset_import, import_job_create


def native(i: int, **extra) -> dict:
    record = {
        "id": f"q-{i}",
        "conversation": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"What is {i}+{i}?"},
        ],
        "response_1": f"{i}+{i}={2 * i + 1}",
        "response_2": f"{i}+{i}={2 * i}",
        "principles": ["Correctness matters most."],
        "metadata": {"domain": "math" if i % 2 else "code", "language": "en"},
        "labels": [
            {
                "annotator": "ann-a",
                "preference": 3,
                "score_1": 1,
                "score_2": 5,
                "rationale": "2 is right",
            },
            {"annotator": "ann-b", "preference": 2},
        ],
        "judgments": [
            {"judge": "gpt-4-vanilla", "preference": 2, "swapped": False},
            {"judge": "gpt-4-vanilla", "ranking": 2, "score_1": 4, "score_2": 2, "swapped": True},
        ],
    }
    record.update(extra)
    return record


def jsonl(records) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


@pytest.fixture
def dataset(team, admin):
    return Dataset.objects.create(team=team, name="imports", created_by=admin)


@pytest.fixture
def run_import(tmp_path, admin):
    """Import bytes into a dataset through the service, as the command does."""

    def run(
        dataset, data: bytes, *, format: str = "", skip_invalid: bool = False, name="data.jsonl"
    ) -> ImportJob:
        path = tmp_path / name
        path.write_bytes(data)
        job = import_job_create(
            dataset=dataset, by=admin, filename=name, format=format, skip_invalid=skip_invalid
        )
        job.bytes_total = len(data)
        with path.open("rb") as stream:
            return dataset_import(job=job, stream=stream)

    return run
