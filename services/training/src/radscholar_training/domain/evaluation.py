"""Testing a model version: the statistics a journal asks for, as JSON-able reports, and their plots.

Classification (``classification_report``). Class k of the run is column k of the probabilities; with two classes
class 1 is the positive one and its probability the score. The AUC and its 95 % interval are DeLong's (the
statistics service's ``auc_ci_delong``); a case is positive when its score >= the threshold, which is the given one
or else Youden's point on these same cases (optimistic: say so when reporting). Sensitivity, specificity, PPV, NPV
and accuracy carry Wilson score 95 % intervals (Wilson 1927; Newcombe 1998, Stat Med 17:857, method 3). Calibration
uses 10 equal-width ("uniform") bins of the predicted probability, as the statistics service; empty bins are left
out. With more than two classes: one-vs-rest AUCs with DeLong intervals, their unweighted (macro) mean over the
classes that have one, the confusion matrix of the arg-max class and per-class sensitivity and PPV.

Segmentation (``segmentation_report``). Class maps hold 0 for background and k + 1 for class k (as training's);
each foreground class of each case is scored with MONAI's metric functions in millimetres (the case's spacing, in
the maps' axis order): Dice, IoU, HD95 (MONAI's: the larger of the two directed 95th-percentile surface distances)
and surface Dice (normalised surface distance, Seidlitz et al. 2022) at ``surface_tolerance_mm``.
Empty maps (what MONAI leaves to the caller, stated here):
- the class in neither map: every metric undefined (None) and left out of the summaries; MONAI gives NaN for HD95
  and surface Dice here, and ``ignore_empty=False`` would give Dice 1, which we do not use: a case without the
  class says nothing about how well it is outlined (as validation's ``metrics.dice_per_class``);
- the class in one map only: Dice, IoU and surface Dice 0 (MONAI's ``ignore_empty=False``); HD95 is infinite and
  reported as None, so HD95 summaries cover only the cases with the class in both maps (counted beside them).

Detection (``detection_report``). Per scan, predicted boxes with scores and 0-based class labels, and true boxes with
labels; boxes are corners in index order (x0, y0[, z0], x1, y1[, z1]), as ``detection_metrics`` takes them, and a
hit needs IoU >= ``iou_threshold`` (0.1 by default) under its greedy matching (by descending score, each lesion
found once: a second prediction on it is a false positive). Two FROCs are reported: "all lesions" ignores the labels
(any prediction may find any lesion: what a single-class nodule detector reports, and the headline) and one per class,
where a prediction finds only lesions of its own class. Sensitivity at 1/8 ... 8 FPs per scan follows
``detection_metrics``' step rule (the lowest score threshold whose FPs/scan stay within the rate), FPs are counted
over all scans, lesion-free ones included, and the CPM is the mean of the seven. mAP is COCO's 101-point AP at IoU
0.1 and 0.5, per class and averaged over the classes with lesions. The lesion and scan tables follow the all-lesions
matching (a lesion's ``predicted_class`` shows a wrong label); a prediction is called when its score >=
``operating_threshold`` (0.5 by default, fixed in advance, not tuned on these scans), which sets each lesion's
``detected``, the scans' counts and the operating point (sensitivity with a Wilson interval that treats lesions as
independent, and FPs per scan). Lesion sizes are per axis, in mm when spacings are given, else in voxels.

Every report breaks down by site (the same report per site, without its tables) when the cases come from two or
more sites. A figure the data cannot define (an AUC on one class, a PPV with no positive call, a sensitivity without
lesions) is None with a note, never an error; NaN and infinity never reach the JSON. ``draw`` renders the plots as
PNG with the statistics service's plot functions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance, compute_iou, compute_surface_dice
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.ml import CALIBRATION_BINS, auc_ci_delong, youden_threshold
from radscholar_training.domain import detection_metrics
from radscholar_training.domain.metrics import segmentation_metrics

LEVEL = 0.95
DEFAULT_THRESHOLD = 0.5  # used, with a note, when no threshold is given and Youden's point is undefined
HD_PERCENTILE = 95
SEGMENTATION_METRICS = ("dice", "iou", "hd95_mm", "surface_dice")
DETECTION_OPERATING_THRESHOLD = 0.5
PLOTS = {
    "classification": ("roc", "calibration", "confusion-matrix"),
    "segmentation": ("dice-box",),
    "detection": ("froc",),
}
INTERVAL_METHOD = "Wilson score interval, 95 %"
AUC_METHOD = "DeLong, 95 % (Wald interval on DeLong's standard error, clipped to [0, 1])"
CALIBRATION_STRATEGY = "uniform"

Report = dict[str, Any]


# --- intervals ---------------------------------------------------------------------------------------------------


def wilson_interval(numerator: int, denominator: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson's score interval of the proportion numerator / denominator (NaNs when the denominator is 0)."""
    if denominator <= 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = numerator / denominator
    scale = 1 + z * z / denominator
    centre = (p + z * z / (2 * denominator)) / scale
    half = z / scale * math.sqrt(p * (1 - p) / denominator + z * z / (4 * denominator * denominator))
    return max(0.0, centre - half), min(1.0, centre + half)


def _proportion(numerator: int, denominator: int) -> dict[str, Any]:
    low, high = wilson_interval(numerator, denominator)
    value = numerator / denominator if denominator else math.nan
    return {"value": value, "low": low, "high": high, "numerator": numerator, "denominator": denominator}


