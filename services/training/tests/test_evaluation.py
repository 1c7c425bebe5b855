"""Model-testing metrics checked against published values (DeLong's interval on Hanley & McNeil's ratings as Stata
prints it, Wilson intervals as Newcombe tabulates them), hand-worked cases, scikit-learn and MONAI's metric classes
run directly on the same arrays."""

import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from monai.metrics import DiceMetric, HausdorffDistanceMetric, MeanIoU, SurfaceDiceMetric
from sklearn.metrics import brier_score_loss, confusion_matrix, precision_score, recall_score, roc_auc_score

from radscholar_core.errors import InvalidArgument
from radscholar_stats.domain.ml import auc_ci_delong, youden_threshold
from radscholar_training.domain.evaluation import (
    classification_report,
    draw,
    plot_names,
    segmentation_report,
    wilson_interval,
)
from radscholar_training.domain.metrics import dice_per_class, segmentation_metrics

RNG = np.random.default_rng(20260901)


def _strict_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report through strict JSON (no NaN or infinity allowed), as a browser would read it."""
    return json.loads(json.dumps(report, allow_nan=False))


def _binary_probabilities(scores: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - scores, scores])


# --- classification ---------------------------------------------------------------------------------------------


def test_delong_interval_matches_stata_on_hanley_and_mcneil_ratings() -> None:
    """Hanley & McNeil (1982, Radiology 143:29, table 1): 109 CT images rated 1-5; Stata's ``roctab`` (DeLong's
    standard error, [R] roctab example 1) prints area 0.8932, SE 0.0307, 95 % CI 0.83295-0.95339."""
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    ratings = np.concatenate([np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)])
    targets = np.repeat([0, 1], [58, 51])
    report = classification_report(_binary_probabilities(ratings / 5), targets, ["normal", "abnormal"])
    auc = report["auc"]
    assert auc["value"] == pytest.approx(0.8932, abs=5e-5)
    assert auc["standard_error"] == pytest.approx(0.0307, abs=5e-5)
    assert (auc["low"], auc["high"]) == (pytest.approx(0.83295, abs=5e-6), pytest.approx(0.95339, abs=5e-6))
    assert report["class_counts"] == {"normal": 58, "abnormal": 51} and report["positive_class"] == "abnormal"


def test_wilson_interval_matches_newcombes_table() -> None:
    """Newcombe (1998, Stat Med 17:857), table I, method 3 (score interval without continuity correction)."""
    for (k, n), (low, high) in {
        (81, 263): (0.2553, 0.3662),
        (15, 148): (0.0624, 0.1605),
        (0, 20): (0.0, 0.1611),
        (1, 29): (0.0061, 0.1718),
    }.items():
        assert wilson_interval(k, n) == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_confusion_matrix_and_derived_values_at_a_given_threshold_by_hand() -> None:
    # positives: 0.9 0.8 0.7 0.5 (= threshold: called positive) 0.2 -> tp 4, fn 1
    # negatives: 0.6 0.55 0.4 0.3 0.1 -> fp 2, tn 3
    scores = np.array([0.9, 0.8, 0.7, 0.5, 0.2, 0.6, 0.55, 0.4, 0.3, 0.1])
    targets = np.repeat([1, 0], 5)
    report = _strict_json(
        classification_report(_binary_probabilities(scores), targets, ["benign", "malignant"], None, 0.5)
    )
    assert report["confusion_matrix"] == {"labels": ["benign", "malignant"], "matrix": [[3, 2], [1, 4]]}
    assert report["counts"] == {"tp": 4, "fp": 2, "tn": 3, "fn": 1}
    assert report["threshold"] == 0.5 and report["threshold_source"] == "given"
    expected = {"sensitivity": (4, 5), "specificity": (3, 5), "ppv": (4, 6), "npv": (3, 4), "accuracy": (7, 10)}
    for measure, (k, n) in expected.items():
        entry = report[measure]
        assert (entry["numerator"], entry["denominator"]) == (k, n)
        assert entry["value"] == pytest.approx(k / n)
        assert (entry["low"], entry["high"]) == pytest.approx(wilson_interval(k, n))
    # sensitivity 4/5: Wilson 95 % interval 0.3755-0.9638 (z = 1.95996)
    assert (report["sensitivity"]["low"], report["sensitivity"]["high"]) == (
        pytest.approx(0.3755, abs=5e-5),
        pytest.approx(0.9638, abs=5e-5),
    )
    assert report["brier"] == pytest.approx(brier_score_loss(targets, scores))
    assert "Wilson" in report["interval_method"] and report["notes"] == []


def test_youden_threshold_roc_and_calibration_agree_with_scikit_learn() -> None:
    targets = RNG.integers(0, 2, 300)
    scores = 1 / (1 + np.exp(-(RNG.normal(0, 1, 300) + 1.5 * targets - 0.7)))
    report = _strict_json(classification_report(_binary_probabilities(scores), targets, ["no", "yes"]))
    assert report["threshold"] == youden_threshold(targets, scores) and report["threshold_source"] == "youden"
    assert any("Youden" in note for note in report["notes"])
    assert report["auc"]["value"] == pytest.approx(roc_auc_score(targets, scores), abs=1e-12)
    delong = auc_ci_delong(targets, scores)
    assert (report["auc"]["low"], report["auc"]["high"]) == (pytest.approx(delong.low), pytest.approx(delong.high))
    roc = report["roc"]
    assert roc["thresholds"][0] is None and roc["fpr"][0] == 0 and roc["tpr"][-1] == 1
    assert len(roc["fpr"]) == len(roc["tpr"]) == len(roc["thresholds"])
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(targets, scores, n_bins=10, strategy="uniform")
    calibration = report["calibration"]
    assert calibration["strategy"] == "uniform" and sum(calibration["cases"]) == 300
    np.testing.assert_allclose(calibration["observed"], observed)
    np.testing.assert_allclose(calibration["predicted"], predicted)
    called = scores >= report["threshold"]
    assert report["counts"]["tp"] == int((called & (targets == 1)).sum())


def test_multiclass_one_vs_rest_aucs_confusion_and_per_class_values() -> None:
    targets = np.tile([0, 1, 2], 40)
    logits = RNG.normal(0, 1, (120, 3)) + 1.2 * np.eye(3)[targets]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = ["cyst", "benign", "malignant"]
    report = _strict_json(classification_report(probabilities, targets, names, threshold=0.4))
    assert report["kind"] == "multiclass" and any("arg-max" in note for note in report["notes"])
    called = probabilities.argmax(axis=1)
    assert report["confusion_matrix"]["matrix"] == confusion_matrix(targets, called).tolist()
    recall, precision = recall_score(targets, called, average=None), precision_score(targets, called, average=None)
    for c, entry in enumerate(report["per_class"]):
        assert entry["class"] == names[c] and entry["cases"] == 40
        delong = auc_ci_delong(targets == c, probabilities[:, c])
        assert entry["auc"]["value"] == pytest.approx(roc_auc_score(targets == c, probabilities[:, c]))
        assert (entry["auc"]["low"], entry["auc"]["high"]) == (pytest.approx(delong.low), pytest.approx(delong.high))
        assert entry["sensitivity"]["value"] == pytest.approx(recall[c])
        assert entry["ppv"]["value"] == pytest.approx(precision[c])
    macro = roc_auc_score(targets, probabilities, multi_class="ovr", average="macro")
    assert report["macro_auc"] == pytest.approx(macro) and report["macro_auc_classes"] == 3
    assert report["accuracy"]["value"] == pytest.approx((called == targets).mean())


def test_per_site_breakdown_applies_the_overall_threshold() -> None:
    targets = np.tile([0, 1], 60)
    scores = np.clip(RNG.normal(0.4, 0.15, 120) + 0.25 * targets, 0, 1)
    sites = ["north"] * 50 + ["south"] * 40 + [None] * 30
    report = _strict_json(classification_report(_binary_probabilities(scores), targets, ["no", "yes"], sites))
    assert [part["site"] for part in report["sites"]] == ["north", "south", None]
    for part, rows in zip(report["sites"], (slice(0, 50), slice(50, 90), slice(90, 120)), strict=True):
        alone = _strict_json(
            classification_report(
                _binary_probabilities(scores[rows]), targets[rows], ["no", "yes"], None, report["threshold"]
            )
        )
        assert part["threshold_source"] == "overall" and part["threshold"] == report["threshold"]
        assert part["cases"] == alone["cases"] and part["counts"] == alone["counts"]
        assert part["auc"] == alone["auc"] and part["sensitivity"] == alone["sensitivity"]
    one_site = classification_report(_binary_probabilities(scores), targets, ["no", "yes"], ["north"] * 120)
    assert "sites" not in one_site


def test_degenerate_splits_give_none_with_notes_never_an_error() -> None:
    scores = np.array([0.1, 0.7, 0.3, 0.2])
    only_negatives = _strict_json(classification_report(_binary_probabilities(scores), [0, 0, 0, 0], ["no", "yes"]))
    assert only_negatives["auc"]["value"] is None and only_negatives["roc"] is None
    assert only_negatives["threshold"] == 0.5 and only_negatives["threshold_source"] == "default"
    assert only_negatives["sensitivity"]["value"] is None and only_negatives["sensitivity"]["low"] is None
    assert only_negatives["specificity"]["value"] == 0.75 and only_negatives["ppv"]["value"] == 0.0
    assert any("AUC" in note for note in only_negatives["notes"])
    assert any("sensitivity" in note for note in only_negatives["notes"])

    one_positive = _strict_json(classification_report(_binary_probabilities(scores), [0, 1, 0, 0], ["no", "yes"]))
    assert one_positive["auc"]["value"] == 1.0 and one_positive["auc"]["low"] is None
    assert any("no interval" in note for note in one_positive["notes"])

    # a site holding one class: its AUC is undefined, the other site's is not
    sites = ["a", "a", "b", "b", "b", "b"]
    mixed = _strict_json(
        classification_report(
            _binary_probabilities(np.array([0.2, 0.3, 0.1, 0.9, 0.4, 0.8])), [0, 0, 0, 1, 0, 1], ["no", "yes"], sites
        )
    )
    assert mixed["sites"][0]["auc"]["value"] is None and mixed["sites"][1]["auc"]["value"] == 1.0

    three = _strict_json(classification_report(np.full((3, 3), 1 / 3), [0, 0, 0], ["a", "b", "c"]))
    assert three["per_class"][0]["auc"]["value"] is None and three["macro_auc"] is None
    assert three["per_class"][1]["ppv"]["value"] is None and three["per_class"][1]["sensitivity"]["value"] is None


def test_invalid_classification_inputs_are_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        classification_report(np.full((4, 3), 0.3), [0, 1, 0, 1], ["no", "yes"])
    assert error.value.reason == "SHAPE_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        classification_report(np.full((2, 2), 0.5), [0, 2], ["no", "yes"])
    assert error.value.reason == "INVALID_TARGET"
    with pytest.raises(InvalidArgument) as error:
        classification_report(np.full((2, 2), 1.5), [0, 1], ["no", "yes"])
    assert error.value.reason == "INVALID_PROBABILITIES"
    with pytest.raises(InvalidArgument) as error:
        classification_report(np.full((2, 2), 0.5), [0, 1], ["no", "yes"], ["a"])
    assert error.value.reason == "LENGTH_MISMATCH"


# --- segmentation -----------------------------------------------------------------------------------------------


def _cube_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 4 x 4 x 4 voxel cube and the same cube moved one slice along z."""
    truth, prediction = np.zeros((8, 8, 8), np.int64), np.zeros((8, 8, 8), np.int64)
    truth[2:6, 2:6, 2:6] = 1
    prediction[3:7, 2:6, 2:6] = 1
    return prediction, truth


