"""The agreement figures (judgeapp/reports/metrics.py) against the reference libraries
(krippendorff, statsmodels, scikit-learn, scipy) and against plain loops written straight from
the definitions; the bootstrap replicates against the same on the explicitly resampled items;
edge cases; the draws. No database."""

import itertools
import math
import statistics
import sys
import warnings
from collections import Counter

import krippendorff
import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from judgeapp.reports import metrics
from judgeapp.reports.metrics import Bootstrap, Figure
from tests.imports import top_level_imports

NAN = np.nan
PROPERTY = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow], database=None
)
HUMAN_KEYS = [
    "krippendorff_alpha_nominal",
    "krippendorff_alpha_ordinal",
    "fleiss_kappa",
    "pairwise_agreement_with_ties",
    "pairwise_agreement_without_ties",
]
JUDGE_KEYS = [
    "accuracy_without_ties",
    "accuracy_majority_without_ties",
    "agreement_three_class",
    "cohen_kappa",
    "weighted_kappa",
    "spearman",
    "kendall_tau_b",
    "human_ceiling",
    "model_vs_loo_majority",
]
POSITION_KEYS = [
    "accuracy_original",
    "accuracy_swapped",
    "accuracy_average",
    "accuracy_both",
    "consistency",
]


# -- Reference implementations: loops over items, straight from the definitions --------------------


def sign(x: float) -> int:
    return int(x > 0) - int(x < 0)


def majority(sides: list[int]) -> int | None:
    counts = Counter(sides)
    if not counts:
        return None
    top = max(counts.values())
    winners = [side for side, count in counts.items() if count == top]
    return winners[0] if len(winners) == 1 else None


def round_half_away(x: float) -> float:
    return math.copysign(math.floor(abs(x) + 0.5), x)


def labels_of(row) -> list[float]:
    return [float(x) for x in row if not math.isnan(x)]


def ref_of(row, gold: float) -> tuple[int | None, float | None, float | None]:
    """(side, value, mean) of one item."""
    if not math.isnan(gold):
        return sign(gold), gold, gold
    labels = labels_of(row)
    if not labels:
        return None, None, None
    side = majority([sign(x) for x in labels])
    return side, round_half_away(statistics.median(labels)), statistics.mean(labels)


def loo_units(row):
    """(label side, leave-one-out majority side) for every label whose others' majority exists
    and is not 0."""
    labels = labels_of(row)
    out = []
    for j, label in enumerate(labels):
        loo = majority([sign(x) for i, x in enumerate(labels) if i != j])
        if loo in (-1, 1):
            out.append((sign(label), loo))
    return out


def share(hits: list[float]) -> tuple[float | None, int]:
    return (sum(hits) / len(hits) if hits else None), len(hits)


def finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def quiet(function, *args, **kwargs):
    """A library's value, None where it declares the figure undefined (NaN, inf)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return finite(function(*args, **kwargs))


def fleiss_count(H) -> int | None:
    """The commonest number of labels among items with two or more (ties: the larger)."""
    counts = Counter(len(labels_of(row)) for row in H if len(labels_of(row)) >= 2)
    if not counts:
        return None
    top = max(counts.values())
    return max(c for c, times in counts.items() if times == top)


def expected_human(H, k: int | None = None) -> dict[str, tuple[float | None, int]]:
    """``k``: the number of labels of Fleiss' items; by default the commonest."""
    H = np.asarray(H, dtype=float)
    per_item = [labels_of(row) for row in H]
    pairable = sum(len(labels) >= 2 for labels in per_item)
    out = {}
    for key, data, level, domain in (
        ("krippendorff_alpha_nominal", np.sign(H), "nominal", [-1, 0, 1]),
        ("krippendorff_alpha_ordinal", H, "ordinal", list(range(-3, 4))),
    ):
        value = None
        if pairable:
            value = quiet(
                krippendorff.alpha,
                reliability_data=data.T,
                level_of_measurement=level,
                value_domain=domain,
            )
        out[key] = (value, pairable)

    k = fleiss_count(H) if k is None else k
    fleiss = (None, 0)
    if k is not None:
        table = [
            [sum(sign(x) == side for x in labels) for side in (-1, 0, 1)]
            for labels in per_item
            if len(labels) == k
        ]
        if table:
            fleiss = (quiet(fleiss_kappa, np.array(table)), len(table))
    out["fleiss_kappa"] = fleiss

    with_ties, without_ties = [], []
    items_with, items_without = 0, 0
    for labels in per_item:
        sides = [sign(x) for x in labels]
        pairs = list(itertools.combinations(sides, 2))
        with_ties += [a == b for a, b in pairs]
        items_with += bool(pairs)
        decided = [(a, b) for a, b in itertools.combinations([s for s in sides if s], 2)]
        without_ties += [a == b for a, b in decided]
        items_without += bool(decided)
    out["pairwise_agreement_with_ties"] = (share(with_ties)[0], items_with)
    out["pairwise_agreement_without_ties"] = (share(without_ties)[0], items_without)
    return out


