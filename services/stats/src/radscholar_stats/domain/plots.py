"""Plots of results, drawn with matplotlib (Agg) as PNG and SVG from the same data a browser gets as JSON.

Each function takes plain data (lists of numbers and names) and returns a ``Figure``; ``draw`` picks the function
by the plot's name and ``render`` turns the figure into PNG and SVG bytes (SVGs carry no date, so the same data
gives the same file). Results keep the data; the files are drawn when first asked for.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory


@dataclass(frozen=True)
class Rendered:
    png: bytes
    svg: bytes


def render(figure: Figure) -> Rendered:
    png, svg = io.BytesIO(), io.BytesIO()
    figure.savefig(png, format="png", dpi=150, bbox_inches="tight")
    figure.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return Rendered(png.getvalue(), svg.getvalue())


def roc(curves: Sequence[Mapping[str, object]]) -> Figure:
    """ROC curves: each {name, fpr, tpr, auc}."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for curve in curves:
        axes.plot(curve["fpr"], curve["tpr"], label=f"{curve['name']} (AUC {float(curve['auc']):.3f})")  # type: ignore[arg-type]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01), title="ROC")
    axes.legend(loc="lower right")
    return figure


def kaplan_meier(curves: Sequence[Mapping[str, Any]], times_at_risk: Sequence[float] = ()) -> Figure:
    """Survival curves with confidence bands, each {group, time, survival, low, high, at_risk} (steps after each
    time), and the numbers at risk at ``times_at_risk`` in a table under the plot."""
    figure, axes = plt.subplots(figsize=(6, 4.5 + 0.25 * len(curves)))
    for curve in curves:
        line = axes.step(curve["time"], curve["survival"], where="post", label=str(curve["group"]))
        axes.fill_between(curve["time"], curve["low"], curve["high"], step="post", alpha=0.2, color=line[0].get_color())
    axes.set(xlabel="time", ylabel="survival probability", ylim=(0, 1.02), title="Kaplan-Meier")
    if len(curves) > 1 or (curves and curves[0]["group"]):
        axes.legend()
    if times_at_risk:  # numbers at risk under the time axis, each at its time
        axes.set_xticks(list(times_at_risk))
        below = blended_transform_factory(axes.transData, axes.transAxes)
        axes.text(0, -0.2, "at risk", transform=axes.transAxes, ha="right", va="center", fontsize=8, weight="bold")
        for row, curve in enumerate(curves, start=1):
            y = -0.2 - 0.07 * row
            axes.text(-0.02, y, str(curve["group"]), transform=axes.transAxes, ha="right", va="center", fontsize=8)
            for moment, count in zip(times_at_risk, curve["at_risk"], strict=True):
                axes.text(moment, y, str(count), transform=below, ha="center", va="center", fontsize=8)
    return figure


def forest(rows: Sequence[Mapping[str, object]], reference: float, label: str) -> Figure:
    """Estimates with intervals, one row each: {term, estimate, low, high}; a vertical line at ``reference``."""
    figure, axes = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.2))
    for position, row in enumerate(reversed(rows)):
        estimate, low, high = (float(row[k]) for k in ("estimate", "low", "high"))  # type: ignore[arg-type]
        axes.plot([low, high], [position, position], color="black", linewidth=1)
        axes.plot([estimate], [position], marker="s", color="black")
    axes.axvline(reference, linestyle="--", color="grey", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [str(r["term"]) for r in reversed(rows)])
    axes.set(xlabel=label, title="Forest plot")
    if reference == 1.0:
        axes.set_xscale("log")
    return figure


def calibration(predicted: Sequence[float], observed: Sequence[float]) -> Figure:
    figure, axes = plt.subplots(figsize=(5, 5))
    axes.plot(predicted, observed, marker="o", label="model")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="perfect")
    axes.set(xlabel="predicted probability", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1), title="Calibration")
    axes.legend(loc="upper left")
    return figure


def importance(names: Sequence[str], values: Sequence[float], title: str = "Variable importance") -> Figure:
    """Horizontal bars, the most important on top."""
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(names) + 1.2))
    axes.barh(list(reversed(names)), list(reversed(values)))
    axes.set(xlabel="importance", title=title)
    return figure


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> Figure:
    figure, axes = plt.subplots(figsize=(4, 4))
    axes.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center")
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    return figure


def draw(name: str, data: Mapping[str, Any]) -> Figure:
    """The figure of plot ``name`` from its data (as the analyses store it)."""
    match name:
        case "roc":
            return roc(data["curves"])
        case "kaplan-meier":
            return kaplan_meier(data["curves"], data.get("times_at_risk", ()))
        case "forest":
            return forest(data["rows"], float(data["reference"]), str(data["label"]))
        case "calibration":
            return calibration(data["predicted"], data["observed"])
        case "importance":
            return importance(data["features"], data["importance"])
        case "confusion-matrix":
            return confusion_matrix(data["matrix"], data["labels"])
    raise ValueError(f"no plot named {name!r}")