def _auc(truth: NDArray[np.bool_], scores: NDArray[np.float64], name: str, notes: list[str]) -> dict[str, Any]:
    """The AUC of ``scores`` for ``truth`` with DeLong's interval; what the cases cannot define is NaN, noted."""
    entry: dict[str, Any] = {"value": math.nan, "low": math.nan, "high": math.nan, "standard_error": math.nan}
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        notes.append(f"{name}: no AUC, the cases hold {positives} positive and {negatives} negative")
        return entry
    try:
        interval = auc_ci_delong(truth.astype(int), scores, LEVEL)
    except InvalidArgument as error:  # too few of a class for DeLong's variance; the AUC itself is defined
        entry["value"] = float(roc_auc_score(truth, scores))
        notes.append(f"{name}: no interval, {error.message}")
        return entry
    entry.update(value=interval.auc, low=interval.low, high=interval.high, standard_error=interval.standard_error)
    return entry


def _roc(truth: NDArray[np.bool_], scores: NDArray[np.float64]) -> dict[str, list[float]] | None:
    """ROC points (a case is positive when its score >= threshold; the first threshold, +inf, becomes None)."""
    if truth.all() or not truth.any():
        return None
    fpr, tpr, thresholds = roc_curve(truth, scores)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thresholds.tolist()}