def test_hand_worked_cube_with_anisotropic_spacing() -> None:
    """Overlap 3 of 4 slices: Dice 2*48/128 = 0.75, IoU 48/80 = 0.6. Edges (all but the 2x2x2 core, 56 voxels a
    cube): 16 of each cube's edge voxels (its unshared face) lie 2.5 mm (one slice) from the other's edge, 4 (the
    inner face's core) 0.8 mm (one in-plane voxel), 36 on the other's edge: HD95 = 2.5 mm; surface Dice at 1 mm
    (36 + 4) * 2 / 112 = 5/7, at 0.5 mm 36 * 2 / 112 = 9/14."""
    prediction, truth = _cube_pair()
    for tolerance, surface_dice in ((1.0, 5 / 7), (0.5, 9 / 14), (2.5, 1.0)):
        report = segmentation_report([prediction], [truth], [(2.5, 0.8, 0.8)], ["nodule"], ["c1"], None, tolerance)
        (row,) = report["rows"]
        assert row["dice"] == pytest.approx(0.75) and row["iou"] == pytest.approx(0.6)
        assert row["hd95_mm"] == pytest.approx(2.5) and row["surface_dice"] == pytest.approx(surface_dice, abs=1e-6)
        assert row["empty"] is None and row["case_id"] == "c1" and row["site"] is None
    turned = segmentation_report([prediction], [truth], [(0.8, 0.8, 2.5)], ["nodule"], ["c1"])  # z now 0.8 mm
    assert turned["rows"][0]["hd95_mm"] == pytest.approx(0.8) and turned["rows"][0]["dice"] == pytest.approx(0.75)


