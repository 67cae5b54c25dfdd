"""Whatever a file holds, an import either writes all of its valid records (and reports the rest)
or writes nothing: never a part of a rejected file, never an exception escaping."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judgeapp.campaigns.models import Label
from judgeapp.datasets.models import Comparison, Dataset
from judgeapp.judging.models import Judgment
from tests.datasets.conftest import native

pytestmark = pytest.mark.django_db

CORRUPTIONS = {
    "preference out of range": lambda r: r["labels"][0].update(preference=9) or json.dumps(r),
    "missing response": lambda r: r.pop("response_2") and json.dumps(r),
    "last turn not from the user": lambda r: (
        r["conversation"].append({"role": "assistant", "content": "x"}) or json.dumps(r)
    ),
    "not JSON": lambda r: json.dumps(r)[:-7],
    "NUL escape": lambda r: json.dumps({**r, "response_1": "a\u0000b"}),
    "ranking out of range": lambda r: (
        r["judgments"][0].update(ranking=7, preference=None) or json.dumps(r)
    ),
}
counter = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(min_value=1, max_value=12),
    bad=st.dictionaries(st.integers(0, 11), st.sampled_from(sorted(CORRUPTIONS)), max_size=4),
    skip_invalid=st.booleans(),
    crlf=st.booleans(),
)
def test_import_is_all_or_nothing(team, run_import, n, bad, skip_invalid, crlf):
    dataset = Dataset.objects.create(team=team, name=f"prop-{next(counter)}")
    lines = []
    for i in range(n):
        record = native(i)
        lines.append(CORRUPTIONS[bad[i]](record) if i in bad else json.dumps(record))
    corrupted = len([i for i in bad if i < n])
    data = ("\r\n" if crlf else "\n").join(lines).encode()
    job = run_import(dataset, data, skip_invalid=skip_invalid)

    items = Comparison.objects.filter(dataset=dataset).count()
    labels = Label.objects.filter(comparison__dataset=dataset).count()
    verdicts = Judgment.objects.filter(comparison__dataset=dataset).count()
    assert job.invalid == corrupted
    if corrupted and not skip_invalid:
        assert job.status == "rejected"
        assert (items, labels, verdicts) == (0, 0, 0)
        assert len(job.errors) >= corrupted
    else:
        assert job.status == "done"
        assert items == job.items_created == n - corrupted
        assert labels == job.labels_created == 2 * items
        assert verdicts == job.judgments_created == 2 * items
    assert sorted({e["line"] for e in job.errors}) == sorted(i + 1 for i in bad if i < n)