def _calibration(truth: NDArray[np.bool_], scores: NDArray[np.float64]) -> dict[str, Any]:
    """Mean predicted probability and observed fraction of positives per equal-width bin (bins as scikit-learn's
    ``calibration_curve``: bin i holds edges[i] < p <= edges[i + 1], the first also 0); empty bins left out."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.searchsorted(edges[1:-1], scores)
    cases = np.bincount(bins, minlength=CALIBRATION_BINS)
    predicted = np.bincount(bins, weights=scores, minlength=CALIBRATION_BINS)
    observed = np.bincount(bins, weights=truth.astype(float), minlength=CALIBRATION_BINS)
    kept = cases > 0
    return {
        "strategy": CALIBRATION_STRATEGY,
        "bins": CALIBRATION_BINS,
        "bin_low": edges[:-1][kept].tolist(),
        "bin_high": edges[1:][kept].tolist(),
        "predicted": (predicted[kept] / cases[kept]).tolist(),
        "observed": (observed[kept] / cases[kept]).tolist(),
        "cases": cases[kept].tolist(),
    }


# --- classification ----------------------------------------------------------------------------------------------


def classification_report(
    probabilities: NDArray[Any],
    targets: NDArray[Any] | Sequence[int],
    class_names: Sequence[str],
    sites: Sequence[str | None] | None = None,
    threshold: float | None = None,
) -> Report:
    """The test report of a classifier: ``probabilities`` (N, K) per class, ``targets`` (N,) class positions,
    ``sites`` (N,) each case's site or None. ``threshold`` (binary only) is the cut-off on class 1's probability;
    None takes Youden's point on these cases. Each site's report applies the overall threshold."""
    scores, truth = _check_classification(probabilities, targets, class_names, threshold)
    names = [str(name) for name in class_names]
    notes: list[str] = []
    if len(names) == 2:
        if threshold is None:
            threshold, source = _youden(truth, scores[:, 1], notes)
        else:
            source = "given"
        report = _binary(scores[:, 1], truth == 1, names, float(threshold), source, notes)
    else:
        if threshold is not None:
            notes.append("a threshold applies to two classes only; the arg-max class is used")
        report = _multiclass(scores, truth, names, notes)
    site_list = _sites(sites, len(truth))
    if site_list is not None:
        breakdown = []
        for site, rows in _groups(site_list):
            site_notes: list[str] = []
            if len(names) == 2:
                part = _binary(scores[rows, 1], truth[rows] == 1, names, report["threshold"], "overall", site_notes)
            else:
                part = _multiclass(scores[rows], truth[rows], names, site_notes)
            breakdown.append({"site": site, **part})
        report["sites"] = breakdown
    return _json(report)


def _check_classification(
    probabilities: Any, targets: Any, class_names: Sequence[str], threshold: float | None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    scores = np.asarray(probabilities, dtype=np.float64)
    k = len(class_names)
    if k < 2:
        raise InvalidArgument(f"a classifier needs two or more classes, got {k}", reason="TOO_FEW_CLASSES")
    if scores.ndim != 2 or scores.shape[1] != k:
        raise InvalidArgument(
            f"probabilities must be (cases, {k}) for {k} classes, got shape {scores.shape}", reason="SHAPE_MISMATCH"
        )
    if scores.shape[0] == 0:
        raise InvalidArgument("no case to test", reason="NO_CASES")
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise InvalidArgument("probabilities must be finite and in [0, 1]", reason="INVALID_PROBABILITIES")
    raw = np.asarray(targets)
    if raw.shape != (scores.shape[0],) or (raw.size and not np.all(np.equal(np.mod(raw, 1), 0))):
        raise InvalidArgument(
            f"targets must be {scores.shape[0]} class positions, one per case", reason="SHAPE_MISMATCH"
        )
    truth = raw.astype(np.int64)
    if truth.min() < 0 or truth.max() >= k:
        raise InvalidArgument(f"targets must be class positions 0..{k - 1}", reason="INVALID_TARGET")
    if threshold is not None and not (math.isfinite(threshold) and 0 <= threshold <= 1):
        raise InvalidArgument(f"threshold must be in [0, 1], got {threshold}", reason="INVALID_THRESHOLD")
    return scores, truth


def _youden(truth: NDArray[np.int64], scores: NDArray[np.float64], notes: list[str]) -> tuple[float, str]:
    if np.unique(truth).size < 2:
        notes.append(f"Youden's point needs both classes; the threshold is {DEFAULT_THRESHOLD}")
        return DEFAULT_THRESHOLD, "default"
    notes.append("the threshold is Youden's point chosen on these same cases, an optimistic operating point")
    return youden_threshold(truth, scores), "youden"


def _binary(
    scores: NDArray[np.float64],
    truth: NDArray[np.bool_],
    names: list[str],
    threshold: float,
    source: str,
    notes: list[str],
) -> Report:
    called = scores >= threshold
    tp, fp = int((called & truth).sum()), int((called & ~truth).sum())
    fn, tn = int((~called & truth).sum()), int((~called & ~truth).sum())
    measures = {
        "sensitivity": (tp, tp + fn, "no positive case"),
        "specificity": (tn, tn + fp, "no negative case"),
        "ppv": (tp, tp + fp, "no case called positive"),
        "npv": (tn, tn + fn, "no case called negative"),
    }
    report: Report = {
        "task": "classification",
        "kind": "binary",
        "class_names": names,
        "positive_class": names[1],
        "cases": int(truth.size),
        "class_counts": {names[0]: int((~truth).sum()), names[1]: int(truth.sum())},
        "auc": {**_auc(truth, scores, "AUC", notes), "method": AUC_METHOD},
        "roc": _roc(truth, scores),
        "threshold": threshold,
        "threshold_source": source,  # "given", "youden", "default" or "overall" (a site's: the whole set's)
        "confusion_matrix": {"labels": names, "matrix": [[tn, fp], [fn, tp]]},  # rows: truth; columns: called
        "counts": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "interval_method": INTERVAL_METHOD,
    }
    for measure, (numerator, denominator, missing) in measures.items():
        report[measure] = _proportion(numerator, denominator)
        if not denominator:
            notes.append(f"{measure}: undefined, {missing}")
    report["accuracy"] = _proportion(tp + tn, truth.size)
    report["calibration"] = _calibration(truth, scores)
    report["brier"] = float(np.mean((scores - truth) ** 2))
    report["notes"] = notes
    return report


def _multiclass(scores: NDArray[np.float64], truth: NDArray[np.int64], names: list[str], notes: list[str]) -> Report:
    k = len(names)
    called = scores.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (truth, called), 1)
    per_class: list[dict[str, Any]] = []
    for c, name in enumerate(names):
        is_c = truth == c
        positives, calls = int(matrix[c].sum()), int(matrix[:, c].sum())
        per_class.append(
            {
                "class": name,
                "cases": positives,
                "auc": {**_auc(is_c, scores[:, c], f"{name} vs rest AUC", notes), "method": AUC_METHOD},
                "roc": _roc(is_c, scores[:, c]),
                "sensitivity": _proportion(int(matrix[c, c]), positives),
                "ppv": _proportion(int(matrix[c, c]), calls),
            }
        )
        if not calls:
            notes.append(f"{name}: PPV undefined, no case called {name}")
    aucs = [entry["auc"]["value"] for entry in per_class if not math.isnan(entry["auc"]["value"])]
    return {
        "task": "classification",
        "kind": "multiclass",
        "class_names": names,
        "cases": int(truth.size),
        "class_counts": {name: int(matrix[c].sum()) for c, name in enumerate(names)},
        "per_class": per_class,
        "macro_auc": float(np.mean(aucs)) if aucs else math.nan,  # over the classes with an AUC
        "macro_auc_classes": len(aucs),
        "confusion_matrix": {"labels": names, "matrix": matrix.tolist()},  # rows: truth; columns: arg-max class
        "accuracy": _proportion(int(np.trace(matrix)), int(truth.size)),
        "interval_method": INTERVAL_METHOD,
        "notes": notes,
    }


# --- segmentation -----------------------------------------------------------------------------------------------


def segmentation_report(
    predicted: Sequence[NDArray[Any]],
    truths: Sequence[NDArray[Any]],
    spacings: Sequence[Sequence[float]],
    class_names: Sequence[str],
    case_ids: Sequence[str],
    sites: Sequence[str | None] | None = None,
    surface_tolerance_mm: float = 1.0,
) -> Report:
    """The test report of a segmentation model: per case and foreground class Dice, IoU, HD95 (mm) and surface
    Dice at ``surface_tolerance_mm``; ``spacings`` in mm in the maps' axis order ((z, y, x) for volumes)."""
    names = [str(name) for name in class_names]
    _check_segmentation(predicted, truths, spacings, names, case_ids, surface_tolerance_mm)
    site_list = _sites(sites, len(case_ids))
    rows: list[dict[str, Any]] = []
    for i, case_id in enumerate(case_ids):
        prediction, truth = np.asarray(predicted[i]), np.asarray(truths[i])
        spacing = tuple(float(s) for s in spacings[i])
        for c, name in enumerate(names):
            row = {"case_id": str(case_id), "site": _site_of(sites, i), "class": name}
            row.update(_case_metrics(prediction == c + 1, truth == c + 1, spacing, surface_tolerance_mm))
            rows.append(row)
    report: Report = {
        "task": "segmentation",
        "class_names": names,
        "cases": len(case_ids),
        "surface_tolerance_mm": float(surface_tolerance_mm),
        "metrics": list(SEGMENTATION_METRICS),
        "conventions": {
            "both_empty": "all metrics None (undefined), left out of the summaries",
            "one_empty": "Dice, IoU and surface Dice 0; HD95 None (infinite), left out of HD95 summaries",
            "hd95": "MONAI: the larger of the two directed 95th-percentile surface distances, in mm",
        },
        "rows": rows,
        **_segmentation_summary(rows, names),
    }
    if site_list is not None:
        report["sites"] = [
            {"site": site, "cases": len(members), **_segmentation_summary([rows[i] for i in members], names)}
            for site, members in _groups_of_rows(site_list, len(names))
        ]
    return _json(report)


