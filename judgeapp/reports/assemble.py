"""A report's figures from its inputs: the JSON document that the page, the exports and the API
all read. Its keys are stable (users' scripts rely on them); see the README's "Agreement
reports" for each one's definition."""

import importlib.metadata
import platform
from collections import Counter
from collections.abc import Callable

import numpy as np

from judgeapp.reports import metrics
from judgeapp.reports.data import ReportData

SCHEMA = 1
LIBRARIES = ("numpy", "Django")
BREAKDOWN_VALUES = 20  # the commonest values of a metadata key; the rest are left out
BREAKDOWN_MIN_ITEMS = 10
DISAGREEMENTS = 500


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _figures(figures: dict) -> dict:
    return {key: figure.as_dict() for key, figure in figures.items()}


def _float(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def build(
    data: ReportData,
    *,
    config: dict,
    progress: Callable[[float, str], None] = lambda share, stage: None,
) -> dict:
    boot = metrics.Bootstrap(resamples=config["resamples"], seed=config["seed"])
    tie_policy = config["tie_policy"]
    H, gold = data.H, data.gold
    labelled = ~np.all(np.isnan(H), axis=1) if H.shape[1] else np.zeros(data.n, bool)
    steps = 2 + 2 * len(data.judges) + len(data.metadata)
    done = 0

    def step(stage: str) -> None:
        nonlocal done
        progress(done / steps, stage)
        done += 1

    step("agreement between humans")
    out: dict = {
        "schema": SCHEMA,
        "counts": {
            "items": data.n,
            "labelled_items": int(labelled.sum()),
            "labels": int(np.count_nonzero(~np.isnan(H))),
            "annotators": len(data.annotators),
            "adjudicated": int(np.count_nonzero(~np.isnan(gold))),
        },
        "human_human": _figures(metrics.human_human(H, boot=boot)),
        "human_confusion": metrics.human_confusion(H),
    }
    step("annotators")
    out["annotators"] = [
        {"name": name, **row}
        for name, row in zip(
            data.annotators, metrics.annotator_stats(H, data.shown_swapped), strict=True
        )
    ]
    judges = {}
    for judge in data.judges:
        step(f"{judge.name}: agreement with humans")
        entry = {
            "judge_id": judge.judge_id,
            "protocol": judge.protocol,
            "verdicts": judge.verdicts,
            "items_judged": int(np.count_nonzero(~np.isnan(judge.m))),
            **_figures(metrics.judge_vs_humans(judge.m, H, gold, tie_policy=tie_policy, boot=boot)),
            "confusion": metrics.confusion(judge.m, H, gold),
            "self_consistency": metrics.self_consistency(judge.samples),
        }
        step(f"{judge.name}: position")
        if judge.both_orders:
            entry["position"] = _figures(
                metrics.position(judge.m_orig, judge.m_swap, H, gold, boot=boot)
            )
        judges[judge.name] = entry
    out["judges"] = judges
    out["ranking"] = sorted(
        judges,
        key=lambda name: (
            -(judges[name]["accuracy_without_ties"]["value"] or -1.0),
            name,
        ),
    )
    out["breakdown"] = {}
    small = metrics.Bootstrap(resamples=min(boot.resamples, 200), seed=boot.seed)
    for key, values in data.metadata.items():
        step(f"breakdown by {key}")
        out["breakdown"][key] = _breakdown(data, values, small, tie_policy)
    out["disagreements"] = _disagreements(data)
    progress(1.0, "done")
    return out


def _breakdown(data: ReportData, values: list, boot, tie_policy: str) -> list[dict]:
    """Per value of a metadata key (the commonest ones), the headline figures on its items."""
    counts = Counter(v for v in values if v is not None)
    rows = []
    array = np.array(values, dtype=object)
    for value, count in counts.most_common(BREAKDOWN_VALUES):
        if count < BREAKDOWN_MIN_ITEMS:
            continue
        mask = array == value
        H, gold = data.H[mask], data.gold[mask]
        human = metrics.human_human(H, boot=boot)
        row = {
            "value": value,
            "items": int(count),
            "human_human": {
                "krippendorff_alpha_nominal": human["krippendorff_alpha_nominal"].as_dict(),
                "pairwise_agreement_with_ties": human["pairwise_agreement_with_ties"].as_dict(),
            },
            "judges": {},
        }
        for judge in data.judges:
            figures = metrics.judge_vs_humans(
                judge.m[mask], H, gold, tie_policy=tie_policy, boot=boot
            )
            row["judges"][judge.name] = {
                key: figures[key].as_dict()
                for key in ("accuracy_without_ties", "cohen_kappa", "human_ceiling")
            }
        rows.append(row)
    return rows


def _disagreements(data: ReportData) -> list[dict]:
    """Items where a judge is furthest from the humans' mean (or the adjudicated label)."""
    if not data.judges or data.n == 0:
        return []
    reference = metrics.reference(data.H, data.gold)
    gaps = np.stack([np.abs(judge.m - reference.mean) for judge in data.judges])
    with np.errstate(invalid="ignore"):
        gap = np.nanmax(np.where(np.isnan(gaps), -np.inf, gaps), axis=0)
    gap[~np.isfinite(gap)] = np.nan
    order = np.argsort(np.where(np.isnan(gap), -1.0, -gap), kind="stable")
    rows = []
    for i in order[:DISAGREEMENTS]:
        if np.isnan(gap[i]) or gap[i] == 0:
            break
        rows.append(
            {
                "item": data.external_ids[i],
                "comparison": int(data.item_ids[i]),
                "human_mean": _float(reference.mean[i]),
                "human_side": _float(reference.side[i]),
                "labels": int(np.count_nonzero(~np.isnan(data.H[i]))),
                "judges": {judge.name: _float(judge.m[i]) for judge in data.judges},
                "gap": float(gap[i]),
            }
        )
    return rows
