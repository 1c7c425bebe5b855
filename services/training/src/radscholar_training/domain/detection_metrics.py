"""Detection test metrics: box IoU, greedy matching, FROC (with the CPM score) and COCO-style mAP, as JSON-able dicts.

Boxes are corner arrays, 2D ``(x0, y0, x1, y1)`` or 3D ``(x0, y0, z0, x1, y1, z1)``, in voxels or millimetres
(consistent within a call); IoU takes corners as continuous coordinates (no +1 pixel convention), as MONAI's
``box_iou`` and torchvision's ``box_iou``.

Matching follows MONAI's detection evaluation (``monai.apps.detection.metrics.matching``, after nnDetection and
pycocotools): within a scan and class, predictions are taken by descending score (stable on ties) and each one claims
the unmatched truth with the highest IoU >= the threshold; each truth is matched at most once, so a second
prediction on a found lesion is a false positive. (The LUNA16 script instead ignores such duplicates and uses a
centre-in-sphere hit criterion; we use boxes and IoU throughout.) No ``max_detections`` cap is applied.

FROC: every prediction of every scan is pooled; at each distinct score threshold, sensitivity is the share of all
lesions hit by a prediction scoring >= it and FPs/scan the false positives scoring >= it over the number of scans.
The sensitivity at an FP rate is, by default (``"step"``), that of the lowest threshold whose FPs/scan <= the rate
(the best operating point that stays within it; 0 when none does); ``"linear"`` interpolates along the curve's
polyline from (0, 0), as the LUNA16 script's ``np.interp``. The CPM score is the mean over the rates.

AP is COCO's 101-point interpolated AP (as pycocotools and MONAI's ``COCOMetric``): the mean over recall 0, 0.01, ...,
1 of the precision envelope at the first rank reaching that recall (0 past the last one). mAP is the mean of the
per-class APs over the classes that have truths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from radscholar_core.errors import InvalidArgument

FROC_FP_RATES: tuple[float, ...] = (1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0)
MAP_IOU_THRESHOLDS: tuple[float, ...] = (0.1, 0.5)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)

Scan = tuple[ArrayLike, ArrayLike, ArrayLike]
"""One scan's (pred_boxes (N, 2d), pred_scores (N,), true_boxes (M, 2d)): one class."""
LabelledScan = tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike, ArrayLike]
"""One scan's (pred_boxes, pred_scores, pred_labels (N,), true_boxes, true_labels (M,)): any number of classes."""