def _check_segmentation(
    predicted: Sequence[Any],
    truths: Sequence[Any],
    spacings: Sequence[Sequence[float]],
    names: list[str],
    case_ids: Sequence[str],
    tolerance: float,
) -> None:
    if not names:
        raise InvalidArgument("name at least one foreground class", reason="TOO_FEW_CLASSES")
    if not case_ids:
        raise InvalidArgument("no case to test", reason="NO_CASES")
    if not len(predicted) == len(truths) == len(spacings) == len(case_ids):
        raise InvalidArgument(
            f"{len(case_ids)} cases need as many predictions, truths and spacings; got {len(predicted)}, "
            f"{len(truths)} and {len(spacings)}",
            reason="LENGTH_MISMATCH",
        )
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InvalidArgument(f"surface tolerance must be >= 0 mm, got {tolerance}", reason="INVALID_TOLERANCE")
    for prediction, truth, spacing, case_id in zip(predicted, truths, spacings, case_ids, strict=True):
        p, t = np.asarray(prediction), np.asarray(truth)
        if p.shape != t.shape or p.ndim not in (2, 3):
            raise InvalidArgument(
                f"case {case_id}: prediction {p.shape} and truth {t.shape} must be the same 2D or 3D shape",
                reason="SHAPE_MISMATCH",
                details={"case_id": str(case_id)},
            )
        if len(spacing) != p.ndim or not all(math.isfinite(s) and s > 0 for s in spacing):
            raise InvalidArgument(
                f"case {case_id}: spacing {tuple(spacing)} must be {p.ndim} positive numbers (mm)",
                reason="INVALID_SPACING",
                details={"case_id": str(case_id)},
            )
        for which, values in (("prediction", p), ("truth", t)):
            if values.size and (values.min() < 0 or values.max() > len(names) or not np.all(np.mod(values, 1) == 0)):
                raise InvalidArgument(
                    f"case {case_id}: the {which} holds values outside the class map 0..{len(names)}",
                    reason="INVALID_CLASS_MAP",
                    details={"case_id": str(case_id)},
                )


def _case_metrics(
    prediction: NDArray[np.bool_], truth: NDArray[np.bool_], spacing: tuple[float, ...], tolerance: float
) -> dict[str, Any]:
    """One class of one case, by MONAI's metric functions on the two masks cropped to their joint bounding box
    (one voxel of margin: edges, and so every metric, are unchanged; MONAI crops the same way itself)."""
    in_prediction, in_truth = bool(prediction.any()), bool(truth.any())
    if not in_prediction and not in_truth:
        return {"dice": None, "iou": None, "hd95_mm": None, "surface_dice": None, "empty": "both"}
    if not (in_prediction and in_truth):
        return {
            "dice": 0.0,
            "iou": 0.0,
            "hd95_mm": None,
            "surface_dice": 0.0,
            "empty": "truth" if in_prediction else "prediction",
        }
    window = _bounding_box(prediction | truth)
    y_pred = torch.from_numpy(np.ascontiguousarray(prediction[window]))[None, None].float()
    y = torch.from_numpy(np.ascontiguousarray(truth[window]))[None, None].float()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="the (ground truth|prediction) of class")
        warnings.filterwarnings("ignore", message=".*get_mask_edges:always_return_as_numpy", category=FutureWarning)
        dice = compute_dice(y_pred, y, include_background=True, ignore_empty=False)
        iou = compute_iou(y_pred, y, include_background=True, ignore_empty=False)
        hd95 = compute_hausdorff_distance(
            y_pred, y, include_background=True, percentile=HD_PERCENTILE, spacing=list(spacing)
        )
        surface = compute_surface_dice(y_pred, y, [tolerance], include_background=True, spacing=list(spacing))
    return {
        "dice": float(dice[0, 0]),
        "iou": float(iou[0, 0]),
        "hd95_mm": float(hd95[0, 0]),
        "surface_dice": float(surface[0, 0]),
        "empty": None,
    }


def _bounding_box(mask: NDArray[np.bool_]) -> tuple[slice, ...]:
    window = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        window.append(slice(max(int(present[0]) - 1, 0), int(present[-1]) + 2))
    return tuple(window)


def _segmentation_summary(rows: Sequence[Mapping[str, Any]], names: list[str]) -> dict[str, Any]:
    """Per class: counts of empty maps and, for each metric, the distribution over the cases that define it;
    ``dice``/``dice_k`` as validation's ``segmentation_metrics`` (mean over classes of each class's mean Dice)."""
    summary = []
    for name in names:
        mine = [row for row in rows if row["class"] == name]
        entry: dict[str, Any] = {
            "class": name,
            "cases": len(mine),
            "both_empty": sum(row["empty"] == "both" for row in mine),
            "empty_truth": sum(row["empty"] == "truth" for row in mine),
            "empty_prediction": sum(row["empty"] == "prediction" for row in mine),
        }
        for metric in SEGMENTATION_METRICS:
            entry[metric] = _distribution([row[metric] for row in mine if row[metric] is not None])
        summary.append(entry)
    per_case: dict[str, list[float]] = {}
    for row in rows:
        per_case.setdefault(row["case_id"], []).append(math.nan if row["dice"] is None else row["dice"])
    return {"summary": summary, "validation_metrics": segmentation_metrics(list(per_case.values()))}


def _distribution(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    if not array.size:
        return {"n": 0, "mean": None, "sd": None, "median": None, "q1": None, "q3": None, "iqr": None}
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    return {
        "n": int(array.size),
        "mean": float(array.mean()),
        "sd": float(array.std(ddof=1)) if array.size > 1 else None,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
    }


# --- detection ---------------------------------------------------------------------------------------------------

_Scan = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]
"""One validated scan: predicted boxes (M, 2d), scores (M,), labels (M,), true boxes (N, 2d), labels (N,)."""