def _blob(shape: tuple[int, ...], centre: np.ndarray, radius: float) -> np.ndarray:
    grid = np.indices(shape).reshape(len(shape), -1).T
    noise = RNG.normal(0, 0.6, grid.shape[0])
    return (np.linalg.norm(grid - centre, axis=1) + noise < radius).reshape(shape)


def _class_map(shape: tuple[int, ...], centres: list[np.ndarray], radii: list[float]) -> np.ndarray:
    labels = np.zeros(shape, np.int64)
    for value, (centre, radius) in enumerate(zip(centres, radii, strict=True), start=1):
        labels[_blob(shape, centre, radius)] = value
    return labels


def _tensor(value: Any) -> torch.Tensor:
    assert isinstance(value, torch.Tensor)  # a MONAI metric's per-case, per-class values (reduction "none")
    return value


def _one_hot(labels: np.ndarray, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(labels), classes).movedim(-1, 0)[None].float()


def test_segmentation_metrics_equal_monai_metric_classes_on_the_full_arrays() -> None:
    shapes = [(12, 20, 18), (10, 16, 16), (14, 18, 20)]
    spacings = [(3.0, 0.7, 0.7), (1.5, 0.9, 1.1), (2.0, 0.5, 0.6)]
    predicted, truths = [], []
    for shape in shapes:
        centres = [np.array(shape) / 2 - 2, np.array(shape) / 2 + 2.5]
        truths.append(_class_map(shape, centres, [4.0, 3.0]))
        predicted.append(_class_map(shape, [c + RNG.normal(0, 0.8, 3) for c in centres], [3.6, 3.4]))
    report = segmentation_report(predicted, truths, spacings, ["liver", "tumour"], ["a", "b", "c"], None, 1.5)
    assert [(r["case_id"], r["class"]) for r in report["rows"]] == [
        (case, name) for case in "abc" for name in ("liver", "tumour")
    ]
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=False)
    iou = MeanIoU(include_background=False, reduction="none", ignore_empty=False)
    hd95 = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")
    surface = SurfaceDiceMetric([1.5, 1.5], include_background=False, reduction="none")
    for i, (prediction, truth, spacing) in enumerate(zip(predicted, truths, spacings, strict=True)):
        p, t = _one_hot(prediction, 3), _one_hot(truth, 3)
        expected = {
            "dice": dice(p, t)[0],
            "iou": iou(p, t)[0],
            "hd95_mm": hd95(p, t, spacing=list(spacing))[0],
            "surface_dice": surface(p, t, spacing=list(spacing))[0],
        }
        for c in range(2):
            row = report["rows"][2 * i + c]
            assert row["empty"] is None  # both maps hold the class: MONAI defines every metric
            for metric, values in expected.items():
                assert row[metric] == pytest.approx(float(values[c]), abs=1e-6), (i, c, metric)
        assert [report["rows"][2 * i + c]["dice"] for c in range(2)] == pytest.approx(
            dice_per_class(prediction, truth, 3)
        )
    liver = report["summary"][0]
    values = [r["dice"] for r in report["rows"] if r["class"] == "liver"]
    assert liver["dice"]["n"] == 3 and liver["dice"]["mean"] == pytest.approx(np.mean(values))
    assert liver["dice"]["sd"] == pytest.approx(np.std(values, ddof=1))
    assert liver["dice"]["median"] == pytest.approx(np.median(values))
    q1, q3 = np.percentile(values, [25, 75])
    assert (liver["dice"]["q1"], liver["dice"]["q3"], liver["dice"]["iqr"]) == pytest.approx((q1, q3, q3 - q1))
    assert report["validation_metrics"] == pytest.approx(
        segmentation_metrics([dice_per_class(p, t, 3) for p, t in zip(predicted, truths, strict=True)])
    )