def iou(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """IoU of every box of ``a`` (N, 2d) with every box of ``b`` (M, 2d): (N, M); 0 where both boxes are empty."""
    boxes_a, boxes_b = _boxes(a, "a"), _boxes(b, "b")
    if len(boxes_a) and len(boxes_b) and boxes_a.shape[1] != boxes_b.shape[1]:
        raise _invalid("a and b have different dimensions", "BOX_DIMENSIONS_DIFFER")
    if not len(boxes_a) or not len(boxes_b):
        return np.zeros((len(boxes_a), len(boxes_b)))
    d = boxes_a.shape[1] // 2
    low = np.maximum(boxes_a[:, None, :d], boxes_b[None, :, :d])
    high = np.minimum(boxes_a[:, None, d:], boxes_b[None, :, d:])
    intersection = np.clip(high - low, 0.0, None).prod(axis=2)
    union = _volume(boxes_a)[:, None] + _volume(boxes_b)[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


@dataclass(frozen=True)
class Matching:
    """One scan's matching at one IoU threshold; indices refer to the input order."""

    prediction_hit: NDArray[np.bool_]  # (N,) the prediction matched a truth
    matched_truth: NDArray[np.int64]  # (N,) the truth it matched, -1 for a false positive
    truth_hit: NDArray[np.bool_]  # (M,) the truth was found
    matched_prediction: NDArray[np.int64]  # (M,) the prediction that found it, -1 for a miss
    best_iou: NDArray[np.float64]  # (M,) the truth's highest IoU with any prediction, NaN with no predictions

    def to_json(self) -> dict[str, Any]:
        return {
            "prediction_hit": self.prediction_hit.tolist(),
            "matched_truth": self.matched_truth.tolist(),
            "truth_hit": self.truth_hit.tolist(),
            "matched_prediction": self.matched_prediction.tolist(),
            "best_iou": [_finite(v) for v in self.best_iou],
        }


def match(pred_boxes: ArrayLike, pred_scores: ArrayLike, true_boxes: ArrayLike, iou_threshold: float) -> Matching:
    """Greedy matching by descending score (see the module docstring); a hit needs IoU >= ``iou_threshold``."""
    threshold = _iou_threshold(iou_threshold)
    predictions, scores = _boxes(pred_boxes, "pred_boxes"), _scores(pred_scores, "pred_scores")
    truths = _boxes(true_boxes, "true_boxes")
    if len(predictions) != len(scores):
        raise _invalid(f"{len(predictions)} predicted boxes but {len(scores)} scores", "SCORES_MISMATCH")
    overlaps = iou(predictions, truths)
    n, m = overlaps.shape
    matched_truth = np.full(n, -1, dtype=np.int64)
    matched_prediction = np.full(m, -1, dtype=np.int64)
    for p in np.argsort(-scores, kind="mergesort"):
        candidates = np.where((overlaps[p] >= threshold) & (matched_prediction < 0), overlaps[p], -1.0)
        if m and candidates.max() >= 0.0:
            t = int(candidates.argmax())
            matched_truth[p], matched_prediction[t] = t, p
    best = overlaps.max(axis=0) if n else np.full(m, math.nan)
    return Matching(matched_truth >= 0, matched_truth, matched_prediction >= 0, matched_prediction, best)


def froc(
    scans: Sequence[Scan],
    iou_threshold: float = 0.1,
    fp_rates: Sequence[float] = FROC_FP_RATES,
    interpolation: Literal["step", "linear"] = "step",
) -> dict[str, Any]:
    """FROC over ``scans`` (one class): sensitivity at each FP/scan rate, the curve, the CPM score and one row per
    lesion (scan, truth, hit, best IoU, score of the prediction that found it)."""
    if not scans:
        raise _invalid("no scans to evaluate", "NO_SCANS")
    rates = [float(r) for r in fp_rates]
    if not rates or any(not math.isfinite(r) or r <= 0 for r in rates):
        raise _invalid("fp_rates must be positive numbers", "BAD_FP_RATES")
    if interpolation not in ("step", "linear"):
        raise _invalid(f"unknown interpolation {interpolation!r}", "BAD_INTERPOLATION")
    scores, hits, rows = _pooled(scans, iou_threshold)
    lesions, notes = len(rows), []
    thresholds, fps, sensitivity = _curve(scores, hits, len(scans), lesions)
    if not lesions:
        notes.append("no lesions in any scan: sensitivity is undefined")
        at_rate: list[float | None] = [None] * len(rates)
    else:
        at_rate = [_sensitivity_at(fps, sensitivity, rate, interpolation) for rate in rates]
    if not len(scores):
        notes.append("no predictions in any scan: every sensitivity is 0")
    found = sum(1 for row in rows if row["hit"])
    return {
        "iou_threshold": float(iou_threshold),
        "interpolation": interpolation,
        "sensitivity_at": {_key(rate): value for rate, value in zip(rates, at_rate, strict=True)},
        "cpm": _mean(at_rate),
        "curve": {
            "thresholds": thresholds.tolist(),
            "fps_per_scan": fps.tolist(),
            "sensitivity": [_finite(v) for v in sensitivity],
        },
        "scans": len(scans),
        "lesions": lesions,
        "predictions": len(scores),
        "hits": found,
        "misses": lesions - found,
        "lesion_rows": rows,
        "notes": notes,
    }


def average_precision(scans: Sequence[Scan], iou_threshold: float) -> float | None:
    """COCO 101-point AP of one class over ``scans``; None when no scan has a truth."""
    if not scans:
        raise _invalid("no scans to evaluate", "NO_SCANS")
    scores, hits, rows = _pooled(scans, iou_threshold)
    if not rows:
        return None
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order])
    fp = np.cumsum(~hits[order])
    recall = tp / len(rows)
    precision = np.maximum.accumulate((tp / np.maximum(tp + fp, 1))[::-1])[::-1]
    ranks = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = ranks < len(precision)
    return float(np.where(reached, precision[np.minimum(ranks, len(precision) - 1)], 0.0).mean()) if len(tp) else 0.0