def detection_report(
    predictions: Sequence[tuple[ArrayLike, ArrayLike, ArrayLike]],
    truths: Sequence[tuple[ArrayLike, ArrayLike]],
    class_names: Sequence[str],
    case_ids: Sequence[str],
    sites: Sequence[str | None] | None = None,
    spacings: Sequence[Sequence[float]] | None = None,
    iou_threshold: float = 0.1,
    operating_threshold: float = DETECTION_OPERATING_THRESHOLD,
) -> Report:
    """The test report of a detector: per scan ``predictions`` (boxes (M, 2d), scores (M,), class positions (M,))
    and ``truths`` (boxes (N, 2d), class positions (N,)), boxes as corners in index order; ``spacings`` (mm per voxel
    in the same order) give lesion sizes in mm. A hit needs IoU >= ``iou_threshold``; a prediction is called when its
    score >= ``operating_threshold``."""
    names = [str(name) for name in class_names]
    scans = _check_detection(predictions, truths, spacings, names, case_ids, iou_threshold, operating_threshold)
    site_list = _sites(sites, len(case_ids))
    lesion_rows, scan_rows = _detection_rows(
        scans, names, case_ids, sites, spacings, iou_threshold, operating_threshold
    )
    summary = _detection_summary(scans, names, iou_threshold, operating_threshold)
    report: Report = {
        "task": "detection",
        "class_names": names,
        "cases": summary["cases"],
        "lesions": summary["lesions"],
        "predictions": summary["predictions"],
        "iou_threshold": float(iou_threshold),
        "operating_threshold": float(operating_threshold),
        "size_unit": "voxels" if spacings is None else "mm",
        "conventions": {
            "boxes": "corners in index order (x0, y0[, z0], x1, y1[, z1]), continuous coordinates",
            "matching": "greedy by descending score within a scan; each lesion found once, a hit needs IoU >= "
            "iou_threshold; a second prediction on a found lesion is a false positive",
            "all_lesions": "class labels ignored: any prediction may find any lesion",
            "per_class": "a prediction finds only lesions of its own class",
            "froc": "sensitivity of the lowest score threshold whose FPs/scan <= the rate (0 when none); FPs over all "
            "scans; CPM the mean over the rates",
            "map": "COCO 101-point interpolated AP, mean over the classes with lesions",
            "tables": "lesion and scan rows follow the all-lesions matching; called: score >= operating_threshold",
        },
        "froc": summary["froc"],
        "map": summary["map"],
        "operating_point": summary["operating_point"],
        "lesion_rows": lesion_rows,
        "scan_rows": scan_rows,
        "interval_method": INTERVAL_METHOD,
        "notes": summary["notes"],
    }
    if site_list is not None:
        report["sites"] = [
            {"site": site, **_detection_summary([scans[i] for i in members], names, iou_threshold, operating_threshold)}
            for site, members in _groups(site_list)
        ]
    return _json(report)


def _check_detection(
    predictions: Sequence[Any],
    truths: Sequence[Any],
    spacings: Sequence[Sequence[float]] | None,
    names: list[str],
    case_ids: Sequence[str],
    iou_threshold: float,
    operating_threshold: float,
) -> list[_Scan]:
    if not names:
        raise InvalidArgument("name at least one class", reason="TOO_FEW_CLASSES")
    if not case_ids:
        raise InvalidArgument("no case to test", reason="NO_CASES")
    if not len(predictions) == len(truths) == len(case_ids) or (
        spacings is not None and len(spacings) != len(case_ids)
    ):
        raise InvalidArgument(
            f"{len(case_ids)} cases need as many predictions, truths and spacings; got {len(predictions)}, "
            f"{len(truths)} and {'none' if spacings is None else len(spacings)}",
            reason="LENGTH_MISMATCH",
        )
    if not (math.isfinite(iou_threshold) and 0 < iou_threshold <= 1):
        raise InvalidArgument(f"IoU threshold must be in (0, 1], got {iou_threshold}", reason="INVALID_IOU_THRESHOLD")
    if not (math.isfinite(operating_threshold) and 0 <= operating_threshold <= 1):
        raise InvalidArgument(
            f"operating threshold must be in [0, 1], got {operating_threshold}", reason="INVALID_THRESHOLD"
        )
    scans: list[_Scan] = []
    width, first = 0, ""  # the boxes' width (4 or 6) and the case that set it
    for prediction, truth, case_id in zip(predictions, truths, case_ids, strict=True):
        case = str(case_id)
        if len(prediction) != 3 or len(truth) != 2:
            raise _case_error(
                case, "predictions must be (boxes, scores, labels) and truths (boxes, labels)", "BAD_SCAN"
            )
        boxes, true_boxes = _box_array(prediction[0], "predicted boxes", case), _box_array(truth[0], "true boxes", case)
        scores = _score_array(prediction[1], case)
        labels = _label_array(prediction[2], "predicted labels", case, len(names))
        true_labels = _label_array(truth[1], "true labels", case, len(names))
        if not len(boxes) == len(scores) == len(labels) or len(true_boxes) != len(true_labels):
            raise _case_error(
                case,
                f"{len(boxes)} predicted boxes, {len(scores)} scores and {len(labels)} labels; {len(true_boxes)} true "
                f"boxes and {len(true_labels)} labels: each box needs one score and one label",
                "LENGTH_MISMATCH",
            )
        for found in {b.shape[1] for b in (boxes, true_boxes) if len(b)}:
            if width and found != width:
                raise _case_error(
                    case, f"{found // 2}D boxes where case {first} has {width // 2}D ones", "BOX_DIMENSIONS_DIFFER"
                )
            width, first = found, first or case
        scans.append((boxes, scores, labels, true_boxes, true_labels))
    width = width or 4
    scans = [
        (b if len(b) else np.zeros((0, width)), s, p, t if len(t) else np.zeros((0, width)), tl)
        for b, s, p, t, tl in scans
    ]
    for spacing, case_id in zip(spacings or (), case_ids, strict=False):
        if len(spacing) != width // 2 or not all(math.isfinite(s) and s > 0 for s in spacing):
            raise _case_error(
                str(case_id), f"spacing {tuple(spacing)} must be {width // 2} positive numbers (mm)", "INVALID_SPACING"
            )
    return scans


