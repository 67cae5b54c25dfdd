"""The position figures as the papers define them, on ten items worked out by hand.

- MT-Bench (Zheng et al. 2023, "Judging LLM-as-a-Judge", position bias table): "consistency" is
  the share of pairs whose verdict is the same after the two responses are swapped.
- LLMBar (Zeng et al. 2023, "Evaluating Large Language Models at Evaluating Instruction
  Following"): accuracy is averaged over both orders, and "positional agreement rate" is the
  share of pairs judged the same in both orders.

Both orders' verdicts are already mapped back to the item's own order, so a judge unmoved by
position gives the same sign twice. No database."""

import numpy as np
import pytest

from judgeapp.reports import metrics
from judgeapp.reports.metrics import Bootstrap

NAN = np.nan

# Two labels per item; item 7 is adjudicated.
#
#  item  labels    gold  reference side  m_orig  m_swap  sides     orders right     same sign
#   1    2, 3             1               2       1       1,  1    both             yes
#   2   -1, -2           -1              -3       1      -1,  1    original only    no
#   3    1, 1             1              -1       2      -1,  1    swapped only     no
#   4   -3, -1           -1              -2      -2      -1, -1    both             yes
#   5    0, 0             0 (tie)         0       0       0,  0    (no side)        yes
#   6    1, -1            none (split)    1       1       1,  1    (no side)        yes
#   7    2, 1     -1     -1 (gold)        1      -1       1, -1    swapped only     no
#   8    1, 2             1               0       1       0,  1    swapped only     no
#   9   -1, -1           -1              -1       -       -1, -    (one order missing: left out)
#  10    3, 2             1               1       0       1,  0    original only    no
H = np.array(
    [[2, 3], [-1, -2], [1, 1], [-3, -1], [0, 0], [1, -1], [2, 1], [1, 2], [-1, -1], [3, 2]],
    dtype=float,
)
GOLD = np.array([NAN, NAN, NAN, NAN, NAN, NAN, -1, NAN, NAN, NAN])
M_ORIG = np.array([2, -3, -1, -2, 0, 1, 1, 0, -1, 1], dtype=float)
M_SWAP = np.array([1, 1, 2, -2, 0, 1, -1, 1, NAN, 0], dtype=float)
# The judge's verdict: the mean of whichever orders it has.
M = np.array([1.5, -1, 0.5, -2, 0, 1, 0, 0.5, -1, 0.5])


def test_position_figures_by_hand():
    got = metrics.position(M_ORIG, M_SWAP, H, GOLD, boot=Bootstrap(0))
    expected = {
        # Items with both orders and a reference side of 1 or -1: 1, 2, 3, 4, 7, 8, 10.
        # Original order right on 1, 2, 4, 10 (a tie, item 8, is wrong).
        "accuracy_original": (4 / 7, 7),
        # Swapped order right on 1, 3, 4, 7, 8 (item 10's tie is wrong).
        "accuracy_swapped": (5 / 7, 7),
        # LLMBar's accuracy averaged over both orders: (4/7 + 5/7) / 2.
        "accuracy_average": (9 / 14, 7),
        # Right in both orders: 1 and 4.
        "accuracy_both": (2 / 7, 7),
        # MT-Bench's consistency / LLMBar's positional agreement over the nine items with both
        # orders (reference not needed): the same sign on 1, 4, 5 (tie twice) and 6.
        "consistency": (4 / 9, 9),
    }
    assert list(got) == list(expected)
    for key, (value, n) in expected.items():
        assert got[key].n == n, key
        assert got[key].value == pytest.approx(value, abs=1e-12), key


def test_judge_figures_by_hand():
    got = metrics.judge_vs_humans(M, H, GOLD, boot=Bootstrap(0))
    expected = {
        # Judge sides: 1, -1, 1, -1, 0, 1, 0, 1, -1, 1. Labels that are not ties: 18 (item 5's
        # two ties are left out); wrong: item 6's -1 and item 7's two (judge tie). Gold does
        # not enter the per-label accuracy.
        "accuracy_without_ties": (15 / 18, 18),
        # Reference side 1 or -1: all but 5 (tie) and 6 (split); item 7 (gold -1, judge tie) is
        # the one wrong.
        "accuracy_majority_without_ties": (7 / 8, 8),
        # Strict: a tie is a class; the nine items with a reference side, item 7 wrong.
        "agreement_three_class": (8 / 9, 9),
        # Confusion (rows reference -1, 0, 1; columns judge): [[3, 1, 0], [0, 1, 0], [0, 0, 4]].
        # p_o = 8/9; margins (4, 1, 4) and (3, 2, 4): p_e = (12 + 2 + 16) / 81 = 10/27;
        # kappa = (8/9 - 10/27) / (1 - 10/27) = 14/17.
        "cohen_kappa": (14 / 17, 9),
        # Each label against the other label of its item: all 18 non-tie labels are units
        # (item 5's other is a tie); item 6's two labels disagree with each other.
        "human_ceiling": (16 / 18, 18),
        # The judge against the same majorities: item 6 (others say -1 then 1: one right) and
        # item 7 (judge tie: two wrong).
        "model_vs_loo_majority": (15 / 18, 18),
    }
    for key, (value, n) in expected.items():
        assert got[key].n == n, key
        assert got[key].value == pytest.approx(value, abs=1e-12), key
    assert metrics.confusion(M, H, GOLD) == [[3, 1, 0], [0, 1, 0], [0, 0, 4]]


@pytest.mark.parametrize(("policy", "value", "n"), [("ignore", 7 / 8, 8), ("half", 17 / 18, 9)])
def test_tie_policies_by_hand(policy, value, n):
    # ignore: item 5 (reference tie) left out, item 7 still wrong. half: item 7's judge tie
    # against a side scores 0.5, so 8.5 of 9.
    got = metrics.judge_vs_humans(M, H, GOLD, tie_policy=policy, boot=Bootstrap(0))
    assert got["agreement_three_class"].n == n
    assert got["agreement_three_class"].value == pytest.approx(value, abs=1e-12)