def expected_judge(m, H, gold, policy: str) -> dict[str, tuple[float | None, int]]:
    H = np.asarray(H, dtype=float)
    right_labels, right_items, agreement = [], [], []
    kappa_ref, kappa_judge, value_ref, value_judge, xs, ys = [], [], [], [], [], []
    ceiling, model = [], []
    for row, g, v in zip(H, gold, m, strict=True):
        side, value, mean = ref_of(row, g)
        units = loo_units(row)
        ceiling += [label == loo for label, loo in units]
        if math.isnan(v):
            continue
        judge = sign(v)
        right_labels += [judge == sign(x) for x in labels_of(row) if sign(x) != 0]
        if side in (-1, 1):
            right_items.append(judge == side)
        if side is not None and not (policy == "ignore" and side == 0):
            if judge == side:
                agreement.append(1.0)
            elif policy == "half" and (judge == 0) != (side == 0):
                agreement.append(0.5)
            else:
                agreement.append(0.0)
            kappa_ref.append(side)
            kappa_judge.append(judge)
        if value is not None and not (policy == "ignore" and side == 0):
            value_ref.append(value)
            value_judge.append(min(3.0, max(-3.0, round_half_away(v))))
        if mean is not None:
            xs.append(v)
            ys.append(mean)
        model += [judge == loo for _, loo in units]

    def kappa(a, b, labels, weights=None):
        if not a:
            return None
        return quiet(cohen_kappa_score, a, b, labels=labels, weights=weights)

    def correlation(function):
        if len(xs) < 2:
            return None
        return quiet(lambda: function(xs, ys).statistic)

    return {
        "accuracy_without_ties": share(right_labels),
        "accuracy_majority_without_ties": share(right_items),
        "agreement_three_class": share(agreement),
        "cohen_kappa": (kappa(kappa_ref, kappa_judge, [-1, 0, 1]), len(kappa_ref)),
        "weighted_kappa": (
            kappa(value_ref, value_judge, list(range(-3, 4)), "quadratic"),
            len(value_ref),
        ),
        "spearman": (correlation(scipy.stats.spearmanr), len(xs)),
        "kendall_tau_b": (
            correlation(lambda x, y: scipy.stats.kendalltau(x, y, variant="b")),
            len(xs),
        ),
        "human_ceiling": share(ceiling),
        "model_vs_loo_majority": share(model),
    }


def expected_position(m_orig, m_swap, H, gold) -> dict[str, tuple[float | None, int]]:
    H = np.asarray(H, dtype=float)
    first, second, average, both, consistent = [], [], [], [], []
    for row, g, a, b in zip(H, gold, m_orig, m_swap, strict=True):
        if math.isnan(a) or math.isnan(b):
            continue
        consistent.append(sign(a) == sign(b))
        side = ref_of(row, g)[0]
        if side in (-1, 1):
            first.append(sign(a) == side)
            second.append(sign(b) == side)
            average.append(((sign(a) == side) + (sign(b) == side)) / 2)
            both.append(sign(a) == side and sign(b) == side)
    return {
        "accuracy_original": share(first),
        "accuracy_swapped": share(second),
        "accuracy_average": share(average),
        "accuracy_both": share(both),
        "consistency": share(consistent),
    }


def assert_matches(got: dict[str, Figure], expected: dict, *, check_n: bool = True) -> None:
    assert list(got) == list(expected)
    for key, (value, n) in expected.items():
        figure = got[key]
        if check_n:
            assert figure.n == n, key
        if value is None:
            assert figure.value is None, key
        else:
            assert figure.value == pytest.approx(value, abs=1e-9), key


# -- Generated data ---------------------------------------------------------------------------------