def _case_error(case: str, message: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"case {case}: {message}", reason=reason, details={"case_id": case})


def _box_array(values: ArrayLike, which: str, case: str) -> NDArray[np.float64]:
    try:
        boxes = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise _case_error(case, f"the {which} are not numbers", "INVALID_BOXES") from error
    if boxes.size == 0:
        return np.zeros((0, boxes.shape[1] if boxes.ndim == 2 and boxes.shape[1] in (4, 6) else 4))
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 6):
        raise _case_error(
            case, f"the {which} must be (N, 4) or (N, 6) corners, got shape {boxes.shape}", "INVALID_BOXES"
        )
    d = boxes.shape[1] // 2
    if not np.isfinite(boxes).all() or (boxes[:, d:] < boxes[:, :d]).any():
        raise _case_error(case, f"the {which} must be finite, each upper corner >= its lower one", "INVALID_BOXES")
    return boxes


def _score_array(values: ArrayLike, case: str) -> NDArray[np.float64]:
    try:
        scores = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise _case_error(case, "the scores are not numbers", "INVALID_SCORES") from error
    if scores.size == 0:
        return np.zeros(0)
    if scores.ndim != 1 or not np.isfinite(scores).all() or scores.min() < 0 or scores.max() > 1:
        raise _case_error(case, "the scores must be a list of numbers in [0, 1]", "INVALID_SCORES")
    return scores


def _label_array(values: ArrayLike, which: str, case: str, classes: int) -> NDArray[np.int64]:
    try:
        labels = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise _case_error(case, f"the {which} are not numbers", "INVALID_LABEL") from error
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    if labels.ndim != 1 or not np.all(np.mod(labels, 1) == 0) or labels.min() < 0 or labels.max() >= classes:
        raise _case_error(case, f"the {which} must be class positions 0..{classes - 1}", "INVALID_LABEL")
    return labels.astype(np.int64)


def _of_class(scans: Sequence[_Scan], c: int) -> list[detection_metrics.Scan]:
    """Each scan's predictions and truths of class ``c``, as ``detection_metrics`` takes one class."""
    return [
        (boxes[labels == c], scores[labels == c], true[true_labels == c])
        for boxes, scores, labels, true, true_labels in scans
    ]


def _any_class(scans: Sequence[_Scan]) -> list[detection_metrics.Scan]:
    """Each scan's predictions and truths with the labels dropped (the all-lesions FROC)."""
    return [(boxes, scores, true) for boxes, scores, _, true, _ in scans]


def _detection_summary(
    scans: Sequence[_Scan], names: list[str], iou_threshold: float, operating_threshold: float
) -> dict[str, Any]:
    """FROCs, mAP and the operating point of ``scans`` (the whole set or one site's), with notes."""
    notes: list[str] = []
    lesions = sum(len(scan[3]) for scan in scans)
    if not lesions:
        notes.append("no lesions in any scan: sensitivities, CPM and mAP are undefined")
    per_class_scans = [_of_class(scans, c) for c in range(len(names))]
    froc = {
        "fp_rates": list(detection_metrics.FROC_FP_RATES),
        "all_lesions": _froc(_any_class(scans), "all lesions", iou_threshold, notes if lesions else []),
        "per_class": [
            {"class": name, **_froc(by_class, name, iou_threshold, notes if lesions else [])}
            for name, by_class in zip(names, per_class_scans, strict=True)
        ],
    }
    operating_point = {
        "threshold": float(operating_threshold),
        "all_lesions": _operating_point(_any_class(scans), iou_threshold, operating_threshold),
        "per_class": [
            {"class": name, **_operating_point(by_class, iou_threshold, operating_threshold)}
            for name, by_class in zip(names, per_class_scans, strict=True)
        ],
    }
    return {
        "cases": len(scans),
        "lesions": lesions,
        "predictions": sum(len(scan[1]) for scan in scans),
        "froc": froc,
        "map": _map(scans, names, notes if lesions else []),
        "operating_point": operating_point,
        "notes": notes,
    }


def _froc(scans: list[detection_metrics.Scan], name: str, iou_threshold: float, notes: list[str]) -> dict[str, Any]:
    """``detection_metrics.froc`` without its lesion rows (the report has its own), its notes named."""
    result = detection_metrics.froc(scans, iou_threshold)
    del result["lesion_rows"]
    notes.extend(f"{name}: {note}" for note in result.pop("notes"))
    return result


def _map(scans: Sequence[_Scan], names: list[str], notes: list[str]) -> dict[str, Any]:
    """``detection_metrics.mean_average_precision`` with every class named (absent ones: no AP)."""
    result = detection_metrics.mean_average_precision(list(scans), detection_metrics.MAP_IOU_THRESHOLDS)
    by_label = {row["label"]: row for row in result["per_class"]}
    keys = list(result["map"])
    per_class = []
    for c, name in enumerate(names):
        row = by_label.get(c, {"truths": 0, "predictions": 0, "ap": dict.fromkeys(keys)})
        if not row["truths"]:
            notes.append(f"{name}: no lesions, no AP (left out of mAP)")
        per_class.append({"class": name, "truths": row["truths"], "predictions": row["predictions"], "ap": row["ap"]})
    return {
        "convention": result["convention"],
        "iou_thresholds": result["iou_thresholds"],
        "map": result["map"],
        "per_class": per_class,
    }


