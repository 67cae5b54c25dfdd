"""A report's exports (JSON, CSV, self-contained HTML) and the context its page renders: all
from the stored result document, so the page, the files and the API always agree."""

import csv
import io
from pathlib import Path

import orjson
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.text import slugify

from judgeapp.reports.charts import heat, interval_chart
from judgeapp.reports.models import Report

FORMATS = ("json", "csv", "html")
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}

HEADLINE = (
    ("accuracy_without_ties", "Accuracy (no ties, per label)"),
    ("accuracy_majority_without_ties", "Accuracy vs majority"),
    ("agreement_three_class", "3-class agreement"),
    ("cohen_kappa", "Cohen's κ"),
    ("weighted_kappa", "Weighted κ (quadratic)"),
    ("spearman", "Spearman ρ"),
    ("kendall_tau_b", "Kendall τ-b"),
)
HUMAN_HUMAN = (
    ("krippendorff_alpha_nominal", "Krippendorff's α (nominal, 3 sides)"),
    ("krippendorff_alpha_ordinal", "Krippendorff's α (ordinal, -3..3)"),
    ("fleiss_kappa", "Fleiss' κ (items with the commonest label count)"),
    ("pairwise_agreement_with_ties", "Pairwise agreement (ties a class)"),
    ("pairwise_agreement_without_ties", "Pairwise agreement (pairs without a tie)"),
)
POSITION = (
    ("accuracy_original", "Accuracy, original order"),
    ("accuracy_swapped", "Accuracy, swapped order"),
    ("accuracy_average", "Accuracy, average of both"),
    ("accuracy_both", "Right in both orders"),
    ("consistency", "Same side in both orders"),
)
SIDES = ("Response 1", "Tie", "Response 2")


def filename(report: Report, format: str) -> str:
    return f"agreement-{slugify(report.scope_name) or 'report'}-{report.pk}.{format}"


def render(report: Report, format: str) -> bytes:
    result = report.result or {}
    if format == "json":
        return orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if format == "csv":
        return to_csv(result).encode()
    if format == "html":
        return to_html(report).encode()
    raise ValueError(format)


def _figure_rows(table: str, subject: str, figures: dict, keys) -> list[list]:
    rows = []
    for key, _ in keys:
        figure = figures.get(key)
        if figure is not None:
            rows.append(
                [table, subject, key, figure["value"], figure["ci_low"], figure["ci_high"],
                 figure["n"]]
            )  # fmt: skip
    return rows


def to_csv(result: dict) -> str:
    """Every figure as one long table: table, subject, metric, value, ci_low, ci_high, n. The
    first rows (table ``meta``) carry the fingerprint, tie policy, seed and library versions."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["table", "subject", "metric", "value", "ci_low", "ci_high", "n"])
    config = result.get("config", {})
    meta = {
        "fingerprint": result.get("fingerprint"),
        "generated_at": result.get("generated_at"),
        "tie_policy": config.get("tie_policy"),
        "seed": config.get("seed"),
        "resamples": config.get("resamples"),
        "confidence": config.get("confidence"),
        "humans": config.get("humans"),
        **{f"version.{k}": v for k, v in result.get("versions", {}).items()},
        **{f"count.{k}": v for k, v in result.get("counts", {}).items()},
    }
    for key, value in meta.items():
        writer.writerow(["meta", "", key, value, "", "", ""])
    writer.writerows(
        _figure_rows("human_human", "humans", result.get("human_human", {}), HUMAN_HUMAN)
    )
    extra = (("human_ceiling", ""), ("model_vs_loo_majority", ""))
    for name in result.get("ranking", []):
        judge = result["judges"][name]
        writer.writerows(_figure_rows("judges", name, judge, HEADLINE + extra))
        if "position" in judge:
            writer.writerows(_figure_rows("position", name, judge["position"], POSITION))
        for key, value in (judge.get("self_consistency") or {}).items():
            writer.writerow(["self_consistency", name, key, value, "", "", ""])
    for row in result.get("annotators", []):
        for key in ("labels", "tie_rate", "first_position_rate", "agreement_with_others"):
            writer.writerow(["annotators", row["name"], key, row.get(key), "", "", ""])
    for key, groups in result.get("breakdown", {}).items():
        for group in groups:
            subject = f"{key}={group['value']}"
            writer.writerows(
                _figure_rows(f"breakdown.{key}", subject, group["human_human"], HUMAN_HUMAN)
            )
            for name, figures in group["judges"].items():
                writer.writerows(
                    _figure_rows(f"breakdown.{key}", f"{subject} {name}", figures, HEADLINE + extra)
                )
    return out.getvalue()


def _confusion(matrix: list[list[int]]) -> list[dict]:
    rows = []
    for side, counts in zip(SIDES, matrix, strict=True):
        total = sum(counts)
        rows.append(
            {
                "side": side,
                "total": total,
                "cells": [{"count": c, "style": heat(c, total)} for c in counts],
            }
        )
    return rows


def page_context(result: dict) -> dict:
    """What the report page (and the HTML file) shows, prepared from the result document."""
    judges = [(name, result["judges"][name]) for name in result.get("ranking", [])]
    ceiling = None
    for _, judge in judges:
        if judge.get("human_ceiling", {}).get("value") is not None:
            ceiling = judge["human_ceiling"]
            break
    # Like with like: each judge and the humans against the same leave-one-out majorities.
    chart_rows = [
        (
            name,
            *(
                judge.get("model_vs_loo_majority", {}).get(k)
                for k in ("value", "ci_low", "ci_high")
            ),
        )
        for name, judge in judges
    ]
    if ceiling is not None:
        chart_rows.append(
            ("Human ceiling", ceiling["value"], ceiling["ci_low"], ceiling["ci_high"])
        )
    return {
        "r": result,
        "judges": [
            {
                "name": name,
                "data": judge,
                "position": [(label, judge["position"][key]) for key, label in POSITION]
                if "position" in judge
                else None,
                "confusion": _confusion(judge["confusion"]),
            }
            for name, judge in judges
        ],
        "headline_rows": [
            (label, [judge.get(key) for _, judge in judges])
            for key, label in (
                *HEADLINE,
                ("model_vs_loo_majority", "Against each annotator's leave-one-out majority"),
                ("human_ceiling", "Human ceiling: annotators against the same majorities"),
            )
        ],
        "human_human": [
            (label, result.get("human_human", {}).get(key)) for key, label in HUMAN_HUMAN
        ],
        "human_confusion": _confusion(result.get("human_confusion") or [[0] * 3] * 3),
        "sides": SIDES,
        "chart": interval_chart(
            chart_rows,
            title="Agreement with each annotator's leave-one-out majority, with 95% intervals",
        )
        if chart_rows
        else "",
        "breakdown": result.get("breakdown", {}),
        "disagreements": result.get("disagreements", [])[:200],
        "judge_names": [name for name, _ in judges],
    }


def to_html(report: Report) -> str:
    """One file that opens anywhere: styles and charts inline, no script, no links out."""
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    context = {**page_context(report.result or {}), "report": report, "css": css, "export": True}
    return render_to_string("reports/export.html", context)
