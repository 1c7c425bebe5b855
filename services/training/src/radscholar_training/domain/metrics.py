"""Validation metrics: AUC, accuracy and per-class sensitivity for classification, Dice for segmentation.

Classes are counted by position from 0 (the k-th class of the run); a segmentation class map holds position + 1.
A metric that the data cannot define (an AUC without both outcomes) is NaN, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score


def classification_metrics(probabilities: NDArray[Any], targets: NDArray[Any], multi_label: bool) -> dict[str, float]:
    """``probabilities`` (N, K) (softmax, or sigmoid per label for multi-label); ``targets`` (N,) class indices,
    or (N, K) multi-hot.

    ``auc``: binary AUC of class 1 for two classes, else the macro mean of one-vs-rest AUCs over the classes
    present; ``accuracy``: of the arg-max class (multi-label: of every label at 0.5); ``sensitivity_k``: recall of
    class k.
    """
    k = probabilities.shape[1]
    if multi_label:
        truth = targets.astype(bool)
        predicted = probabilities >= 0.5
        accuracy = float((predicted == truth).mean()) if truth.size else math.nan
    else:
        indices = targets.astype(np.int64).reshape(-1)
        truth = np.eye(k, dtype=bool)[indices]
        predicted = np.eye(k, dtype=bool)[probabilities.argmax(axis=1)]
        accuracy = float((predicted.argmax(axis=1) == indices).mean()) if len(indices) else math.nan
    metrics = {"auc": _auc(probabilities, truth, binary=k == 2 and not multi_label), "accuracy": accuracy}
    for c in range(k):
        positives = int(truth[:, c].sum())
        hits = int((truth[:, c] & predicted[:, c]).sum())
        metrics[f"sensitivity_{c}"] = hits / positives if positives else math.nan
    return metrics


def _auc(probabilities: NDArray[Any], truth: NDArray[np.bool_], binary: bool) -> float:
    columns = [1] if binary else range(truth.shape[1])
    aucs = [
        float(roc_auc_score(truth[:, c], probabilities[:, c]))
        for c in columns
        if truth[:, c].any() and not truth[:, c].all()
    ]
    return float(np.mean(aucs)) if aucs else math.nan


def dice_per_class(predicted: NDArray[Any], truth: NDArray[Any], classes: int) -> list[float]:
    """Dice of each foreground class (map values 1..classes-1) in one volume; NaN where both maps lack it."""
    scores = []
    for c in range(1, classes):
        p, t = predicted == c, truth == c
        total = int(p.sum()) + int(t.sum())
        scores.append(2.0 * int((p & t).sum()) / total if total else math.nan)
    return scores


def segmentation_metrics(per_volume: Sequence[Sequence[float]]) -> dict[str, float]:
    """``dice``: the mean over foreground classes of each class's mean Dice over volumes (NaNs skipped);
    ``dice_k``: class position k's (map value k + 1) mean Dice."""
    table = np.asarray(per_volume, dtype=np.float64)
    metrics: dict[str, float] = {}
    if table.size == 0:
        return {"dice": math.nan}
    means = [_nanmean(table[:, c]) for c in range(table.shape[1])]
    metrics["dice"] = _nanmean(np.asarray(means))
    metrics.update({f"dice_{c}": mean for c, mean in enumerate(means)})
    return metrics


def _nanmean(values: NDArray[np.float64]) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if kept.size else math.nan