def _operating_point(scans: list[detection_metrics.Scan], iou_threshold: float, threshold: float) -> dict[str, Any]:
    """Calls (score >= threshold), hits among them, sensitivity and FPs per scan. Greedy matching by descending
    score makes the calls' matching that of all predictions cut at the threshold, one point of the FROC curve."""
    lesions, tp, fp = 0, 0, 0
    for boxes, scores, true in scans:
        matching = detection_metrics.match(boxes, scores, true, iou_threshold)
        called = np.asarray(scores) >= threshold
        lesions += len(matching.truth_hit)
        tp += int((matching.prediction_hit & called).sum())
        fp += int((~matching.prediction_hit & called).sum())
    return {
        "lesions": lesions,
        "called": tp + fp,
        "tp": tp,
        "fp": fp,
        "fn": lesions - tp,
        "sensitivity": _proportion(tp, lesions),
        "fps_per_scan": fp / len(scans),
    }


def _detection_rows(
    scans: Sequence[_Scan],
    names: list[str],
    case_ids: Sequence[str],
    sites: Sequence[str | None] | None,
    spacings: Sequence[Sequence[float]] | None,
    iou_threshold: float,
    operating_threshold: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per lesion and one per scan, under the all-lesions matching (labels ignored)."""
    lesion_rows: list[dict[str, Any]] = []
    scan_rows: list[dict[str, Any]] = []
    for i, (boxes, scores, labels, true, true_labels) in enumerate(scans):
        case, site = str(case_ids[i]), _site_of(sites, i)
        matching = detection_metrics.match(boxes, scores, true, iou_threshold)
        overlaps = detection_metrics.iou(boxes, true)
        d = true.shape[1] // 2
        scale = np.ones(d) if spacings is None else np.asarray(spacings[i], dtype=np.float64)
        for t in range(len(true)):
            p = int(matching.matched_prediction[t])
            hit = p >= 0
            lesion_rows.append(
                {
                    "case_id": case,
                    "site": site,
                    "lesion": t,  # its position among the case's true boxes
                    "class": names[true_labels[t]],
                    "box": true[t].tolist(),
                    "size": ((true[t, d:] - true[t, :d]) * scale).tolist(),  # per axis, in size_unit
                    "hit": hit,  # at any score
                    "score": float(scores[p]) if hit else None,
                    "iou": float(overlaps[p, t]) if hit else None,
                    "predicted_class": names[labels[p]] if hit else None,
                    "detected": hit and bool(scores[p] >= operating_threshold),  # hit by a call
                }
            )
        called = scores >= operating_threshold
        tp = int((matching.prediction_hit & called).sum())
        scan_rows.append(
            {
                "case_id": case,
                "site": site,
                "truths": len(true),
                "predictions": int(called.sum()),  # calls: score >= operating_threshold
                "tp": tp,
                "fp": int(called.sum()) - tp,
                "fn": len(true) - tp,
            }
        )
    return lesion_rows, scan_rows


# --- sites and JSON ---------------------------------------------------------------------------------------------


def _sites(sites: Sequence[str | None] | None, cases: int) -> list[str | None] | None:
    """The sites as a list when they name two or more distinct values (None counts as one: an unknown site)."""
    if sites is None:
        return None
    if len(sites) != cases:
        raise InvalidArgument(f"{len(sites)} sites for {cases} cases", reason="LENGTH_MISMATCH")
    found = [None if site is None else str(site) for site in sites]
    return found if len(set(found)) >= 2 else None


def _site_of(sites: Sequence[str | None] | None, index: int) -> str | None:
    return None if sites is None or sites[index] is None else str(sites[index])


def _groups(sites: list[str | None]) -> list[tuple[str | None, NDArray[np.int64]]]:
    """Case positions by site, sites in order of first appearance."""
    order = list(dict.fromkeys(sites))
    return [(site, np.flatnonzero([s == site for s in sites])) for site in order]


def _groups_of_rows(sites: list[str | None], per_case: int) -> list[tuple[str | None, list[int]]]:
    """Row positions of the per-case table (``per_case`` rows a case) by site."""
    return [(site, [case * per_case + c for case in cases for c in range(per_case)]) for site, cases in _groups(sites)]


def _json(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- plots -----------------------------------------------------------------------------------------------------


def plot_names(report: Mapping[str, Any]) -> tuple[str, ...]:
    """The plots ``draw`` makes of this report."""
    if report.get("task") == "classification" and report.get("kind") != "binary":
        return ("roc", "confusion-matrix")
    if report.get("task") == "detection" and "outlines" in report:  # an instance segmenter's: Dice of its outlines
        return (*PLOTS["detection"], *PLOTS["segmentation"])
    return PLOTS.get(str(report.get("task")), ())


def draw(name: str, report: Mapping[str, Any]) -> bytes:
    """Plot ``name`` (see ``plot_names``) of a report (as returned, or read back from JSON), as PNG bytes."""
    from radscholar_stats.domain import plots  # matplotlib (Agg) only where plots are drawn

    if name not in plot_names(report):
        raise InvalidArgument(
            f"no plot {name!r} for this report; it has {', '.join(plot_names(report)) or 'none'}",
            reason="UNKNOWN_PLOT",
            details={"plot": name},
        )
    match name:
        case "roc":
            figure = _roc_figure(plots, report)
        case "calibration":
            figure = plots.calibration(report["calibration"]["predicted"], report["calibration"]["observed"])
        case "confusion-matrix":
            figure = plots.confusion_matrix(report["confusion_matrix"]["matrix"], report["confusion_matrix"]["labels"])
        case "froc":
            figure = _froc_figure(report)
        case _:
            figure = _dice_boxes(report.get("outlines", report))
    return plots.render(figure).png


def _roc_curves(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(legend name, roc points, auc) of each curve: the whole set's (binary) or each class's, then each site's."""
    if report["kind"] == "binary":
        curves = [("all cases", report["roc"], report["auc"])]
        curves += [(f"site {part['site']}", part["roc"], part["auc"]) for part in report.get("sites", ())]
    else:
        curves = [(entry["class"], entry["roc"], entry["auc"]) for entry in report["per_class"]]
    return [(name, roc, auc) for name, roc, auc in curves if roc is not None]


def _roc_figure(plots: Any, report: Mapping[str, Any]) -> Any:
    """The statistics service's ROC plot, its legend naming each AUC's DeLong 95 % interval."""
    curves = _roc_curves(report)
    figure = plots.roc(
        [{"name": name, "fpr": roc["fpr"], "tpr": roc["tpr"], "auc": auc["value"]} for name, roc, auc in curves]
    )
    axes = figure.axes[0]
    for line, (name, _, auc) in zip(axes.get_lines(), curves, strict=False):
        interval = f", 95 % CI {auc['low']:.3f}-{auc['high']:.3f}" if auc["low"] is not None else ""
        line.set_label(f"{name}: AUC {auc['value']:.3f}{interval}")
    axes.legend(loc="lower right", fontsize="small")
    return figure


def _dice_boxes(report: Mapping[str, Any]) -> Any:
    import matplotlib.pyplot as plt

    names = list(report["class_names"])
    values = [[row["dice"] for row in report["rows"] if row["class"] == n and row["dice"] is not None] for n in names]
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 4))
    axes.boxplot(values, showmeans=True)
    for position, dice in enumerate(values, start=1):  # every case as a point beside its box
        axes.scatter(np.full(len(dice), position + 0.25), dice, s=8, alpha=0.6, color="black")
    axes.set_xticks(range(1, len(names) + 1), names)
    axes.set(ylabel="Dice", ylim=(-0.02, 1.02), title="Dice per case")
    return figure