def mean_average_precision(
    scans: Sequence[Scan | LabelledScan], iou_thresholds: Sequence[float] = MAP_IOU_THRESHOLDS
) -> dict[str, Any]:
    """Per-class AP and mAP at each IoU threshold; a scan given as a triple counts as class 0."""
    if not scans:
        raise _invalid("no scans to evaluate", "NO_SCANS")
    thresholds = [_iou_threshold(t) for t in iou_thresholds]
    if not thresholds:
        raise _invalid("no IoU thresholds", "BAD_IOU_THRESHOLD")
    labelled = [_labelled(scan, i) for i, scan in enumerate(scans)]
    classes = sorted({int(c) for scan in labelled for c in np.concatenate([scan[2], scan[4]])})
    per_class: list[dict[str, Any]] = []
    notes: list[str] = []
    for c in classes:
        by_class: list[Scan] = [(pb[pl == c], ps[pl == c], tb[tl == c]) for pb, ps, pl, tb, tl in labelled]
        truths = sum(int((scan[4] == c).sum()) for scan in labelled)
        if not truths:
            notes.append(f"class {c} has predictions but no truths: left out of the mean")
        ap = {_key(t): average_precision(by_class, t) for t in thresholds}
        predictions = sum(int((scan[2] == c).sum()) for scan in labelled)
        per_class.append({"label": c, "truths": truths, "predictions": predictions, "ap": ap})
    if not classes:
        notes.append("no truths and no predictions: mAP is undefined")
    return {
        "convention": "coco-101-point",
        "iou_thresholds": thresholds,
        "map": {_key(t): _mean([row["ap"][_key(t)] for row in per_class]) for t in thresholds},
        "per_class": per_class,
        "notes": notes,
    }


def _pooled(
    scans: Sequence[Scan], iou_threshold: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_], list[dict[str, Any]]]:
    """Every scan's prediction scores and hit flags (each scan by descending score, scans in order) and lesion rows."""
    scores, hits, rows = [], [], []
    for s, scan in enumerate(scans):
        if len(scan) != 3:
            raise _invalid(f"scan {s} must be (pred_boxes, pred_scores, true_boxes)", "BAD_SCAN")
        pred_boxes, pred_scores, true_boxes = scan
        matching = match(pred_boxes, pred_scores, true_boxes, iou_threshold)
        scan_scores = _scores(pred_scores, "pred_scores")
        order = np.argsort(-scan_scores, kind="mergesort")
        scores.append(scan_scores[order])
        hits.append(matching.prediction_hit[order])
        for t, (hit, p) in enumerate(zip(matching.truth_hit, matching.matched_prediction, strict=True)):
            rows.append(
                {
                    "scan": s,
                    "truth": t,
                    "hit": bool(hit),
                    "best_iou": _finite(matching.best_iou[t]),
                    "score": float(scan_scores[p]) if hit else None,
                }
            )
    return np.concatenate(scores), np.concatenate(hits).astype(bool), rows