def test_empty_maps_follow_the_stated_conventions() -> None:
    prediction, truth = _cube_pair()
    prediction[0, 0, 0] = 3  # class 3 predicted only; class 2 in the truth only; class 4 in neither
    truth[7, 7, 7] = 2
    names = ["nodule", "vessel", "artefact", "calcification"]
    report = _strict_json(segmentation_report([prediction], [truth], [(1.0, 1.0, 1.0)], names, ["c1"]))
    rows = {row["class"]: row for row in report["rows"]}
    assert rows["vessel"] == {
        "case_id": "c1",
        "site": None,
        "class": "vessel",
        "dice": 0.0,
        "iou": 0.0,
        "hd95_mm": None,
        "surface_dice": 0.0,
        "empty": "prediction",
    }
    assert rows["artefact"]["empty"] == "truth" and rows["artefact"]["dice"] == 0.0
    assert rows["calcification"]["empty"] == "both"
    assert all(rows["calcification"][m] is None for m in ("dice", "iou", "hd95_mm", "surface_dice"))
    # MONAI agrees where it defines a value: Dice 0 with ignore_empty=False, surface Dice 0, HD95 not finite
    p, t = _one_hot(prediction, 5), _one_hot(truth, 5)
    dice = _tensor(DiceMetric(include_background=False, reduction="none", ignore_empty=False)(p, t))
    assert dice[0, 1:3].tolist() == [0, 0]
    monai_hd = _tensor(HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(p, t))[0]
    assert not torch.isfinite(monai_hd[1:]).any()
    nsd = _tensor(SurfaceDiceMetric([1.0] * 4, include_background=False, reduction="none")(p, t))[0]
    assert nsd[1:3].tolist() == [0, 0] and math.isnan(float(nsd[3]))
    summary = {entry["class"]: entry for entry in report["summary"]}
    assert (summary["vessel"]["empty_prediction"], summary["artefact"]["empty_truth"]) == (1, 1)
    assert summary["calcification"]["both_empty"] == 1 and summary["calcification"]["dice"]["n"] == 0
    assert summary["vessel"]["hd95_mm"]["n"] == 0 and summary["vessel"]["dice"]["mean"] == 0.0
    assert report["validation_metrics"]["dice_3"] is None  # as validation's segmentation_metrics: NaN -> None