def _froc_figure(report: Mapping[str, Any]) -> Any:
    """FROC curves on a log2 axis of FPs per scan (1/8 to 8), as the step rule reads them, dots at the rates:
    all lesions, each class (with two or more), each site's all lesions (dashed); the CPM in the legend."""
    import matplotlib.pyplot as plt

    froc = report["froc"]
    curves = [("all lesions", froc["all_lesions"], "-")]
    if len(report["class_names"]) > 1:
        curves += [(entry["class"], entry, "-") for entry in froc["per_class"]]
    curves += [
        (f"site {part['site']}" if part["site"] is not None else "unknown site", part["froc"]["all_lesions"], "--")
        for part in report.get("sites", ())
    ]
    rates = [float(rate) for rate in froc["fp_rates"]]
    figure, axes = plt.subplots(figsize=(6, 4.5))
    for name, entry, style in curves:
        if not entry["lesions"]:  # no sensitivity to draw
            continue
        fps = np.asarray(entry["curve"]["fps_per_scan"], dtype=np.float64)
        sensitivity = np.asarray(entry["curve"]["sensitivity"], dtype=np.float64)
        steps = np.unique(np.concatenate([[rates[0], rates[-1]], fps[(fps > rates[0]) & (fps < rates[-1])]]))
        values = [float(sensitivity[fps <= rate].max()) if (fps <= rate).any() else 0.0 for rate in steps]
        (line,) = axes.step(steps, values, where="post", linestyle=style, label=f"{name} (CPM {entry['cpm']:.3f})")
        axes.plot(rates, list(entry["sensitivity_at"].values()), "o", markersize=4, color=line.get_color())
    axes.set_xscale("log", base=2)
    labels = [f"1/{round(1 / rate)}" if rate < 1 else f"{rate:g}" for rate in rates]
    axes.set_xticks(rates, labels)
    axes.set(
        xlim=(rates[0], rates[-1]),
        ylim=(0, 1.02),
        xlabel="false positives per scan",
        ylabel="sensitivity",
        title=f"FROC (IoU >= {report['iou_threshold']:g})",
    )
    axes.grid(alpha=0.3)
    if axes.get_lines():
        axes.legend(loc="lower right", fontsize="small")
    return figure


def headline(report: Mapping[str, Any]) -> dict[str, float]:
    """The few numbers a results table shows first: AUC with its interval and the operating point (binary), macro
    AUC (more classes), mean Dice and HD95 per class (segmentation, and an instance segmenter's outlines), CPM,
    sensitivity at 1, 2 and 4 FPs per scan (all lesions) and mAP at IoU 0.1 and 0.5 (detection); None values left
    out."""
    found: dict[str, Any] = {}
    if report["task"] == "detection":
        overall = report["froc"]["all_lesions"]
        found["cpm"] = overall["cpm"]
        for rate in ("1", "2", "4"):
            found[f"sensitivity_at_{rate}fp"] = overall["sensitivity_at"][rate]
        for threshold, value in report["map"]["map"].items():
            found[f"map_iou{round(float(threshold) * 100)}"] = value
    if report["task"] == "segmentation" or "outlines" in report:  # a segmenter's, or an instance segmenter's
        for entry in report.get("outlines", report)["summary"]:
            for metric in ("dice", "hd95_mm", "surface_dice"):
                found[f"{metric}_{entry['class']}"] = entry[metric]["mean"]
    if report["task"] == "classification" and isinstance(report.get("auc"), Mapping):
        found.update(
            {"auc": report["auc"]["value"], "auc_low": report["auc"]["low"], "auc_high": report["auc"]["high"]}
        )
        for metric in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
            found[metric] = report[metric]["value"]
        found["threshold"] = report["threshold"]
    elif report["task"] == "classification":
        found["macro_auc"] = report.get("macro_auc")
    return {name: float(value) for name, value in found.items() if isinstance(value, int | float)}
