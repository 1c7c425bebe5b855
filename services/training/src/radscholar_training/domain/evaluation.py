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

Both reports break down by site (the same report per site) when the cases come from two or more sites. A figure the
data cannot define (an AUC on one class, a PPV with no positive call) is None with a note, never an error; NaN and
infinity never reach the JSON. ``draw`` renders the plots as PNG with the statistics service's plot functions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.metrics import compute_dice, compute_hausdorff_distance, compute_iou, compute_surface_dice
from numpy.typing import NDArray
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.ml import CALIBRATION_BINS, auc_ci_delong, youden_threshold
from radscholar_training.domain.metrics import segmentation_metrics

LEVEL = 0.95
DEFAULT_THRESHOLD = 0.5  # used, with a note, when no threshold is given and Youden's point is undefined
HD_PERCENTILE = 95
SEGMENTATION_METRICS = ("dice", "iou", "hd95_mm", "surface_dice")
PLOTS = {"classification": ("roc", "calibration", "confusion-matrix"), "segmentation": ("dice-box",)}
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
        case _:
            figure = _dice_boxes(report)
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


def headline(report: Mapping[str, Any]) -> dict[str, float]:
    """The few numbers a results table shows first: AUC with its interval and the operating point (binary), macro
    AUC (more classes), mean Dice and HD95 per class (segmentation); None values left out."""
    found: dict[str, Any] = {}
    if report["task"] == "segmentation":
        for entry in report["summary"]:
            for metric in ("dice", "hd95_mm", "surface_dice"):
                found[f"{metric}_{entry['class']}"] = entry[metric]["mean"]
    elif "auc" in report and isinstance(report["auc"], Mapping):
        found.update(
            {"auc": report["auc"]["value"], "auc_low": report["auc"]["low"], "auc_high": report["auc"]["high"]}
        )
        for metric in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
            found[metric] = report[metric]["value"]
        found["threshold"] = report["threshold"]
    else:
        found["macro_auc"] = report.get("macro_auc")
    return {name: float(value) for name, value in found.items() if isinstance(value, int | float)}
