"""Detection metrics against hand-worked cases and reference implementations (torchvision, MONAI)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from monai.apps.detection.metrics.coco import COCOMetric
from monai.apps.detection.metrics.matching import matching_batch
from monai.data.box_utils import box_iou as monai_box_iou
from torchvision.ops import box_iou as torchvision_box_iou

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.detection_metrics import (
    average_precision,
    froc,
    iou,
    match,
    mean_average_precision,
)

CUBE = [0, 0, 0, 10, 10, 10]
FAR = [50, 50, 50, 60, 60, 60]


def _monai_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(monai_box_iou(a, b))


def _random_boxes(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    low = rng.uniform(0, 20, size=(n, dims))
    return np.concatenate([low, low + rng.uniform(1, 10, size=(n, dims))], axis=1)


def _hand_worked_scans() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two 3D scans, three lesions (L0, L1 in scan 0; L2 in scan 1), seven predictions.

    scan 0: 0.9 on L0 (IoU 1, hit); 0.8 far away (FP); 0.6 on L0 shifted by 1 (L0 taken: FP);
            0.3 on the lower half of L1 (IoU 500/1000 = 0.5, hit)
    scan 1: 0.7 and 0.5 far away (FP); 0.1 touching L2 in one voxel (IoU 1/1999 < 0.1: FP, L2 missed)
    """
    scan0 = (
        np.array([CUBE, FAR, [1, 1, 1, 11, 11, 11], [20, 20, 20, 30, 30, 25]], dtype=float),
        np.array([0.9, 0.8, 0.6, 0.3]),
        np.array([CUBE, [20, 20, 20, 30, 30, 30]], dtype=float),
    )
    scan1 = (
        np.array([FAR, [70, 70, 70, 80, 80, 80], [9, 9, 9, 19, 19, 19]], dtype=float),
        np.array([0.7, 0.5, 0.1]),
        np.array([CUBE], dtype=float),
    )
    return [scan0, scan1]


def test_iou_agrees_with_torchvision_in_2d() -> None:
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7, 2), _random_boxes(rng, 5, 2)
    expected = torchvision_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(iou(a, b), expected, rtol=1e-12)


def test_iou_in_3d_by_hand_and_against_monai() -> None:
    # two 2x2x2 cubes overlapping in a 1x1x1 corner: 1 / (8 + 8 - 1)
    assert iou([[0, 0, 0, 2, 2, 2]], [[1, 1, 1, 3, 3, 3]])[0, 0] == pytest.approx(1 / 15)
    assert iou([[0, 0, 0, 2, 2, 2]], [[2, 0, 0, 4, 2, 2]])[0, 0] == 0.0  # touching faces
    rng = np.random.default_rng(1)
    a, b = _random_boxes(rng, 6, 3), _random_boxes(rng, 4, 3)
    np.testing.assert_allclose(iou(a, b), monai_box_iou(a, b), atol=1e-6)
    assert iou(np.zeros((0, 6)), b).shape == (0, 4)


def test_match_is_greedy_by_score_and_each_truth_found_once() -> None:
    truths = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
    # the lower-scoring box fits truth 0 best, but the higher-scoring one claims it first
    predictions = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=float)
    matching = match(predictions, [0.4, 0.9, 0.5], truths, 0.5)
    assert matching.matched_truth.tolist() == [-1, 0, -1]
    assert matching.truth_hit.tolist() == [True, False]
    assert matching.matched_prediction.tolist() == [1, -1]
    json.dumps(matching.to_json())


def test_match_agrees_with_monai_matching() -> None:
    rng = np.random.default_rng(2)
    for _ in range(5):
        predictions, truths = _random_boxes(rng, 8, 3), _random_boxes(rng, 4, 3)
        scores = rng.uniform(size=8)
        reference = matching_batch(
            iou_fn=_monai_iou,
            iou_thresholds=[0.1, 0.3],
            pred_boxes=[predictions],
            pred_classes=[np.zeros(8, dtype=int)],
            pred_scores=[scores],
            gt_boxes=[truths],
            gt_classes=[np.zeros(4, dtype=int)],
        )[0][0]
        order = np.argsort(-scores, kind="mergesort")
        for t, threshold in enumerate([0.1, 0.3]):
            matching = match(predictions, scores, truths, threshold)
            assert matching.prediction_hit[order].tolist() == reference["dtMatches"][t].astype(bool).tolist()
            assert matching.truth_hit.tolist() == reference["gtMatches"][t].astype(bool).tolist()


