"""What a report reads, as arrays: the items in scope, the humans' labels, adjudicated labels and
each judge's verdicts (all in the items' own order, -3..3), gathered with a few flat queries."""

import hashlib
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Exists, Max, OuterRef, Q

from judgeapp.campaigns.models import Campaign, Label
from judgeapp.datasets.models import Comparison, Dataset
from judgeapp.judging.models import Judge, JudgeRun, Judgment

HUMANS = ("all", "campaign", "imported")


@dataclass
class JudgeData:
    judge_id: int
    name: str
    protocol: str
    m: np.ndarray  # mean of every verdict on the item (both orders, all samples)
    m_orig: np.ndarray  # mean of the original-order verdicts
    m_swap: np.ndarray  # mean of the swapped-order verdicts
    samples: np.ndarray  # (n, S) original-order sample verdicts, NaN-padded
    verdicts: int

    @property
    def both_orders(self) -> bool:
        return bool(np.any(~np.isnan(self.m_orig) & ~np.isnan(self.m_swap)))


@dataclass
class ReportData:
    item_ids: np.ndarray  # comparison pks, sorted
    external_ids: list[str]
    H: np.ndarray  # (n, A) labels, NaN where missing
    shown_swapped: np.ndarray  # (n, A) 1/0/NaN
    annotators: list[str]
    gold: np.ndarray  # (n,) adjudicated labels, NaN where none
    judges: list[JudgeData]
    metadata: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.item_ids)


def _items(dataset: Dataset, campaign: Campaign | None):
    if campaign is not None:
        return Comparison.objects.filter(
            pk__in=campaign.items.filter(wanted__gt=0).values("comparison_id")
        )
    return Comparison.objects.filter(dataset=dataset)


# Every query below selects by ``comparison_id IN (items)`` and ``run_id IN (runs)`` rather than
# joining: right after a large import PostgreSQL's statistics are stale, and a join planned on
# them can take minutes where these semi-joins take a second.


def _labels(dataset: Dataset, campaign: Campaign | None, humans: str):
    labels = Label.objects.filter(comparison_id__in=_items(dataset, campaign).values("pk"))
    sources = Q()
    if humans in ("all", "campaign"):
        sources |= (
            Q(kind=Label.Kind.ANNOTATION, campaign=campaign)
            if campaign is not None
            else Q(kind=Label.Kind.ANNOTATION)
        )
    if humans in ("all", "imported"):
        sources |= Q(kind=Label.Kind.IMPORTED)
    return labels.filter(sources)


def _adjudications(dataset: Dataset, campaign: Campaign | None):
    qs = Label.objects.filter(
        comparison_id__in=_items(dataset, campaign).values("pk"), kind=Label.Kind.ADJUDICATION
    )
    return qs.filter(campaign=campaign) if campaign is not None else qs


def _verdicts(judge_ids: list[int], dataset: Dataset, campaign: Campaign | None = None):
    return Judgment.objects.filter(
        run_id__in=JudgeRun.objects.filter(judge_id__in=judge_ids, dataset=dataset).values("pk"),
        comparison_id__in=_items(dataset, campaign).values("pk"),
        status=Judgment.Status.DONE,
        preference__isnull=False,
    )


def judges_with_verdicts(*, dataset: Dataset):
    """Judges (of the dataset's team) with at least one verdict on the dataset."""
    verdict = Judgment.objects.filter(
        run__judge=OuterRef("pk"),
        run__dataset=dataset,
        status=Judgment.Status.DONE,
        preference__isnull=False,
    )
    return Judge.objects.filter(Exists(verdict), team=dataset.team_id).order_by("name")


