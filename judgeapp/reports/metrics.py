"""Agreement figures of a report (DESIGN.md, "Agreement report (definitions)"): humans with each
other, a judge with the humans, a judge with itself across the two response orders. Pure numpy,
no Django import, no database.

Data conventions
----------------
An item is a pair of responses. A preference is on -3..3: negative means response 1 is better,
0 a tie, positive response 2. Its *side* is its sign: -1, 0 or 1.

- ``H``: (n, A) float array of human labels, one column per annotator, NaN where that annotator
  did not label the item. Labels are integers in -3..3.
- ``gold``: (n,) adjudicated label (integer -3..3) or NaN. ``None`` means no gold at all.
- ``m``: (n,) a judge's verdict per item (already averaged over samples and both orders; may be
  non-integer), NaN where missing. ``m_orig`` / ``m_swap``: the original-order and swapped-order
  runs' verdicts, both already mapped back to the item's own order.

The *majority side* of a set of labels is the side with strictly more votes than each other side;
with no strict winner (or no labels) it is undefined. The *reference* of an item is its gold label
where there is one, else its humans' majority side, median and mean (see ``reference``).

Confidence intervals
--------------------
Every ``Figure`` carries a percentile item bootstrap interval. Resample r draws n items with
replacement from the n items: it is row r of ``rng.integers(0, n, size=(resamples, n),
dtype=np.int32)`` with ``rng = numpy.random.default_rng(seed)`` (drawn a chunk of rows at a time
to bound memory, which leaves the draws unchanged). The figure is recomputed on every resample;
the interval is the (1 - confidence) / 2 and (1 + confidence) / 2 quantiles (numpy's linear
interpolation) of the replicates where the figure is defined (a replicate with a zero
denominator, or no variation, is dropped). All the figures of one call use the same resamples,
and the same seed and n give the same resamples in every call. The interval is ``None`` when
fewer than half of the replicates are defined, when fewer than two items contribute to the
figure, or when no resamples are asked for. ``value`` is the figure on the data as given, never
a bootstrap mean.

How it is computed: every figure is a function of sums over items of per-item statistics (label
counts per value, Krippendorff coincidences, confusion-table cells, pair counts, and for the rank
correlations the cells of the (verdict, reference mean) table). Items alike in every statistic of
a call form one *type*; each resample's drawn items are counted per type (the count matrix W,
resamples x types), and all replicates of all figures follow from W times the per-type
statistics, a chunk of resamples at a time. The point estimate is the same formula with each
type weighted by its size, so value and replicates cannot drift apart. The cost is the draws
(resamples x n) plus, for Kendall's tau-b, resamples x distinct verdicts x distinct reference
means: small for verdicts averaged from a few -3..3 samples, large for continuous verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TIE_POLICIES",
    "Bootstrap",
    "Figure",
    "Reference",
    "annotator_stats",
    "confusion",
    "human_confusion",
    "human_human",
    "judge_vs_humans",
    "position",
    "reference",
    "self_consistency",
]

TIE_POLICIES = ("strict", "ignore", "half")
SIDES = (-1, 0, 1)
VALUES = tuple(range(-3, 4))

# Item draws held at once while resampling (int32, so 4 MB at any n). Smaller chunks stay in
# cache better; the draws themselves do not depend on the chunking.
_DRAWS_PER_CHUNK = 1_000_000
# Kendall's tau-b walks a grid line by line; this bounds the values held at once (replicates x
# the line's length).
_GRID_CELLS = 2_000_000


# -- Public types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A figure with its bootstrap interval. ``value`` is None where the figure is undefined (no
    units, or a statistic with no variation to measure); ``n`` counts the units it is over (the
    function's docstring says which: items or labels)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def as_dict(self) -> dict:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


@dataclass(frozen=True)
class Bootstrap:
    """Item bootstrap settings: resamples (0 for no intervals), seed (a whole number >= 0, as
    ``numpy.random.default_rng`` takes), two-sided confidence."""

    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if (
            isinstance(self.resamples, bool)
            or not isinstance(self.resamples, int | np.integer)
            or self.resamples < 0
        ):
            raise ValueError("resamples: expected a whole number >= 0.")
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int | np.integer)
            or self.seed < 0
        ):
            raise ValueError("seed: expected a whole number >= 0.")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence: expected a number between 0 and 1.")


@dataclass(frozen=True)
class Reference:
    """Per item, what a judge is compared with.

    - ``side``: sign of the gold label; else the humans' majority side; NaN when neither exists
      (no labels, or no side with strictly the most votes).
    - ``value``: the gold label; else the median of the labels rounded half away from zero (an
      integer in -3..3); NaN without labels.
    - ``mean``: the gold label; else the mean of the labels; NaN without labels.
    """

    side: np.ndarray
    value: np.ndarray
    mean: np.ndarray


# -- Public functions -----------------------------------------------------------------------------


def reference(H: np.ndarray, gold: np.ndarray | None = None) -> Reference:
    """The reference of every item (see ``Reference``)."""
    H = _labels(H)
    return _reference(_value_counts(H), _gold(gold, len(H)))


def human_human(H: np.ndarray, *, boot: Bootstrap) -> dict[str, Figure]:
    """Agreement of the humans with each other; ``n`` is the number of items that contribute.

    - ``krippendorff_alpha_nominal``: Krippendorff's alpha over the labels' sides (3 nominal
      categories). Items with at least two labels are the pairable ones and contribute.
    - ``krippendorff_alpha_ordinal``: alpha with the ordinal metric over the values, value domain
      -3..3 in order; same items.
    - ``fleiss_kappa``: Fleiss' kappa over the sides, on the items whose number of labels is k,
      the commonest number of labels among items with at least two (ties go to the larger k);
      items with another number of labels are left out. k is chosen on the data as given and
      kept in every resample.
    - ``pairwise_agreement_with_ties``: over all unordered pairs of labels on the same item,
      pooled over items, the share whose two sides are equal (items with >= 2 labels).
    - ``pairwise_agreement_without_ties``: the same over the pairs where neither label is a tie
      (items with >= 2 labels that are not ties).

    Alpha and kappa are None where undefined: no pairable item, or every label on one side (or
    one value), leaving no disagreement to expect.
    """
    H = _labels(H)
    counts = _value_counts(H)
    table = _Table([counts[:, j] for j in range(len(VALUES))])
    c = counts[table.first]
    s = _side_counts(c)
    total = c.sum(axis=1).astype(float)
    pairable = total >= 2
    within = np.where(pairable, total - 1, 1.0)

    # Krippendorff: per pairable item with L labels, n_c of them in category c, the coincidences
    # n_c (n_k - [c = k]) / (L - 1), and the categories' counts of pairable labels.
    n_side = s * pairable[:, None]
    table.figure(
        "krippendorff_alpha_nominal",
        table.columns(n_side * (n_side - 1) / within[:, None], n_side),
        _alpha_nominal,
        units=pairable,
    )
    n_value = c * pairable[:, None]
    upper_c, upper_k = np.triu_indices(len(VALUES), k=1)
    table.figure(
        "krippendorff_alpha_ordinal",
        table.columns(n_value[:, upper_c] * n_value[:, upper_k] / within[:, None], n_value),
        _alpha_ordinal,
        units=pairable,
    )

    by_count = np.bincount(total.astype(np.int64), weights=table.sizes) if len(total) else []
    eligible = [(items, k) for k, items in enumerate(by_count) if k >= 2 and items > 0]
    k = max(eligible)[1] if eligible else 0
    rated = (total == k) & (k >= 2)
    n_rated = s * rated[:, None]
    agreement = ((n_rated**2).sum(axis=1) - k) / max(k * (k - 1), 1)
    table.figure(
        "fleiss_kappa",
        table.columns(n_rated, agreement * rated, rated),
        _fleiss(k),
        units=rated,
    )

    table.figure(
        "pairwise_agreement_with_ties",
        table.columns(_pairs(s).sum(axis=1), _pairs(total)),
        _ratio,
        units=pairable,
    )
    decided = s[:, 0] + s[:, 2]
    table.figure(
        "pairwise_agreement_without_ties",
        table.columns(_pairs(s[:, 0]) + _pairs(s[:, 2]), _pairs(decided)),
        _ratio,
        units=decided >= 2,
    )
    return table.evaluate(boot)


def judge_vs_humans(
    m: np.ndarray,
    H: np.ndarray,
    gold: np.ndarray | None,
    *,
    tie_policy: str = "strict",
    boot: Bootstrap,
) -> dict[str, Figure]:
    """Agreement of a judge's verdicts ``m`` with the humans. "Judge side" is sign(m); "judge
    value" is m rounded half away from zero, clipped to -3..3. ``n`` counts the units of each
    figure (labels or items, as stated).

    - ``accuracy_without_ties``: over (item, label) pairs whose label is not a tie, on items with
      a verdict, the share where the judge side equals the label's side; a judge tie counts as
      wrong. n = labels.
    - ``accuracy_majority_without_ties``: over items with a verdict whose reference side is -1 or
      1, the share where the judge side equals it. n = items.
    - ``agreement_three_class``: judge side against reference side, over items with both. Under
      ``tie_policy`` "strict" a tie is a third class (equal sides agree); "ignore" leaves out
      items whose reference side is 0; "half" scores a tie against a side, either way round, 0.5.
      n = items.
    - ``cohen_kappa``: unweighted Cohen's kappa, classes -1/0/1, judge side against reference
      side, over items with both ("ignore" leaves out reference ties). n = items.
    - ``weighted_kappa``: quadratic-weighted Cohen's kappa, classes -3..3, judge value against
      reference value, over items with both ("ignore" leaves out items whose reference side is
      0). n = items.
    - ``spearman``, ``kendall_tau_b``: rank correlation (ties share their mean rank; tau-b) of m
      with the reference mean, over items with both. n = items.
    - ``human_ceiling``: over (item, label) pairs where the majority side of the item's other
      labels (leave one out) exists and is not 0, the share where the label's side equals it.
      Gold does not enter. n = labels.
    - ``model_vs_loo_majority``: the same units on items with a verdict: the share where the
      judge side equals that leave-one-out majority, so the judge is held to the humans' terms.
      n = labels.
    """
    if tie_policy not in TIE_POLICIES:
        raise ValueError(f"tie_policy: expected one of {', '.join(TIE_POLICIES)}.")
    H = _labels(H)
    n = len(H)
    m = _verdicts(m, n, "m")
    gold = _gold(gold, n)
    counts = _value_counts(H)
    m_code = np.unique(m, return_inverse=True)[1].reshape(-1) if n else np.zeros(0, np.int64)
    table = _Table([*(counts[:, j] for j in range(len(VALUES))), _gold_code(gold), m_code])
    c, g, v = counts[table.first], gold[table.first], m[table.first]
    s = _side_counts(c)
    ref = _reference(c, g)
    judged = ~np.isnan(v)
    j_side = np.sign(v)
    j_value = np.clip(_round_half_away(v), -3, 3)

    decided = (s[:, 0] + s[:, 2]) * judged
    right = (s[:, 0] * (j_side == -1) + s[:, 2] * (j_side == 1)) * judged
    table.figure(
        "accuracy_without_ties",
        table.columns(right, decided),
        _ratio,
        units=decided,
    )
    sided = judged & (np.abs(ref.side) == 1)
    table.figure(
        "accuracy_majority_without_ties",
        table.columns(sided & (j_side == ref.side), sided),
        _ratio,
        units=sided,
    )

    kept = judged & ~np.isnan(ref.side)
    if tie_policy == "ignore":
        kept &= ref.side != 0
    score = (j_side == ref.side).astype(float)
    if tie_policy == "half":
        score[(j_side == 0) != (ref.side == 0)] = 0.5
    table.figure(
        "agreement_three_class",
        table.columns(score * kept, kept),
        _ratio,
        units=kept,
    )
    table.figure(
        "cohen_kappa",
        table.columns(_one_hot(ref.side + 1, j_side + 1, 3, kept)),
        _kappa(3, quadratic=False),
        units=kept,
    )
    valued = judged & ~np.isnan(ref.value)
    if tie_policy == "ignore":
        valued &= ref.side != 0
    table.figure(
        "weighted_kappa",
        table.columns(_one_hot(ref.value + 3, j_value + 3, 7, valued)),
        _kappa(7, quadratic=True),
        units=valued,
    )

    paired = judged & ~np.isnan(ref.mean)
    grid = _Grid(v, ref.mean, paired)
    cells = table.cells(grid.cell_of)
    table.figure("spearman", cells, grid.spearman, units=paired)
    table.figure("kendall_tau_b", cells, grid.kendall_tau_b, units=paired)

    loo = _leave_one_out(s)
    decisive = s * (np.abs(loo) == 1)
    compared = decisive.sum(axis=1)
    table.figure(
        "human_ceiling",
        table.columns((decisive * (loo == np.array(SIDES))).sum(axis=1), compared),
        _ratio,
        units=compared,
    )
    model_compared = compared * judged
    model_right = (decisive * (loo == j_side[:, None])).sum(axis=1) * judged
    table.figure(
        "model_vs_loo_majority",
        table.columns(model_right, model_compared),
        _ratio,
        units=model_compared,
    )
    return table.evaluate(boot)


def position(
    m_orig: np.ndarray,
    m_swap: np.ndarray,
    H: np.ndarray,
    gold: np.ndarray | None,
    *,
    boot: Bootstrap,
) -> dict[str, Figure]:
    """How a judge run in both orders fares in each, over the items with both verdicts present
    (as MT-Bench's "consistency", Zheng et al. 2023, and LLMBar's positional agreement and
    average accuracy, Zeng et al. 2023). ``n`` counts items.

    - ``accuracy_original`` / ``accuracy_swapped``: over those items whose reference side is -1
      or 1, the share where sign(m_orig) (resp. sign(m_swap)) equals it; a tie counts as wrong.
    - ``accuracy_average``: the mean of the two.
    - ``accuracy_both``: the share of those items where both orders are right.
    - ``consistency``: over all items with both verdicts (no reference needed), the share where
      sign(m_orig) equals sign(m_swap); a tie in both orders is consistent.
    """
    H = _labels(H)
    n = len(H)
    m_orig = _verdicts(m_orig, n, "m_orig")
    m_swap = _verdicts(m_swap, n, "m_swap")
    ref = _reference(_value_counts(H), _gold(gold, n))
    table = _Table([_side_code(ref.side), _side_code(m_orig), _side_code(m_swap)])
    side = ref.side[table.first]
    first, second = np.sign(m_orig[table.first]), np.sign(m_swap[table.first])
    both = ~np.isnan(first) & ~np.isnan(second)
    sided = both & (np.abs(side) == 1)
    right_first, right_second = sided & (first == side), sided & (second == side)
    accuracy = {
        "accuracy_original": right_first,
        "accuracy_swapped": right_second,
        "accuracy_average": (right_first + right_second.astype(float)) / 2,
        "accuracy_both": right_first & right_second,
    }
    for name, right in accuracy.items():
        table.figure(name, table.columns(right, sided), _ratio, units=sided)
    table.figure(
        "consistency",
        table.columns(both & (first == second), both),
        _ratio,
        units=both,
    )
    return table.evaluate(boot)


def self_consistency(samples: np.ndarray) -> dict:
    """Agreement of a judge's samples on the same item, over the items with at least two
    samples: ``items``, ``side_agreement`` (the share of them whose samples all have the same
    side) and ``mean_sd`` (the mean over them of the samples' population standard deviation).
    Both are None when no item has two samples."""
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        raise ValueError("samples: expected an (items, samples) array.")
    rows = samples[np.count_nonzero(~np.isnan(samples), axis=1) >= 2]
    if not len(rows):
        return {"items": 0, "side_agreement": None, "mean_sd": None}
    sides = np.sign(rows)
    same = np.nanmin(sides, axis=1) == np.nanmax(sides, axis=1)
    return {
        "items": len(rows),
        "side_agreement": float(same.mean()),
        "mean_sd": float(np.nanstd(rows, axis=1).mean()),
    }


def confusion(m: np.ndarray, H: np.ndarray, gold: np.ndarray | None) -> list[list[int]]:
    """3x3 counts of items with both a verdict and a reference side: rows are the reference side
    (-1, 0, 1), columns the judge side (-1, 0, 1)."""
    H = _labels(H)
    m = _verdicts(m, len(H), "m")
    side = reference(H, gold).side
    both = ~np.isnan(side) & ~np.isnan(m)
    cells = (side[both] + 1) * 3 + np.sign(m[both]) + 1
    return np.bincount(cells.astype(np.int64), minlength=9).reshape(3, 3).tolist()


def human_confusion(H: np.ndarray) -> list[list[int]]:
    """3x3 counts of unordered pairs of labels given to the same item, by the two labels' sides
    (-1, 0, 1): cell (a, b) is the number of pairs with one label on side a and the other on
    side b. The table is symmetric: a pair of different sides appears in both (a, b) and
    (b, a), a pair of equal sides once on the diagonal. So the number of pairs is the diagonal
    plus one triangle, and the diagonal's share of that is ``pairwise_agreement_with_ties``."""
    s = _side_counts(_value_counts(_labels(H))).astype(np.int64)
    out = np.einsum("ia,ib->ab", s, s)
    np.fill_diagonal(out, (s * (s - 1) // 2).sum(axis=0))
    return out.tolist()


def annotator_stats(H: np.ndarray, shown_swapped: np.ndarray | None) -> list[dict]:
    """Per annotator (column of H, in order):

    - ``labels``: how many items they labelled.
    - ``tie_rate``: share of their labels that are ties (None without labels).
    - ``first_position_rate``: over their labels that are not ties and whose shown order is
      known, the share preferring the response shown first (response 1, or response 2 where
      ``shown_swapped`` is 1). None when there is no such label. ``shown_swapped``: (n, A) of
      1.0 / 0.0 / NaN (unknown), or None when no order is known.
    - ``agreement_with_others``: over their labels where the majority side of the item's other
      labels (leave one out) exists and is not 0, the share whose side equals it (None when
      there is no such label). ``n_compared``: the number of those labels. Summed over
      annotators these are the units of ``human_ceiling``.
    """
    H = _labels(H)
    annotators = H.shape[1]
    if shown_swapped is None:
        shown_swapped = np.full(H.shape, np.nan)
    shown_swapped = np.asarray(shown_swapped, dtype=float)
    if shown_swapped.shape != H.shape:
        raise ValueError("shown_swapped: expected the shape of H.")
    if not np.isin(shown_swapped[~np.isnan(shown_swapped)], (0.0, 1.0)).all():
        raise ValueError("shown_swapped: expected 1, 0 or NaN.")
    loo = _leave_one_out(_side_counts(_value_counts(H)))
    out = []
    for column in range(annotators):
        label = H[:, column]
        has = ~np.isnan(label)
        side = np.sign(label[has]).astype(np.int64)
        swapped = shown_swapped[has, column]
        known = ~np.isnan(swapped) & (side != 0)
        first = np.where(swapped[known] == 1, side[known] == 1, side[known] == -1)
        majority = loo[np.flatnonzero(has), side + 1]
        compared = np.abs(majority) == 1
        out.append(
            {
                "labels": int(has.sum()),
                "tie_rate": _mean(side == 0),
                "first_position_rate": _mean(first),
                "agreement_with_others": _mean(side[compared] == majority[compared]),
                "n_compared": int(compared.sum()),
            }
        )
    return out


# -- Inputs ---------------------------------------------------------------------------------------


def _labels(H: np.ndarray) -> np.ndarray:
    H = np.asarray(H, dtype=float)
    if H.ndim != 2:
        raise ValueError("H: expected an (items, annotators) array.")
    _check_preferences(H, "H")
    return H


def _gold(gold: np.ndarray | None, n: int) -> np.ndarray:
    if gold is None:
        return np.full(n, np.nan)
    gold = np.asarray(gold, dtype=float)
    if gold.shape != (n,):
        raise ValueError(f"gold: expected {n} values, one per item.")
    _check_preferences(gold, "gold")
    return gold


def _check_preferences(x: np.ndarray, name: str) -> None:
    given = x[~np.isnan(x)]
    if not np.isin(given, VALUES).all():
        raise ValueError(f"{name}: expected whole numbers from -3 to 3, or NaN.")


def _verdicts(m: np.ndarray, n: int, name: str) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    if m.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, one per item.")
    if np.isinf(m).any():
        raise ValueError(f"{name}: expected numbers or NaN.")
    return m


# -- Per-item building blocks ---------------------------------------------------------------------


def _value_counts(H: np.ndarray) -> np.ndarray:
    """(n, 7) how many labels of each value -3..3 every item has."""
    counts = [np.count_nonzero(np.equal(H, v), axis=1) for v in VALUES]
    return np.stack(counts, axis=1).reshape(-1, len(VALUES))


def _side_counts(counts: np.ndarray) -> np.ndarray:
    """(n, 3) labels per side -1, 0, 1 from the value counts."""
    return np.stack(
        [counts[:, :3].sum(axis=1), counts[:, 3], counts[:, 4:].sum(axis=1)], axis=1
    ).reshape(-1, 3)


def _majority(side_counts: np.ndarray) -> np.ndarray:
    """The side with strictly the most votes per row, NaN when there is none."""
    top = side_counts.max(axis=1, initial=0)
    winners = np.count_nonzero(side_counts == top[:, None], axis=1)
    side = side_counts.argmax(axis=1).astype(float) - 1
    side[(winners != 1) | (top == 0)] = np.nan
    return side


def _leave_one_out(side_counts: np.ndarray) -> np.ndarray:
    """(n, 3): column j holds the majority side of an item's labels other than one label on side
    j - 1 (NaN when undefined, or when the item has no label on that side)."""
    out = np.full(side_counts.shape, np.nan)
    for j in range(3):
        others = side_counts.copy()
        others[:, j] -= 1
        has = side_counts[:, j] > 0
        out[has, j] = _majority(others[has])
    return out


def _reference(counts: np.ndarray, gold: np.ndarray) -> Reference:
    total = counts.sum(axis=1)
    labelled = total > 0
    # The median from the cumulative counts: the mean of the middle order statistics.
    cumulative = counts.cumsum(axis=1)
    low = np.count_nonzero(cumulative <= ((total - 1) // 2)[:, None], axis=1)
    high = np.count_nonzero(cumulative <= (total // 2)[:, None], axis=1)
    median = np.where(labelled, (low + high) / 2 - 3, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (counts * np.array(VALUES)).sum(axis=1) / total
    has_gold = ~np.isnan(gold)
    return Reference(
        side=np.where(has_gold, np.sign(gold), _majority(_side_counts(counts))),
        value=np.where(has_gold, gold, _round_half_away(median)),
        mean=np.where(has_gold, gold, np.where(labelled, mean, np.nan)),
    )


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _side_code(side: np.ndarray) -> np.ndarray:
    """0, 1, 2 for sides -1, 0, 1 of a preference; 3 for NaN."""
    return np.where(np.isnan(side), 3, np.sign(side) + 1).astype(np.int64)


def _gold_code(gold: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(gold), 7, gold + 3).astype(np.int64)


def _pairs(count: np.ndarray) -> np.ndarray:
    return count * (count - 1) / 2


def _one_hot(rows: np.ndarray, cols: np.ndarray, k: int, kept: np.ndarray) -> np.ndarray:
    """(n, k*k) one-hot of cell (row, col) for kept items (their NaNs are never read)."""
    out = np.zeros((len(rows), k * k))
    at = np.flatnonzero(kept)
    out[at, (rows[at] * k + cols[at]).astype(np.int64)] = 1.0
    return out


def _mean(flags: np.ndarray) -> float | None:
    return float(np.mean(flags)) if len(flags) else None


# -- Figures from summed statistics ---------------------------------------------------------------
# Each takes S, (replicates, columns): per-item statistics summed over the items with each
# replicate's weights (how many times it drew each item), and returns one value per replicate,
# NaN where the figure is undefined.


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _ratio(S: np.ndarray) -> np.ndarray:
    return _divide(S[:, 0], S[:, 1])


def _alpha_nominal(S: np.ndarray) -> np.ndarray:
    # Columns: coincidences o_cc of each side with itself, then the pairable labels per side.
    # All coincidences add up to the pairable labels, so the observed disagreement is what the
    # diagonal leaves.
    o_same, n_c = S[:, :3], S[:, 3:]
    total = n_c.sum(axis=1)
    observed = total - o_same.sum(axis=1)
    expected = _divide(total**2 - (n_c**2).sum(axis=1), total - 1)
    return 1 - _divide(observed, expected)


_UPPER = np.triu_indices(len(VALUES), k=1)


def _alpha_ordinal(S: np.ndarray) -> np.ndarray:
    # Columns: coincidences o_ck for c < k (the matrix is symmetric and its diagonal is at
    # distance 0, so one triangle serves both sums), then the pairable labels per value. The
    # ordinal distance depends on the value counts, so it is rebuilt for every replicate.
    c, k = _UPPER
    o, n_v = S[:, : len(c)], S[:, len(c) :]
    cumulative = n_v.cumsum(axis=1)
    between = cumulative[:, k] - cumulative[:, c] + n_v[:, c]
    delta = (between - (n_v[:, c] + n_v[:, k]) / 2) ** 2
    total = n_v.sum(axis=1)
    observed = (o * delta).sum(axis=1)
    expected = _divide((n_v[:, c] * n_v[:, k] * delta).sum(axis=1), total - 1)
    return 1 - _divide(observed, expected)


def _fleiss(k: int) -> Callable[[np.ndarray], np.ndarray]:
    def finish(S: np.ndarray) -> np.ndarray:
        # Columns: labels per side, P_i (the item's share of agreeing rater pairs), the item.
        items = S[:, 4]
        p_side = _divide(S[:, :3], (items * k)[:, None])
        p_mean = _divide(S[:, 3], items)
        p_expected = (p_side**2).sum(axis=1)
        return _divide(p_mean - p_expected, 1 - p_expected)

    return finish


def _kappa(k: int, *, quadratic: bool) -> Callable[[np.ndarray], np.ndarray]:
    index = np.arange(k)
    weights = (index[:, None] - index[None, :]) ** 2 if quadratic else 1 - np.eye(k)

    def finish(S: np.ndarray) -> np.ndarray:
        # Columns: the confusion table, reference (rows) by judge (columns), row-major.
        table = S.reshape(-1, k, k)
        total = table.sum(axis=(1, 2))
        expected = _divide(
            np.einsum("ra,rb,ab->r", table.sum(axis=2), table.sum(axis=1), weights), total
        )
        observed = np.einsum("rab,ab->r", table, weights)
        return 1 - _divide(observed, expected)

    return finish


class _Grid:
    """Rank correlations from the weighted contingency table of (distinct x, distinct y) cells.
    Items in one cell tie with each other on both variables, so the midranks, Spearman's rho and
    Kendall's tau-b of any reweighting of the items follow from the cells' weights alone.
    ``cell_of`` maps each type to its cell (-1: not counted); cells are numbered in (x, y)
    order. The finishing functions take T, (replicates, cells) of cell weights."""

    def __init__(self, x: np.ndarray, y: np.ndarray, counted: np.ndarray):
        x_index = np.unique(x[counted], return_inverse=True)[1].reshape(-1)
        y_index = np.unique(y[counted], return_inverse=True)[1].reshape(-1)
        self.p = int(x_index.max(initial=-1)) + 1
        self.q = int(y_index.max(initial=-1)) + 1
        cell_keys, cell = np.unique(x_index * self.q + y_index, return_inverse=True)
        self.cell_of = np.full(len(x), -1, dtype=np.int64)
        self.cell_of[counted] = cell.reshape(-1)
        self.x, self.y = np.divmod(cell_keys, max(self.q, 1))
        self._x_starts = np.flatnonzero(np.r_[True, np.diff(self.x) != 0])
        self._y_order = np.argsort(self.y, kind="stable")
        self._y_starts = np.flatnonzero(np.r_[True, np.diff(self.y[self._y_order]) != 0])

    def _margins(self, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weight of each distinct x, and of each distinct y, in increasing order."""
        if not T.shape[1]:
            return np.zeros((len(T), 0)), np.zeros((len(T), 0))
        rows = np.add.reduceat(T, self._x_starts, axis=1)
        cols = np.add.reduceat(T[:, self._y_order], self._y_starts, axis=1)
        return rows, cols

    def spearman(self, T: np.ndarray) -> np.ndarray:
        rows, cols = self._margins(T)
        centre = (T.sum(axis=1, keepdims=True) + 1) / 2
        # Midrank of each distinct value (ranks before it, plus the mean of its own), centred on
        # the mean rank so the sums below need no correction.
        rank_x = rows.cumsum(axis=1) - rows + (rows + 1) / 2 - centre
        rank_y = cols.cumsum(axis=1) - cols + (cols + 1) / 2 - centre
        covariance = (T * rank_x[:, self.x] * rank_y[:, self.y]).sum(axis=1)
        var_x = (rows * rank_x**2).sum(axis=1)
        var_y = (cols * rank_y**2).sum(axis=1)
        return _divide(covariance, np.sqrt(var_x * var_y))

    def kendall_tau_b(self, T: np.ndarray) -> np.ndarray:
        rows, cols = self._margins(T)
        total = T.sum(axis=1)
        pairs = total * (total - 1) / 2
        untied_x = pairs - (rows * (rows - 1) / 2).sum(axis=1)
        untied_y = pairs - (cols * (cols - 1) / 2).sum(axis=1)
        valid = (untied_x > 0) & (untied_y > 0)
        return _divide(self._net_concordance(T, rows, cols), np.sqrt(untied_x * untied_y * valid))

    def _net_concordance(self, T: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Concordant minus discordant pairs of items. Walk the grid one line at a time along
        its shorter side; in each line, every cell's weight is multiplied by the weight beyond it
        along the longer side (strictly larger value) in the lines after it minus that in the
        lines before it. Memory is one line per replicate, time the grid's size."""
        if self.p >= self.q:
            along, across, margin, lines = self.x, self.y, rows, self.q
        else:
            along, across, margin, lines = self.y, self.x, cols, self.p
        # Beyond each value along the longer side, over all lines.
        beyond_all = margin[:, ::-1].cumsum(axis=1)[:, ::-1] - margin
        order = np.argsort(across, kind="stable")
        bounds = np.searchsorted(across[order], np.arange(lines + 1))
        net = np.zeros(len(T))
        step = max(1, _GRID_CELLS // max(margin.shape[1], 1))
        for start in range(0, len(T), step):
            block, everywhere = T[start : start + step], beyond_all[start : start + step]
            so_far = np.zeros_like(everywhere)  # beyond-weights of the lines up to this one
            for line in range(lines):
                cells = order[bounds[line] : bounds[line + 1]]
                at = along[cells]
                weight = np.zeros_like(everywhere)
                weight[:, at] = block[:, cells]
                beyond = weight[:, ::-1].cumsum(axis=1)[:, ::-1] - weight
                so_far += beyond
                signed = everywhere[:, at] - 2 * so_far[:, at] + beyond[:, at]
                net[start : start + step] += (block[:, cells] * signed).sum(axis=1)
        return net


# -- Types, resamples, intervals ------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    columns: slice
    finish: Callable[[np.ndarray], np.ndarray]
    n: int
    items: int


class _Table:
    """The per-type statistics of one call and the figures read from them.

    Items with equal ``keys`` (non-negative integer arrays, one value per item) are one type.
    Every statistic of the call must be a function of the keys: it is computed once per type,
    on the type's first item (``first``), and weighted by how many times the type is drawn."""

    def __init__(self, keys: list[np.ndarray]):
        self.type_of, self.first, self.sizes = _group(keys)
        self._blocks: list[np.ndarray] = [np.zeros((len(self.first), 0))]
        self._width = 0
        self._cell_types = np.zeros(0, dtype=np.int64)  # types in cell order
        self._cell_starts = np.zeros(0, dtype=np.int64)  # where each cell's types start
        self._specs: dict[str, _Spec] = {}

    def columns(self, *stats: np.ndarray) -> slice:
        """Add per-type statistics (each (types,) or (types, k)); returns their columns."""
        block = np.column_stack([np.asarray(x, dtype=float) for x in stats])
        self._blocks.append(block)
        start, self._width = self._width, self._width + block.shape[1]
        return slice(start, self._width)

    def cells(self, cell_of: np.ndarray) -> slice:
        """Add the weight of each cell (each type is in one cell, or -1 for none); returns
        their columns. Once per table at most: they come after all the other columns."""
        counted = np.flatnonzero(cell_of >= 0)
        self._cell_types = counted[np.argsort(cell_of[counted], kind="stable")]
        self._cell_starts = np.flatnonzero(np.r_[True, np.diff(cell_of[self._cell_types]) != 0])
        cells = len(self._cell_starts) if len(counted) else 0
        return slice(-cells, None) if cells else slice(0, 0)

    def figure(self, name: str, columns: slice, finish: Callable, *, units: np.ndarray) -> None:
        """A figure read from ``columns`` by ``finish``; ``units`` per type (labels or items it
        counts) give its n and the number of items that contribute."""
        units = np.asarray(units, dtype=float)
        self._specs[name] = _Spec(
            columns=columns,
            finish=finish,
            n=int((self.sizes * units).sum()),
            items=int((self.sizes * (units > 0)).sum()),
        )

    def evaluate(self, boot: Bootstrap) -> dict[str, Figure]:
        dense = np.hstack(self._blocks)

        def sums(weights: np.ndarray) -> np.ndarray:
            # einsum, not a BLAS product: the products are small and many, and BLAS threads
            # that wait for a busy core (a worker next to other work) made them ten times
            # slower.
            out = np.einsum("rt,tk->rk", weights, dense)
            if not len(self._cell_types):
                return out
            cells = np.add.reduceat(weights[:, self._cell_types], self._cell_starts, axis=1)
            return np.hstack([out, cells])

        point = sums(self.sizes[None, :].astype(float))
        values = {
            name: _finite(spec.finish(point[:, spec.columns])[0])
            for name, spec in self._specs.items()
        }
        wanted = [
            name
            for name, spec in self._specs.items()
            if values[name] is not None and spec.items >= 2 and boot.resamples > 0
        ]
        replicates: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        if wanted:
            for weights in _type_weights(self.type_of, len(self.first), boot):
                chunk = sums(weights)
                for name in wanted:
                    spec = self._specs[name]
                    replicates[name].append(spec.finish(chunk[:, spec.columns]))
        out = {}
        for name, spec in self._specs.items():
            low = high = None
            if name in replicates:
                low, high = _interval(np.concatenate(replicates[name]), boot)
            out[name] = Figure(value=values[name], ci_low=low, ci_high=high, n=spec.n)
        return out


def _group(keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(type of each item, first item of each type, items per type)."""
    n = len(keys[0])
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for column in keys:
        size = int(column.max()) + 1
        span *= size
        if span >= 2**62:
            # Too many combinations for one integer key: group the rows instead.
            _, first, type_of, sizes = np.unique(
                np.column_stack(keys), axis=0, return_index=True, return_inverse=True,
                return_counts=True,
            )  # fmt: skip
            break
        key = key * size + column
    else:
        _, first, type_of, sizes = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
    type_of = type_of.reshape(-1)
    # A small index type makes the gather of drawn items' types, the hottest loop, cheaper.
    small = np.int16 if len(first) <= np.iinfo(np.int16).max else np.int32
    return type_of.astype(small), first, sizes


def _draws(n: int, boot: Bootstrap) -> Iterator[np.ndarray]:
    """The drawn item indices of every resample, (resamples in chunk, n), chunk by chunk."""
    rng = np.random.default_rng(boot.seed)
    rows = max(1, _DRAWS_PER_CHUNK // max(n, 1))
    dtype = np.int32 if n <= np.iinfo(np.int32).max else np.int64
    for start in range(0, boot.resamples, rows):
        yield rng.integers(0, n, size=(min(rows, boot.resamples - start), n), dtype=dtype)


def _type_weights(type_of: np.ndarray, types: int, boot: Bootstrap) -> Iterator[np.ndarray]:
    """W, chunk by chunk: how many times each resample drew an item of each type."""
    for drawn in _draws(len(type_of), boot):
        drawn_types = type_of[drawn]
        weights = np.empty((len(drawn), types))
        # One bincount per resample: its counters stay in cache, which a single bincount over
        # the whole chunk (with row offsets) does not, and it is about three times faster.
        for row, counted in zip(weights, drawn_types, strict=True):
            row[:] = np.bincount(counted, minlength=types)
        yield weights


def _interval(replicates: np.ndarray, boot: Bootstrap) -> tuple[float | None, float | None]:
    defined = replicates[np.isfinite(replicates)]
    if not len(defined) or 2 * len(defined) < boot.resamples:
        return None, None
    tail = (1 - boot.confidence) / 2
    low, high = np.quantile(defined, [tail, 1 - tail])
    return float(low), float(high)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