def test_froc_hand_worked_case() -> None:
    # Pooled by score (hit or FP): 0.9 H, 0.8 FP, 0.7 FP, 0.6 FP, 0.5 FP, 0.3 H, 0.1 FP; 2 scans, 3 lesions.
    # threshold: FPs/scan, sensitivity
    #   0.9: 0.0, 1/3 | 0.8: 0.5, 1/3 | 0.7: 1.0, 1/3 | 0.6: 1.5, 1/3 | 0.5: 2.0, 1/3 | 0.3: 2.0, 2/3 | 0.1: 2.5, 2/3
    # lowest threshold within each rate: 1/8, 1/4 -> 0.9 (1/3); 1/2 -> 0.8 (1/3); 1 -> 0.7 (1/3);
    #   2 -> 0.3 (2/3); 4, 8 -> 0.1 (2/3).  CPM = (4 * 1/3 + 3 * 2/3) / 7 = 10/21.
    result = froc(_hand_worked_scans(), iou_threshold=0.1)
    third = 1 / 3
    expected = {"0.125": third, "0.25": third, "0.5": third, "1": third, "2": 2 * third, "4": 2 * third}
    expected["8"] = 2 * third
    assert result["sensitivity_at"] == pytest.approx(expected)
    assert result["cpm"] == pytest.approx(10 / 21)
    assert result["curve"]["thresholds"] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.1])
    assert result["curve"]["fps_per_scan"] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.5])
    assert (result["lesions"], result["hits"], result["misses"], result["predictions"]) == (3, 2, 1, 7)
    rows = result["lesion_rows"]
    assert [(r["scan"], r["truth"], r["hit"], r["score"]) for r in rows] == [
        (0, 0, True, 0.9),
        (0, 1, True, 0.3),
        (1, 0, False, None),
    ]
    assert rows[1]["best_iou"] == pytest.approx(0.5)
    assert rows[2]["best_iou"] == pytest.approx(1 / 1999)
    json.dumps(result, allow_nan=False)
    # at IoU 0.6 the half-overlapping prediction no longer finds L1: 1/3 at every rate
    assert froc(_hand_worked_scans(), iou_threshold=0.6)["cpm"] == pytest.approx(1 / 3)


def test_froc_linear_interpolation_differs_only_between_operating_points() -> None:
    # one scan, one lesion, a hit and a false positive tied at 0.5: the curve jumps from (0, 0) to (1, 1)
    scans = [(np.array([CUBE, FAR], dtype=float), np.array([0.5, 0.5]), np.array([CUBE], dtype=float))]
    assert froc(scans, fp_rates=(0.5, 1.0))["sensitivity_at"] == {"0.5": 0.0, "1": 1.0}
    assert froc(scans, fp_rates=(0.5, 1.0), interpolation="linear")["sensitivity_at"] == {"0.5": 0.5, "1": 1.0}
    # on the hand-worked case linear interpolation ends where the step rule does at the LUNA16 rates
    assert froc(_hand_worked_scans(), interpolation="linear")["cpm"] == pytest.approx(10 / 21)


def test_average_precision_by_hand() -> None:
    # one scan, two truths; ranks 0.9 hit, 0.8 FP, 0.7 hit: recall .5 .5 1, precision 1 .5 2/3, envelope 1 2/3 2/3.
    # recall points 0 .. 0.50 (51) take 1, 0.51 .. 1 (50) take 2/3: AP = (51 + 50 * 2/3) / 101
    truths = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    predictions = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], dtype=float)
    scans = [(predictions, np.array([0.9, 0.8, 0.7]), truths)]
    assert average_precision(scans, 0.5) == pytest.approx((51 + 50 * 2 / 3) / 101)