def generated(seed: int, n: int = 90, annotators: int = 5) -> dict:
    """Labels from noisy annotators with missing labels (so unequal counts per item), items with
    none and with one, ties, gold on some items, a judge averaged over two orders (so halves),
    missing verdicts and missing orders."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(0, 1.6, n)
    H = np.clip(np.rint(truth[:, None] + rng.normal(0, 1.3, (n, annotators))), -3, 3)
    H[rng.random((n, annotators)) < 0.35] = NAN
    H[:3] = NAN
    H[3, 1:] = NAN
    H[4] = 0.0
    gold = np.full(n, NAN)
    adjudicated = rng.random(n) < 0.15
    gold[adjudicated] = np.clip(np.rint(truth[adjudicated] + rng.normal(0, 0.5)), -3, 3)
    m_orig = np.clip(np.rint(truth + 0.4 + rng.normal(0, 1.2, n)), -3, 3)
    m_swap = np.clip(np.rint(truth - 0.4 + rng.normal(0, 1.2, n)), -3, 3)
    m_orig[rng.random(n) < 0.08] = NAN
    m_swap[rng.random(n) < 0.08] = NAN
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = np.nanmean(np.stack([m_orig, m_swap]), axis=0)
    return {"H": H, "gold": gold, "m": m, "m_orig": m_orig, "m_swap": m_swap}


def all_figures(data: dict, boot: Bootstrap, policy: str = "strict") -> dict[str, dict]:
    return {
        "human": metrics.human_human(data["H"], boot=boot),
        "judge": metrics.judge_vs_humans(
            data["m"], data["H"], data["gold"], tie_policy=policy, boot=boot
        ),
        "position": metrics.position(
            data["m_orig"], data["m_swap"], data["H"], data["gold"], boot=boot
        ),
    }


def all_expected(data: dict, policy: str = "strict", k: int | None = None) -> dict[str, dict]:
    return {
        "human": expected_human(data["H"], k),
        "judge": expected_judge(data["m"], data["H"], data["gold"], policy),
        "position": expected_position(data["m_orig"], data["m_swap"], data["H"], data["gold"]),
    }


def resampled(data: dict, drawn: np.ndarray) -> dict:
    # np.repeat of the items by how many times the resample drew each: the order of the items
    # does not enter any figure, so this is the resample itself.
    counts = np.bincount(drawn, minlength=len(data["H"]))
    return {key: np.repeat(value, counts, axis=0) for key, value in data.items()}


# -- The module -------------------------------------------------------------------------------------


def test_module_imports_numpy_and_the_standard_library_only():
    imported = top_level_imports(metrics)
    assert "django" not in imported
    assert imported <= set(sys.stdlib_module_names) | {"numpy"}


def test_figure_as_dict_keeps_full_floats():
    figure = Figure(value=1 / 3, ci_low=0.1234567890123456, ci_high=None, n=7)
    assert figure.as_dict() == {
        "value": 1 / 3,
        "ci_low": 0.1234567890123456,
        "ci_high": None,
        "n": 7,
    }


@pytest.mark.parametrize(
    "kwargs", [{"resamples": -1}, {"resamples": 1.5}, {"seed": -1}, {"confidence": 1.0}]
)
def test_bootstrap_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Bootstrap(**kwargs)


# -- Reference -----------------------------------------------------------------------------------


def test_reference_by_hand():
    H = np.array(
        [
            [1, 2, NAN],  # side 1; median 1.5 rounds away from zero to 2
            [-1, 1, NAN],  # no strict majority; median 0
            [0, 0, 3],  # ties win; median 0, mean 1
            [NAN, NAN, NAN],  # nothing
            [-2, -1, NAN],  # gold 1 overrides everything
            [-3, NAN, NAN],
            [-1, -2, 0],
            [0, -1, NAN],  # no strict majority; median -0.5 rounds to -1
        ]
    )
    gold = np.array([NAN, NAN, NAN, NAN, 1, NAN, NAN, NAN])
    ref = metrics.reference(H, gold)
    np.testing.assert_array_equal(ref.side, [1, NAN, 0, NAN, 1, -1, -1, NAN])
    np.testing.assert_array_equal(ref.value, [2, 0, 0, NAN, 1, -3, -1, -1])
    np.testing.assert_allclose(ref.mean, [1.5, 0, 1, NAN, 1, -3, -1, -0.5], atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_reference_matches_the_loops(seed):
    data = generated(seed)
    ref = metrics.reference(data["H"], data["gold"])
    for i, (row, g) in enumerate(zip(data["H"], data["gold"], strict=True)):
        side, value, mean = ref_of(row, g)
        assert (np.nan if side is None else side) == pytest.approx(ref.side[i], nan_ok=True)
        assert (np.nan if value is None else value) == pytest.approx(ref.value[i], nan_ok=True)
        assert (np.nan if mean is None else mean) == pytest.approx(ref.mean[i], nan_ok=True)


# -- Point estimates against the libraries and the loops ----------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("policy", metrics.TIE_POLICIES)
def test_point_estimates_match_the_reference_libraries(seed, policy):
    data = generated(seed)
    got = all_figures(data, Bootstrap(resamples=0), policy)
    expected = all_expected(data, policy)
    for group in got:
        assert_matches(got[group], expected[group])
        assert all(f.ci_low is None and f.ci_high is None for f in got[group].values())


def test_generated_data_exercise_every_figure():
    # So the comparisons above compare numbers, not Nones.
    got = all_figures(generated(0), Bootstrap(resamples=0))
    for group in got.values():
        for key, figure in group.items():
            assert figure.value is not None, key
            assert figure.n >= 10, key


def test_correlations_with_many_distinct_verdicts():
    # Continuous verdicts make a cell per item; the exact computation still holds.
    data = generated(7, n=300)
    rng = np.random.default_rng(7)
    data["m"] = rng.normal(0, 1.5, len(data["m"]))
    got = metrics.judge_vs_humans(data["m"], data["H"], data["gold"], boot=Bootstrap(0))
    expected = expected_judge(data["m"], data["H"], data["gold"], "strict")
    for key in ("spearman", "kendall_tau_b"):
        assert got[key].value == pytest.approx(expected[key][0], abs=1e-9)


# -- Bootstrap replicates against the libraries on resampled items --------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_a_replicate_equals_the_libraries_on_its_resample(seed):
    # With one resample the interval collapses to that replicate's value.
    data = generated(seed)
    boot = Bootstrap(resamples=1, seed=seed)
    (drawn,) = next(metrics._draws(len(data["H"]), boot))
    got = all_figures(data, boot)
    # Fleiss' items are those with the commonest number of labels in the data as given; a
    # resample keeps that number.
    expected = all_expected(resampled(data, drawn), k=fleiss_count(data["H"]))
    compared = 0
    for group in got:
        for key, figure in got[group].items():
            value = expected[group][key][0]
            if value is None:
                assert figure.ci_low is figure.ci_high is None, key
            else:
                assert figure.ci_low == pytest.approx(value, abs=1e-9), key
                assert figure.ci_high == pytest.approx(value, abs=1e-9), key
                compared += 1
    assert compared == len(HUMAN_KEYS) + len(JUDGE_KEYS) + len(POSITION_KEYS)


@pytest.mark.parametrize("policy", metrics.TIE_POLICIES)
def test_intervals_are_percentiles_of_the_libraries_over_the_resamples(monkeypatch, policy):
    # Small chunks, so the resamples span several chunks as they do at scale.
    monkeypatch.setattr(metrics, "_DRAWS_PER_CHUNK", 7 * 60)
    data = generated(11, n=60)
    boot = Bootstrap(resamples=41, seed=5, confidence=0.9)
    got = all_figures(data, boot, policy)
    draws = np.concatenate(list(metrics._draws(60, boot)))
    assert draws.shape == (41, 60)
    k = fleiss_count(data["H"])
    replicates = [all_expected(resampled(data, drawn), policy, k) for drawn in draws]
    for group in got:
        for key, figure in got[group].items():
            values = [r[group][key][0] for r in replicates]
            defined = [v for v in values if v is not None]
            assert 2 * len(defined) >= boot.resamples, key
            low, high = np.quantile(defined, [0.05, 0.95])
            assert figure.ci_low == pytest.approx(low, abs=1e-9), key
            assert figure.ci_high == pytest.approx(high, abs=1e-9), key


@pytest.mark.parametrize("n", [1, 13, 250_001])
def test_draws_are_one_stream_whatever_the_chunks(monkeypatch, n):
    boot = Bootstrap(resamples=9, seed=3)
    whole = np.random.default_rng(3).integers(0, n, size=(9, n), dtype=np.int32)
    for chunk in (1, 2 * n, 5 * n, 10**9):
        monkeypatch.setattr(metrics, "_DRAWS_PER_CHUNK", chunk)
        np.testing.assert_array_equal(np.concatenate(list(metrics._draws(n, boot))), whole)


def test_same_seed_same_intervals_and_another_seed_others():
    data = generated(2)
    first = all_figures(data, Bootstrap(resamples=200, seed=1))
    again = all_figures(data, Bootstrap(resamples=200, seed=1))
    other = all_figures(data, Bootstrap(resamples=200, seed=2))
    assert first == again
    for group in first:
        for key, figure in first[group].items():
            assert figure.value == other[group][key].value
            assert (figure.ci_low, figure.ci_high) != (
                other[group][key].ci_low,
                other[group][key].ci_high,
            ), key


def test_intervals_bracket_the_value_on_a_well_behaved_sample():
    data = generated(3, n=400)
    for group in all_figures(data, Bootstrap(resamples=500, seed=0)).values():
        for key, figure in group.items():
            assert figure.ci_low < figure.value < figure.ci_high, key
            assert figure.ci_high - figure.ci_low < 0.5, key


def generated_judge(n: int) -> tuple:
    data = generated(5, n=n)
    return data["m"], data["H"], data["gold"]


def test_intervals_narrow_as_the_sample_grows():
    small = metrics.judge_vs_humans(*generated_judge(200), boot=Bootstrap(300))
    large = metrics.judge_vs_humans(*generated_judge(3200), boot=Bootstrap(300))
    for key in JUDGE_KEYS:
        width = small[key].ci_high - small[key].ci_low
        assert large[key].ci_high - large[key].ci_low < width / 2, key


def test_interval_is_none_when_most_resamples_leave_the_figure_undefined():
    # The rank correlation needs both the one item whose verdict differs and the one item whose
    # reference differs; a resample holds both with probability about (1 - 1/e)^2 < 1/2.
    n = 200
    H = np.full((n, 1), 1.0)
    H[0, 0] = -1.0
    m = np.full(n, 2.0)
    m[1] = -2.0
    got = metrics.judge_vs_humans(m, H, None, boot=Bootstrap(resamples=1000, seed=0))
    assert got["spearman"].value is not None
    assert got["spearman"].ci_low is got["spearman"].ci_high is None
    # Accuracy is defined in every resample and keeps its interval.
    assert got["accuracy_majority_without_ties"].ci_low is not None


def test_interval_is_none_with_a_single_contributing_item():
    H = np.array([[1, 1, 1], [NAN, NAN, NAN], [NAN, NAN, NAN]])
    got = metrics.judge_vs_humans(
        np.array([1.0, 1.0, -1.0]), H, None, boot=Bootstrap(resamples=100)
    )
    figure = got["accuracy_without_ties"]
    assert (figure.value, figure.n) == (1.0, 3)
    assert figure.ci_low is figure.ci_high is None


def test_figures_do_not_depend_on_the_order_of_the_items():
    data = generated(9)
    order = np.random.default_rng(0).permutation(len(data["H"]))
    shuffled = {key: value[order] for key, value in data.items()}
    got, again = all_figures(data, Bootstrap(0)), all_figures(shuffled, Bootstrap(0))
    for group in got:
        for key in got[group]:
            assert got[group][key].n == again[group][key].n
            assert got[group][key].value == pytest.approx(again[group][key].value, abs=1e-12)


# -- By hand ------------------------------------------------------------------------------------------

# Reference sides 1, 0, 0, -1 and undefined (1 against -1); judge sides 1, 0, 1, 0, 1.
HAND_H = np.array([[1, 1, NAN], [0, 0, NAN], [0, NAN, NAN], [-2, -1, NAN], [1, -1, NAN]])
HAND_M = np.array([2.0, 0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("policy", "agreement", "n"), [("strict", 2 / 4, 4), ("ignore", 1 / 2, 2), ("half", 3 / 4, 4)]
)
def test_tie_policies_by_hand(policy, agreement, n):
    got = metrics.judge_vs_humans(HAND_M, HAND_H, None, tie_policy=policy, boot=Bootstrap(0))
    # strict: items 1 and 2 agree (1 = 1, tie = tie); half adds 0.5 for item 3 (a side against
    # a tie) and item 4 (a tie against a side); ignore keeps items 1 and 4.
    assert (got["agreement_three_class"].value, got["agreement_three_class"].n) == (agreement, n)
    if policy == "ignore":
        expected = cohen_kappa_score([1, -1], [1, 0], labels=[-1, 0, 1])
    else:
        expected = cohen_kappa_score([1, 0, 0, -1], [1, 0, 1, 0], labels=[-1, 0, 1])
    assert got["cohen_kappa"].value == pytest.approx(expected, abs=1e-12)


def test_label_accuracy_and_leave_one_out_by_hand():
    got = metrics.judge_vs_humans(HAND_M, HAND_H, None, boot=Bootstrap(0))
    # Labels that are not ties: item 1's two 1s (judge 1: right, right), item 4's -2 and -1
    # (judge tie: wrong, wrong), item 5's 1 and -1 (judge 1: right, wrong).
    assert (got["accuracy_without_ties"].value, got["accuracy_without_ties"].n) == (3 / 6, 6)
    # Items with a reference side of 1 or -1: item 1 (right), item 4 (judge tie: wrong).
    assert got["accuracy_majority_without_ties"].value == 1 / 2
    # Leave one out: item 1, each label's other is 1 (2 right); item 2's others are ties and
    # item 3 has no other (no units); item 4, others -1 and -2 (2 right); item 5, each label's
    # other is the opposite side (2 wrong).
    assert (got["human_ceiling"].value, got["human_ceiling"].n) == (4 / 6, 6)
    # The judge against the same majorities: 1, 1 (right); -1, -1 (tie: wrong); -1, 1 (judge 1:
    # one right).
    assert (got["model_vs_loo_majority"].value, got["model_vs_loo_majority"].n) == (3 / 6, 6)


def test_confusion_by_hand():
    # Rows: reference side -1, 0, 1; columns: judge side. Item 5 has no reference side.
    assert metrics.confusion(HAND_M, HAND_H, None) == [[0, 1, 0], [0, 1, 1], [0, 0, 1]]
    # Gold turns item 5 into a reference -1 judged 1.
    gold = np.array([NAN, NAN, NAN, NAN, -3])
    assert metrics.confusion(HAND_M, HAND_H, gold) == [[0, 1, 1], [0, 1, 1], [0, 0, 1]]


def test_human_confusion_counts_each_unordered_pair_once():
    H = np.array([[1, 2, -1, 0], [0, NAN, NAN, NAN], [-3, -3, NAN, NAN]])
    # Item 1: (1, 2) same side; 1 and 2 each against -1 and against 0; (-1, 0). Item 3: (-3, -3).
    assert metrics.human_confusion(H) == [[1, 1, 2], [1, 0, 2], [2, 2, 1]]


@pytest.mark.parametrize("seed", range(3))
def test_human_confusion_agrees_with_pairwise_agreement(seed):
    H = generated(seed)["H"]
    table = np.array(metrics.human_confusion(H))
    assert (table == table.T).all()
    pairs = np.trace(table) + np.triu(table, k=1).sum()
    expected = expected_human(H)["pairwise_agreement_with_ties"][0]
    assert np.trace(table) / pairs == pytest.approx(expected, abs=1e-12)


def test_annotator_stats_by_hand():
    H = np.array([[1, 1, -1], [-2, 0, NAN], [0, 0, 0], [3, NAN, 2]])
    shown_swapped = np.array([[0, 1, NAN], [1, 0, 0], [0, 0, 0], [NAN, NAN, 1]])
    assert metrics.annotator_stats(H, shown_swapped) == [
        # First position: item 1 prefers response 2 shown second, item 2 response 1 shown
        # second; item 4's order is unknown. Against the others: item 1's others split, items 2
        # and 3 have tie majorities, item 4's other (2) agrees.
        {
            "labels": 4,
            "tie_rate": 0.25,
            "first_position_rate": 0.0,
            "agreement_with_others": 1.0,
            "n_compared": 1,
        },
        # Item 1: response 2 shown first and preferred. Item 2: the other says -2, this a tie.
        {
            "labels": 3,
            "tie_rate": 2 / 3,
            "first_position_rate": 1.0,
            "agreement_with_others": 0.0,
            "n_compared": 1,
        },
        # Item 4: response 2 shown first and preferred. Item 1: others say 1, this -1; item 4:
        # the other says 3, this 2.
        {
            "labels": 3,
            "tie_rate": 1 / 3,
            "first_position_rate": 1.0,
            "agreement_with_others": 0.5,
            "n_compared": 2,
        },
    ]
    ceiling = metrics.judge_vs_humans(np.zeros(4), H, None, boot=Bootstrap(0))["human_ceiling"]
    assert ceiling.n == 4 and ceiling.value == 2 / 4


@pytest.mark.parametrize("seed", range(3))
def test_annotator_stats_add_up_to_the_human_ceiling(seed):
    data = generated(seed)
    rows = metrics.annotator_stats(data["H"], None)
    ceiling = metrics.judge_vs_humans(data["m"], data["H"], None, boot=Bootstrap(0))
    compared = sum(row["n_compared"] for row in rows)
    agreed = sum(row["n_compared"] * (row["agreement_with_others"] or 0) for row in rows)
    assert compared == ceiling["human_ceiling"].n
    assert agreed / compared == pytest.approx(ceiling["human_ceiling"].value, abs=1e-12)
    assert sum(row["labels"] for row in rows) == np.count_nonzero(~np.isnan(data["H"]))
    assert all(row["first_position_rate"] is None for row in rows)


def test_self_consistency_by_hand():
    samples = np.array(
        [[1, 2, NAN], [-1, 1, NAN], [0, NAN, NAN], [NAN, NAN, NAN], [0, 0, 0], [-3, -1, -2]]
    )
    # Items with two samples or more: 1 (same side, sd 0.5), 2 (split, sd 1), 5 (ties, sd 0),
    # 6 (same side, sd sqrt(2/3)).
    got = metrics.self_consistency(samples)
    assert got["items"] == 4
    assert got["side_agreement"] == 3 / 4
    assert got["mean_sd"] == pytest.approx((0.5 + 1 + 0 + math.sqrt(2 / 3)) / 4, abs=1e-12)
    assert metrics.self_consistency(np.full((3, 2), NAN)) == {
        "items": 0,
        "side_agreement": None,
        "mean_sd": None,
    }


# -- Edge cases -------------------------------------------------------------------------------------


def assert_all_none(figures: dict[str, Figure], keys=None) -> None:
    for key in keys or figures:
        assert figures[key] == Figure(value=None, ci_low=None, ci_high=None, n=0), key


def test_no_items():
    H, empty = np.zeros((0, 3)), np.zeros(0)
    boot = Bootstrap(resamples=50)
    assert_all_none(metrics.human_human(H, boot=boot))
    assert_all_none(metrics.judge_vs_humans(empty, H, empty, boot=boot))
    assert_all_none(metrics.position(empty, empty, H, None, boot=boot))
    assert metrics.confusion(empty, H, None) == [[0] * 3] * 3
    assert metrics.human_confusion(H) == [[0] * 3] * 3
    assert (
        metrics.annotator_stats(H, None)
        == [
            {
                "labels": 0,
                "tie_rate": None,
                "first_position_rate": None,
                "agreement_with_others": None,
                "n_compared": 0,
            }
        ]
        * 3
    )
    assert metrics.self_consistency(np.zeros((0, 2)))["items"] == 0


@pytest.mark.parametrize(
    "H", [np.full((6, 3), NAN), np.zeros((6, 0))], ids=["all-nan", "no-columns"]
)
def test_no_labels(H):
    m = np.array([1, -1, 0, 2, NAN, 0.5])
    boot = Bootstrap(resamples=50)
    assert_all_none(metrics.human_human(H, boot=boot))
    assert_all_none(metrics.judge_vs_humans(m, H, None, boot=boot))
    position = metrics.position(m, m, H, None, boot=boot)
    assert_all_none(position, POSITION_KEYS[:-1])
    assert (position["consistency"].value, position["consistency"].n) == (1.0, 5)
    # Gold alone is a reference.
    gold = np.array([1, -1, 1, NAN, NAN, NAN])
    got = metrics.judge_vs_humans(m, H, gold, boot=boot)
    assert (
        got["accuracy_majority_without_ties"].value,
        got["accuracy_majority_without_ties"].n,
    ) == (2 / 3, 3)
    assert_all_none(got, ["accuracy_without_ties", "human_ceiling", "model_vs_loo_majority"])


def test_one_annotator():
    data = generated(1)
    H = data["H"][:, :1]
    boot = Bootstrap(resamples=50)
    assert_all_none(metrics.human_human(H, boot=boot))
    got = metrics.judge_vs_humans(data["m"], H, data["gold"], boot=boot)
    assert_all_none(got, ["human_ceiling", "model_vs_loo_majority"])
    assert_matches(got, expected_judge(data["m"], H, data["gold"], "strict"))
    assert got["accuracy_without_ties"].ci_low is not None


def test_all_ties():
    H = np.zeros((10, 3))
    m = np.zeros(10)
    boot = Bootstrap(resamples=50)
    human = metrics.human_human(H, boot=boot)
    for key in ("krippendorff_alpha_nominal", "krippendorff_alpha_ordinal", "fleiss_kappa"):
        # Nothing to disagree about, so chance agreement is total and the figure undefined.
        assert (human[key].value, human[key].n) == (None, 10), key
    assert human["pairwise_agreement_with_ties"] == Figure(1.0, 1.0, 1.0, 10)
    assert_all_none(human, ["pairwise_agreement_without_ties"])
    got = metrics.judge_vs_humans(m, H, None, boot=boot)
    assert_all_none(got, ["accuracy_without_ties", "accuracy_majority_without_ties"])
    assert got["agreement_three_class"] == Figure(1.0, 1.0, 1.0, 10)
    assert (got["cohen_kappa"].value, got["cohen_kappa"].n) == (None, 10)
    assert (got["spearman"].value, got["kendall_tau_b"].value) == (None, None)


def test_judge_without_verdicts():
    data = generated(4)
    nothing = np.full(len(data["m"]), NAN)
    boot = Bootstrap(resamples=50)
    got = metrics.judge_vs_humans(nothing, data["H"], data["gold"], boot=boot)
    assert_all_none(got, [key for key in JUDGE_KEYS if key != "human_ceiling"])
    assert got["human_ceiling"].value is not None
    assert_all_none(metrics.position(nothing, data["m_swap"], data["H"], data["gold"], boot=boot))
    assert metrics.confusion(nothing, data["H"], data["gold"]) == [[0] * 3] * 3


def test_single_item_has_values_but_no_intervals():
    got = metrics.judge_vs_humans(np.array([1.0]), np.array([[1.0, 2.0]]), None, boot=Bootstrap())
    assert got["accuracy_without_ties"] == Figure(1.0, None, None, 2)
    assert got["human_ceiling"] == Figure(1.0, None, None, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.human_human(np.array([[4.0]]), boot=Bootstrap(0)), "H"),
        (lambda: metrics.human_human(np.array([[1.5]]), boot=Bootstrap(0)), "H"),
        (lambda: metrics.human_human(np.array([1.0, 2.0]), boot=Bootstrap(0)), "H"),
        (lambda: metrics.reference(np.zeros((2, 1)), np.array([0.5, 0])), "gold"),
        (lambda: metrics.reference(np.zeros((2, 1)), np.zeros(3)), "gold"),
        (
            lambda: metrics.judge_vs_humans(np.zeros(3), np.zeros((2, 1)), None, boot=Bootstrap(0)),
            "m",
        ),
        (
            lambda: metrics.judge_vs_humans(
                np.zeros(2), np.zeros((2, 1)), None, tie_policy="drop", boot=Bootstrap(0)
            ),
            "tie_policy",
        ),
        (lambda: metrics.annotator_stats(np.zeros((2, 1)), np.full((2, 1), 2.0)), "shown_swapped"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- Properties -------------------------------------------------------------------------------------

preference = st.sampled_from([NAN, NAN, NAN, -3.0, -2.0, -1.0, 0.0, 0.0, 1.0, 2.0, 3.0])
verdict = st.sampled_from([NAN, -3.0, -2.5, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.5, 3.0])


@st.composite
def small_data(draw) -> dict:
    n = draw(st.integers(0, 7))
    annotators = draw(st.integers(0, 4))
    H = np.array(draw(st.lists(preference, min_size=n * annotators, max_size=n * annotators)))
    gold = [draw(st.sampled_from([NAN] * 5 + [-2.0, 0.0, 3.0])) for _ in range(n)]
    return {
        "H": H.reshape(n, annotators),
        "gold": np.array(gold, dtype=float),
        "m": np.array(draw(st.lists(verdict, min_size=n, max_size=n)), dtype=float),
        "m_orig": np.array(draw(st.lists(verdict, min_size=n, max_size=n)), dtype=float),
        "m_swap": np.array(draw(st.lists(verdict, min_size=n, max_size=n)), dtype=float),
    }


@PROPERTY
@given(data=small_data(), policy=st.sampled_from(metrics.TIE_POLICIES))
def test_any_small_input_matches_the_reference_implementations(data, policy):
    got = all_figures(data, Bootstrap(resamples=5, seed=1), policy)
    expected = all_expected(data, policy)
    for group in got:
        assert_matches(got[group], expected[group])
        for figure in got[group].values():
            if figure.ci_low is not None:
                assert figure.value is not None
                assert figure.ci_low <= figure.ci_high
    rows = metrics.annotator_stats(data["H"], None)
    assert sum(row["n_compared"] for row in rows) == got["judge"]["human_ceiling"].n