def fingerprint(
    *, dataset: Dataset, campaign: Campaign | None, config: dict, judge_ids: list[int]
) -> str:
    """A digest of the configuration and of the state of every input: items, labels (and their
    last change), adjudications and verdicts. Any change to them gives another fingerprint."""
    items = _items(dataset, campaign).aggregate(n=Count("id"), last=Max("id"))
    labels = _labels(dataset, campaign, config["humans"]).aggregate(
        n=Count("id"), changed=Max("updated_at")
    )
    adjudicated = _adjudications(dataset, campaign).aggregate(
        n=Count("id"), changed=Max("updated_at")
    )
    verdicts = list(
        _verdicts(judge_ids, dataset, campaign)
        .values("run__judge_id")
        .annotate(n=Count("id"), last=Max("id"), done=Max("finished_at"))
        .order_by("run__judge_id")
        .values_list("run__judge_id", "n", "last", "done")
    )
    names = list(Judge.objects.filter(pk__in=judge_ids).order_by("pk").values_list("pk", "name"))
    parts = [
        repr(sorted(config.items())),
        repr(sorted(items.items())),
        repr(sorted(labels.items())),
        repr(sorted(adjudicated.items())),
        repr(verdicts),
        repr(names),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _means(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(index, minlength=n).astype(float)
    sums = np.bincount(index, weights=values, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)


def load(
    *,
    dataset: Dataset,
    campaign: Campaign | None,
    judge_ids: list[int],
    humans: str = "all",
    breakdown: list[str] | None = None,
) -> ReportData:
    """Read the report's inputs. Memory: a few arrays of n floats per judge and annotator."""
    rows = list(
        _items(dataset, campaign)
        .order_by("pk")
        .values_list("pk", "external_id", *(["metadata"] if breakdown else []))
    )
    item_ids = np.array([r[0] for r in rows], dtype=np.int64)
    external_ids = [r[1] for r in rows]
    metadata: dict[str, list[str | None]] = {}
    for key in breakdown or []:
        metadata[key] = [
            None if (r[2] or {}).get(key) is None else str(r[2][key])[:200] for r in rows
        ]
    n = len(item_ids)
    del rows

    def positions(comparison_ids: list[int]) -> np.ndarray:
        return np.searchsorted(item_ids, np.asarray(comparison_ids, dtype=np.int64))

    # Humans: one column per annotator (a user in campaigns, a name for imported labels).
    label_rows = list(
        _labels(dataset, campaign, humans).values_list(
            "comparison_id", "annotator_id", "annotator__username", "annotator_name",
            "preference", "shown_swapped",
        )
    )  # fmt: skip
    columns: dict[tuple, int] = {}
    names: list[str] = []
    for _, user_id, username, name, _, _ in label_rows:
        who = ("user", user_id) if user_id else ("name", name)
        if who not in columns:
            columns[who] = len(names)
            names.append(username if user_id else name or "unknown")
    H = np.full((n, len(names)), np.nan)
    shown = np.full((n, len(names)), np.nan)
    if label_rows:
        at = positions([r[0] for r in label_rows])
        col = np.array(
            [columns[("user", r[1]) if r[1] else ("name", r[3])] for r in label_rows], dtype=int
        )
        H[at, col] = [r[4] for r in label_rows]
        shown[at, col] = [np.nan if r[5] is None else float(r[5]) for r in label_rows]
    del label_rows

    gold = np.full(n, np.nan)
    decided = list(
        _adjudications(dataset, campaign)
        .order_by("updated_at")
        .values_list("comparison_id", "preference")
    )
    if decided:
        gold[positions([c for c, _ in decided])] = [p for _, p in decided]  # latest wins

    judges = []
    for judge in Judge.objects.filter(pk__in=judge_ids).order_by("name"):
        verdicts = list(
            _verdicts([judge.pk], dataset, campaign).values_list(
                "comparison_id", "preference", "swapped"
            )
        )
        at = positions([v[0] for v in verdicts])
        values = np.array([v[1] for v in verdicts], dtype=float)
        swapped = np.array([bool(v[2]) for v in verdicts], dtype=bool)
        orig = ~swapped
        per_item = np.bincount(at[orig], minlength=n) if len(at) else np.zeros(n, int)
        samples = np.full((n, max(int(per_item.max(initial=0)), 1)), np.nan)
        if orig.any():
            order = np.argsort(at[orig], kind="stable")
            items_sorted = at[orig][order]
            starts = np.searchsorted(items_sorted, items_sorted, side="left")
            slot = np.arange(len(items_sorted)) - starts
            samples[items_sorted, slot] = values[orig][order]
        judges.append(
            JudgeData(
                judge_id=judge.pk,
                name=judge.name,
                protocol=judge.protocol,
                m=_means(at, values, n),
                m_orig=_means(at[orig], values[orig], n),
                m_swap=_means(at[swapped], values[swapped], n),
                samples=samples,
                verdicts=len(verdicts),
            )
        )
    return ReportData(
        item_ids=item_ids,
        external_ids=external_ids,
        H=H,
        shown_swapped=shown,
        annotators=names,
        gold=gold,
        judges=judges,
        metadata=metadata,
    )
