import threading
import uuid

import pytest

from judgeapp.judging.pump import pump_run
from tests.factories import ComparisonFactory, DatasetFactory, JudgeFactory
from tests.genrm_server import FakeGenRM


@pytest.fixture
def genrm():
    with FakeGenRM() as server:
        yield server


@pytest.fixture
def fast_retries(settings):
    settings.JUDGING_RETRY_BASE_SECONDS = 0.01
    settings.JUDGING_RETRY_MAX_SECONDS = 0.05
    return settings


@pytest.fixture
def make_judge(team, genrm):
    def make(**fields):
        fields.setdefault("base_url", genrm.base_url)
        fields.setdefault("model", "nvidia/Qwen3-Nemotron-235B-A22B-GenRM")
        fields.setdefault("timeout_seconds", 10)
        return JudgeFactory(team=team, **fields)

    return make


@pytest.fixture
def make_dataset(team):
    def make(n: int = 5, texts=None, **fields):
        dataset = DatasetFactory(team=team, **fields)
        for i in range(n):
            extra = texts(i) if texts else {}
            ComparisonFactory(
                dataset=dataset,
                external_id=f"item-{i}",
                conversation=extra.pop(
                    "conversation", [{"role": "user", "content": f"Question {i}?"}]
                ),
                response_1=extra.pop("response_1", f"Answer A{i}"),
                response_2=extra.pop("response_2", f"Answer B{i} is longer"),
                **extra,
            )
        return dataset

    return make


def run_pumps(count: int = 1) -> None:
    """Run ``count`` pumps at once, each in its own thread, until the queue is empty."""
    threads = [
        threading.Thread(target=pump_run, kwargs={"owner": uuid.uuid4().hex}) for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a pump did not finish"