def test_segmentation_per_site_summaries() -> None:
    prediction, truth = _cube_pair()
    perfect = truth.copy()
    report = segmentation_report(
        [prediction, perfect, prediction],
        [truth, truth, truth],
        [(1.0, 1.0, 1.0)] * 3,
        ["nodule"],
        ["a", "b", "c"],
        ["north", "south", "north"],
    )
    north, south = report["sites"]
    assert (north["site"], north["cases"], south["site"], south["cases"]) == ("north", 2, "south", 1)
    assert north["summary"][0]["dice"]["mean"] == pytest.approx(0.75) and north["summary"][0]["dice"]["sd"] == 0.0
    assert south["summary"][0]["dice"]["mean"] == 1.0 and south["summary"][0]["dice"]["sd"] is None
    assert south["summary"][0]["hd95_mm"]["median"] == 0.0
    assert [row["site"] for row in report["rows"]] == ["north", "south", "north"]
    assert report["summary"][0]["dice"]["mean"] == pytest.approx((0.75 * 2 + 1) / 3)


def test_invalid_segmentation_inputs_are_refused() -> None:
    prediction, truth = _cube_pair()
    with pytest.raises(InvalidArgument) as error:
        segmentation_report([prediction], [truth[:4]], [(1.0, 1.0, 1.0)], ["nodule"], ["c1"])
    assert error.value.reason == "SHAPE_MISMATCH" and error.value.details["case_id"] == "c1"
    with pytest.raises(InvalidArgument) as error:
        segmentation_report([prediction], [truth], [(1.0, 1.0)], ["nodule"], ["c1"])
    assert error.value.reason == "INVALID_SPACING"
    with pytest.raises(InvalidArgument) as error:
        segmentation_report([prediction + 1], [truth], [(1.0, 1.0, 1.0)], ["nodule"], ["c1"])
    assert error.value.reason == "INVALID_CLASS_MAP"


# --- plots -----------------------------------------------------------------------------------------------------


def test_every_plot_of_a_report_read_back_from_json_is_a_png() -> None:
    targets = np.tile([0, 1], 20)
    scores = np.clip(RNG.normal(0.4, 0.2, 40) + 0.3 * targets, 0, 1)
    binary = _strict_json(
        classification_report(_binary_probabilities(scores), targets, ["no", "yes"], ["a"] * 20 + ["b"] * 20)
    )
    probabilities = RNG.dirichlet([1, 1, 1], 30)
    multiclass = _strict_json(classification_report(probabilities, np.tile([0, 1, 2], 10), ["a", "b", "c"]))
    prediction, truth = _cube_pair()
    segmentation = _strict_json(
        segmentation_report([prediction, truth], [truth, truth], [(1.0, 1.0, 1.0)] * 2, ["nodule"], ["a", "b"])
    )
    assert plot_names(binary) == ("roc", "calibration", "confusion-matrix")
    assert plot_names(multiclass) == ("roc", "confusion-matrix") and plot_names(segmentation) == ("dice-box",)
    for report in (binary, multiclass, segmentation):
        for name in plot_names(report):
            assert draw(name, report).startswith(b"\x89PNG\r\n\x1a\n"), name
    with pytest.raises(InvalidArgument) as error:
        draw("calibration", multiclass)
    assert error.value.reason == "UNKNOWN_PLOT"