def test_mean_average_precision_agrees_with_monai_coco_metric() -> None:
    rng = np.random.default_rng(3)
    scans, predictions, scores, pred_labels, truths, true_labels = [], [], [], [], [], []
    for _ in range(4):
        truth = _random_boxes(rng, 3, 3)
        # noisy copies of the truths plus random boxes, in two classes
        noisy = truth + rng.normal(0, 1.5, size=truth.shape)
        noisy[:, 3:] = np.maximum(noisy[:, 3:], noisy[:, :3] + 0.5)
        prediction = np.concatenate([noisy, _random_boxes(rng, 4, 3)])
        score = rng.uniform(size=len(prediction))
        label, truth_label = rng.integers(0, 2, size=len(prediction)), rng.integers(0, 2, size=3)
        scans.append((prediction, score, label, truth, truth_label))
        predictions.append(prediction)
        scores.append(score)
        pred_labels.append(label)
        truths.append(truth)
        true_labels.append(truth_label)
    coco = COCOMetric(classes=["a", "b"], iou_list=(0.1, 0.5), iou_range=(0.1, 0.5, 0.4), max_detection=(100,))
    coco.verbose = False
    matched = matching_batch(
        _monai_iou, list(coco.iou_thresholds), predictions, pred_labels, scores, truths, true_labels
    )
    reference, _ = coco(matched)
    result = mean_average_precision(scans, iou_thresholds=(0.1, 0.5))
    assert result["convention"] == "coco-101-point"
    for threshold, key in (("0.1", "0.10"), ("0.5", "0.50")):
        assert result["map"][threshold] == pytest.approx(reference[f"AP_IoU_{key}_MaxDet_100"])
        for row, name in zip(result["per_class"], ["a", "b"], strict=True):
            assert row["ap"][threshold] == pytest.approx(reference[f"{name}_AP_IoU_{key}_MaxDet_100"])
    json.dumps(result, allow_nan=False)


def test_degenerate_inputs_give_notes_not_errors() -> None:
    empty_3d = np.zeros((0, 6))
    no_predictions = froc([(empty_3d, np.zeros(0), np.array([CUBE], dtype=float))])
    assert no_predictions["cpm"] == 0.0 and no_predictions["misses"] == 1
    assert no_predictions["lesion_rows"][0]["best_iou"] is None
    assert any("no predictions" in note for note in no_predictions["notes"])
    no_lesions = froc([(np.array([CUBE], dtype=float), [0.4], empty_3d)])
    assert no_lesions["cpm"] is None and no_lesions["sensitivity_at"]["1"] is None
    assert no_lesions["curve"]["fps_per_scan"] == [1.0]
    json.dumps(no_lesions, allow_nan=False)
    assert average_precision([(empty_3d, [], empty_3d)], 0.5) is None
    assert average_precision([([], [], [CUBE])], 0.5) == 0.0
    only_predictions = mean_average_precision([(np.array([CUBE], dtype=float), [0.3], [2], empty_3d, [])])
    assert only_predictions["map"] == {"0.1": None, "0.5": None}
    assert any("no truths" in note for note in only_predictions["notes"])
    nothing = mean_average_precision([([], [], [])])
    assert nothing["per_class"] == [] and nothing["map"]["0.5"] is None
    assert not math.isnan(iou(np.zeros((1, 4)), np.zeros((1, 4)))[0, 0])  # two empty boxes: IoU 0, not NaN


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: iou([[0, 0, 1]], [[0, 0, 1, 1]]), "BAD_BOXES"),
        (lambda: iou([[2, 0, 1, 1]], [[0, 0, 1, 1]]), "BAD_BOXES"),
        (lambda: iou([[0, 0, 1, 1]], [CUBE]), "BOX_DIMENSIONS_DIFFER"),
        (lambda: match([[0, 0, 1, 1]], [1.5], [[0, 0, 1, 1]], 0.5), "BAD_SCORES"),
        (lambda: match([[0, 0, 1, 1]], [0.5, 0.2], [[0, 0, 1, 1]], 0.5), "SCORES_MISMATCH"),
        (lambda: match([[0, 0, 1, 1]], [0.5], [[0, 0, 1, 1]], 0.0), "BAD_IOU_THRESHOLD"),
        (lambda: froc([]), "NO_SCANS"),
        (lambda: froc(_hand_worked_scans(), fp_rates=(0.0,)), "BAD_FP_RATES"),
        (lambda: mean_average_precision([([[0, 0, 1, 1]], [0.5], [0.5], [], [])]), "BAD_LABELS"),
        (lambda: mean_average_precision([([[0, 0, 1, 1]], [0.5], [], [], [])]), "LENGTH_MISMATCH"),
    ],
)
def test_bad_input_is_invalid_argument(call, reason: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument) as raised:
        call()
    assert raised.value.reason == reason