def _curve(
    scores: NDArray[np.float64], hits: NDArray[np.bool_], scans: int, lesions: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(thresholds, FPs/scan, sensitivity) at each distinct score, descending; sensitivity NaN without lesions."""
    thresholds = np.unique(scores)[::-1]
    order = np.argsort(-scores, kind="mergesort")
    tp, fp = np.cumsum(hits[order]), np.cumsum(~hits[order])
    # the last rank holding each threshold: everything scoring >= it is accepted
    last = np.searchsorted(-scores[order], -thresholds, side="right") - 1
    fps = fp[last] / scans if len(last) else np.zeros(0)
    sensitivity = tp[last] / lesions if lesions else np.full(len(thresholds), math.nan)
    return thresholds.astype(np.float64), fps.astype(np.float64), sensitivity.astype(np.float64)


def _sensitivity_at(
    fps: NDArray[np.float64], sensitivity: NDArray[np.float64], rate: float, interpolation: str
) -> float:
    within = fps <= rate
    best = float(sensitivity[within].max()) if within.any() else 0.0
    if interpolation == "step" or np.any(fps == rate) or within.all():
        return best
    # the polyline from the last point at or below the rate to the first point above it
    low = float(fps[within].max()) if within.any() else 0.0
    high = float(fps[~within].min())
    at_high = float(sensitivity[fps == high].min())
    return best + (at_high - best) * (rate - low) / (high - low)


def _labelled(scan: Scan | LabelledScan, index: int) -> tuple[NDArray[Any], ...]:
    """One scan as validated (pred_boxes, pred_scores, pred_labels, true_boxes, true_labels); triples are class 0."""
    if len(scan) not in (3, 5):
        raise _invalid(
            f"scan {index} must be (pred_boxes, pred_scores, true_boxes) or "
            "(pred_boxes, pred_scores, pred_labels, true_boxes, true_labels)",
            "BAD_SCAN",
        )
    if len(scan) == 5:
        pred_boxes, pred_scores, raw_pred_labels, true_boxes, raw_true_labels = scan
        pred_labels, true_labels = _labels(raw_pred_labels, "pred_labels"), _labels(raw_true_labels, "true_labels")
    else:
        pred_boxes, pred_scores, true_boxes = scan
        pred_labels = np.zeros(np.size(pred_scores), dtype=np.int64)
        true_labels = np.zeros(len(_boxes(true_boxes, "true_boxes")), dtype=np.int64)
    predictions, scores = _boxes(pred_boxes, "pred_boxes"), _scores(pred_scores, "pred_scores")
    truths = _boxes(true_boxes, "true_boxes")
    if not len(predictions) == len(scores) == len(pred_labels) or len(truths) != len(true_labels):
        raise _invalid(f"scan {index}: boxes, scores and labels differ in length", "LENGTH_MISMATCH")
    return predictions, scores, pred_labels, truths, true_labels


def _boxes(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        boxes = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise _invalid(f"{name} are not numbers", "BAD_BOXES", name) from error
    if boxes.size == 0:
        width = boxes.shape[1] if boxes.ndim == 2 and boxes.shape[1] in (4, 6) else 4
        return np.zeros((0, width))
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 6):
        raise _invalid(f"{name} must be (N, 4) or (N, 6) corners, got shape {boxes.shape}", "BAD_BOXES", name)
    if not np.isfinite(boxes).all():
        raise _invalid(f"{name} hold NaN or infinite corners", "BAD_BOXES", name)
    d = boxes.shape[1] // 2
    if (boxes[:, d:] < boxes[:, :d]).any():
        raise _invalid(f"{name} have an upper corner below the lower one", "BAD_BOXES", name)
    return boxes


def _scores(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        scores = np.asarray(values, dtype=np.float64).reshape(-1) if np.size(values) else np.zeros(0)
    except (TypeError, ValueError) as error:
        raise _invalid(f"{name} are not numbers", "BAD_SCORES", name) from error
    if np.ndim(values) > 1 or not np.isfinite(scores).all() or (scores < 0).any() or (scores > 1).any():
        raise _invalid(f"{name} must be a list of scores in [0, 1]", "BAD_SCORES", name)
    return scores


def _labels(values: ArrayLike, name: str) -> NDArray[np.int64]:
    labels = np.asarray(values).reshape(-1) if np.size(values) else np.zeros(0, dtype=np.int64)
    if np.ndim(values) > 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
        raise _invalid(f"{name} must be a list of integer class labels", "BAD_LABELS", name)
    return labels.astype(np.int64)


def _iou_threshold(value: float) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = math.nan
    if not 0.0 < threshold <= 1.0:
        raise _invalid(f"IoU threshold must be in (0, 1], got {value!r}", "BAD_IOU_THRESHOLD")
    return threshold


def _volume(boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    d = boxes.shape[1] // 2
    return (boxes[:, d:] - boxes[:, :d]).prod(axis=1)


def _invalid(message: str, reason: str, field: str | None = None) -> InvalidArgument:
    return InvalidArgument(message, reason=reason, details={"field": field} if field else None)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _key(value: float) -> str:
    return f"{value:g}"
