"""The detection test report: a hand-worked two-class case, agreement with ``detection_metrics`` where the two
overlap, 2D and 3D boxes, sites, degenerate sets (no predictions, no lesions), bad input, the plot and strict JSON."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain import detection_metrics
from radscholar_training.domain.evaluation import detection_report, draw, headline, plot_names, segmentation_report

NAMES = ["nodule", "mass"]
CUBE = [0, 0, 0, 10, 10, 10]
FAR = [50, 50, 50, 60, 60, 60]
PNG = b"\x89PNG\r\n\x1a\n"


def _strict_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report through strict JSON (no NaN or infinity allowed), as a browser would read it."""
    return json.loads(json.dumps(report, allow_nan=False))


def _hand_worked() -> tuple[list[Any], list[Any]]:
    """Three 2D scans, classes nodule (0) and mass (1), three lesions, seven predictions.

    scan a: lesions a0 nodule [0, 0, 10, 10], a1 mass [20, 20, 40, 40]
            0.9 nodule on a0 (IoU 1: hit); 0.7 nodule far away (FP); 0.6 mass on the lower 8 rows of a1
            (IoU 160/400 = 0.4: a hit at IoU 0.1, a miss at 0.5)
    scan b: lesion b0 nodule [10, 10, 20, 20]
            0.8 nodule beside it (IoU 0: FP); 0.2 labelled mass exactly on b0 (IoU 1: a hit for all lesions,
            an FP of the mass class and b0 missed by the nodule class)
    scan c: no lesion; 0.5 and 0.3 nodule (FPs)
    """
    predictions = [
        (np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 40, 28]], float), [0.9, 0.7, 0.6], [0, 0, 1]),
        (np.array([[10, 10, 20, 20], [0, 0, 5, 5]], float), [0.2, 0.8], [1, 0]),
        (np.array([[30, 30, 40, 40], [0, 0, 10, 10]], float), [0.5, 0.3], [0, 0]),
    ]
    truths = [
        (np.array([[0, 0, 10, 10], [20, 20, 40, 40]], float), [0, 1]),
        (np.array([[10, 10, 20, 20]], float), [0]),
        (np.zeros((0, 4)), []),
    ]
    return predictions, truths


def test_hand_worked_two_class_case() -> None:
    # All lesions (labels ignored), pooled by score: 0.9 H, 0.8 FP, 0.7 FP, 0.6 H, 0.5 FP, 0.3 FP, 0.2 H; 3 scans,
    # 3 lesions. threshold: FPs/scan, sensitivity
    #   0.9: 0, 1/3 | 0.8: 1/3, 1/3 | 0.7: 2/3, 1/3 | 0.6: 2/3, 2/3 | 0.5: 1, 2/3 | 0.3: 4/3, 2/3 | 0.2: 4/3, 1
    # step rule: 1/8, 1/4, 1/2 -> 1/3 (0.9); 1 -> 2/3 (0.5); 2, 4, 8 -> 1 (0.2). CPM (3/3 + 2/3 + 3) / 7 = 2/3.
    # Nodule: 2 lesions (a0, b0); 0.9 H, 0.8 FP, 0.7 FP, 0.5 FP, 0.3 FP: 1/2 at every rate, CPM 1/2.
    # Mass: 1 lesion (a1); 0.6 H, 0.2 FP (on b0, a nodule): 1 at every rate, CPM 1.
    # AP, nodule: 0.9 H then FPs, recall stays 1/2: recall points 0 .. 0.5 (51 of 101) at precision 1 -> 51/101 at
    # both IoUs; mass: 1 at IoU 0.1, 0 at 0.5 (IoU 0.4). mAP (51/101 + 1) / 2 and (51/101 + 0) / 2.
    # Operating threshold 0.5, all lesions: calls 0.9 H, 0.8, 0.7, 0.6 H, 0.5 -> tp 2, fp 3: 2/3 at 1 FP/scan (the
    # curve's 0.5 point); nodule: 0.9 H, 0.8, 0.7, 0.5 -> 1/2 at 1 FP/scan; mass: 0.6 H -> 1 at 0 FP/scan.
    predictions, truths = _hand_worked()
    report = _strict_json(
        detection_report(predictions, truths, NAMES, ["a", "b", "c"], spacings=[(0.5, 0.8), (1, 1), (2, 2)])
    )
    assert (report["task"], report["class_names"], report["cases"], report["lesions"]) == ("detection", NAMES, 3, 3)
    assert (report["predictions"], report["iou_threshold"], report["operating_threshold"]) == (7, 0.1, 0.5)
    assert report["size_unit"] == "mm" and "sites" not in report
    third = 1 / 3
    overall = report["froc"]["all_lesions"]
    assert report["froc"]["fp_rates"] == pytest.approx([1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8])
    assert list(overall["sensitivity_at"].values()) == pytest.approx([third] * 3 + [2 * third] + [1.0] * 3)
    assert overall["cpm"] == pytest.approx(2 / 3)
    assert overall["curve"]["thresholds"] == pytest.approx([0.9, 0.8, 0.7, 0.6, 0.5, 0.3, 0.2])
    assert overall["curve"]["fps_per_scan"] == pytest.approx([0, third, 2 * third, 2 * third, 1, 4 * third, 4 * third])
    assert overall["curve"]["sensitivity"] == pytest.approx([third, third, third, 2 * third, 2 * third, 2 * third, 1])
    nodule, mass = report["froc"]["per_class"]
    assert (nodule["class"], nodule["lesions"], nodule["hits"], nodule["cpm"]) == ("nodule", 2, 1, 0.5)
    assert (mass["class"], mass["lesions"], mass["hits"], mass["cpm"]) == ("mass", 1, 1, 1.0)
    assert set(nodule["sensitivity_at"].values()) == {0.5} and "lesion_rows" not in nodule

    assert report["map"]["map"] == pytest.approx({"0.1": (51 / 101 + 1) / 2, "0.5": (51 / 101) / 2})
    assert [(row["class"], row["truths"], row["predictions"]) for row in report["map"]["per_class"]] == [
        ("nodule", 2, 5),
        ("mass", 1, 2),
    ]
    assert report["map"]["per_class"][1]["ap"] == {"0.1": 1.0, "0.5": 0.0}

    point = report["operating_point"]
    assert point["threshold"] == 0.5
    assert {k: point["all_lesions"][k] for k in ("lesions", "called", "tp", "fp", "fn")} == {
        "lesions": 3,
        "called": 5,
        "tp": 2,
        "fp": 3,
        "fn": 1,
    }
    assert point["all_lesions"]["sensitivity"]["value"] == pytest.approx(2 / 3)
    assert point["all_lesions"]["fps_per_scan"] == pytest.approx(1.0)
    nodule_point, mass_point = point["per_class"]
    assert (nodule_point["tp"], nodule_point["fp"], nodule_point["fps_per_scan"]) == (1, 3, 1.0)
    assert (mass_point["tp"], mass_point["fp"], mass_point["sensitivity"]["value"]) == (1, 0, 1.0)

    lesions = [
        (r["case_id"], r["lesion"], r["class"], r["hit"], r["score"], r["predicted_class"], r["detected"])
        for r in report["lesion_rows"]
    ]
    assert lesions == [
        ("a", 0, "nodule", True, 0.9, "nodule", True),
        ("a", 1, "mass", True, 0.6, "mass", True),
        ("b", 0, "nodule", True, 0.2, "mass", False),  # found, but labelled mass and below the operating point
    ]
    rows = report["lesion_rows"]
    assert [row["iou"] for row in rows] == pytest.approx([1.0, 0.4, 1.0])
    assert rows[1]["box"] == [20, 20, 40, 40] and rows[1]["size"] == pytest.approx([10.0, 16.0])  # 20 x 0.5, 20 x 0.8
    assert rows[0]["size"] == pytest.approx([5.0, 8.0]) and rows[2]["size"] == pytest.approx([10.0, 10.0])
    scans = [(r["case_id"], r["truths"], r["predictions"], r["tp"], r["fp"], r["fn"]) for r in report["scan_rows"]]
    assert scans == [("a", 2, 3, 2, 1, 0), ("b", 1, 1, 0, 1, 1), ("c", 0, 1, 0, 1, 0)]
    assert report["notes"] == []

    assert headline(report) == pytest.approx(
        {
            "cpm": 2 / 3,
            "sensitivity_at_1fp": 2 / 3,
            "sensitivity_at_2fp": 1.0,
            "sensitivity_at_4fp": 1.0,
            "map_iou10": (51 / 101 + 1) / 2,
            "map_iou50": (51 / 101) / 2,
        }
    )
    # without spacings the sizes are in voxels; at IoU 0.5 the mass prediction (IoU 0.4) misses a1
    strict = detection_report(predictions, truths, NAMES, ["a", "b", "c"], iou_threshold=0.5)
    assert strict["size_unit"] == "voxels" and strict["lesion_rows"][1]["size"] == [20.0, 20.0]
    assert [row["hit"] for row in strict["lesion_rows"]] == [True, False, True]
    assert strict["froc"]["per_class"][1]["cpm"] == 0.0


def _random_scans(rng: np.random.Generator, scans: int, dims: int) -> tuple[list[Any], list[Any]]:
    predictions, truths = [], []
    for _ in range(scans):
        n = int(rng.integers(0, 4))
        low = rng.uniform(0, 30, size=(n, dims))
        truth = np.concatenate([low, low + rng.uniform(2, 10, size=(n, dims))], axis=1)
        noisy = truth + rng.normal(0, 1.5, size=truth.shape)
        noisy[:, dims:] = np.maximum(noisy[:, dims:], noisy[:, :dims] + 0.5)
        low = rng.uniform(0, 30, size=(3, dims))
        extra = np.concatenate([low, low + rng.uniform(2, 10, size=(3, dims))], axis=1)
        boxes = np.concatenate([noisy, extra])
        predictions.append((boxes, rng.uniform(size=len(boxes)), rng.integers(0, 2, size=len(boxes))))
        truths.append((truth, rng.integers(0, 2, size=n)))
    return predictions, truths


@pytest.mark.parametrize("dims", [2, 3])
def test_agrees_with_detection_metrics(dims: int) -> None:
    rng = np.random.default_rng(7 + dims)
    predictions, truths = _random_scans(rng, 8, dims)
    ids = [f"s{i}" for i in range(8)]
    report = _strict_json(detection_report(predictions, truths, NAMES, ids, iou_threshold=0.2))
    agnostic = [(p[0], p[1], t[0]) for p, t in zip(predictions, truths, strict=True)]
    reference = detection_metrics.froc(agnostic, iou_threshold=0.2)
    overall = report["froc"]["all_lesions"]
    for key in ("sensitivity_at", "cpm", "lesions", "hits", "predictions"):
        assert overall[key] == pytest.approx(reference[key]), key
    for key in ("thresholds", "fps_per_scan", "sensitivity"):
        assert overall["curve"][key] == pytest.approx(reference["curve"][key]), key
    assert [(r["hit"], r["score"]) for r in report["lesion_rows"]] == [
        (r["hit"], r["score"]) for r in reference["lesion_rows"]
    ]
    for c, entry in enumerate(report["froc"]["per_class"]):
        by_class = [
            (p[0][np.asarray(p[2]) == c], p[1][np.asarray(p[2]) == c], t[0][np.asarray(t[1]) == c])
            for p, t in zip(predictions, truths, strict=True)
        ]
        assert entry["cpm"] == pytest.approx(detection_metrics.froc(by_class, iou_threshold=0.2)["cpm"])
    labelled = [(p[0], p[1], p[2], t[0], t[1]) for p, t in zip(predictions, truths, strict=True)]
    reference_map = detection_metrics.mean_average_precision(labelled)
    assert report["map"]["map"] == pytest.approx(reference_map["map"])
    for row, expected in zip(report["map"]["per_class"], reference_map["per_class"], strict=True):
        assert row["ap"] == pytest.approx(expected["ap"]) and row["truths"] == expected["truths"]
    # the operating point is the FROC curve read at the lowest threshold >= 0.5
    curve = overall["curve"]
    at = max(i for i, threshold in enumerate(curve["thresholds"]) if threshold >= 0.5)
    point = report["operating_point"]["all_lesions"]
    assert point["fps_per_scan"] == pytest.approx(curve["fps_per_scan"][at])
    assert point["sensitivity"]["value"] == pytest.approx(curve["sensitivity"][at])
    assert sum(row["tp"] for row in report["scan_rows"]) == point["tp"]
    assert sum(row["detected"] for row in report["lesion_rows"]) == point["tp"]
    assert all(len(row["box"]) == 2 * dims and len(row["size"]) == dims for row in report["lesion_rows"])


def test_3d_boxes_with_spacing_in_index_order() -> None:
    # one 3D scan: lesion 10 x 10 x 10 voxels at (x, y, z) spacing (0.7, 0.7, 2.5) mm; a hit and a far FP
    predictions = [(np.array([CUBE, FAR], float), [0.9, 0.4], [0, 0])]
    truths = [(np.array([CUBE], float), [0])]
    report = _strict_json(detection_report(predictions, truths, ["nodule"], ["c1"], spacings=[(0.7, 0.7, 2.5)]))
    (row,) = report["lesion_rows"]
    assert row["size"] == pytest.approx([7.0, 7.0, 25.0]) and row["iou"] == 1.0 and row["detected"]
    assert report["froc"]["all_lesions"]["cpm"] == 1.0 and report["map"]["map"] == {"0.1": 1.0, "0.5": 1.0}
    assert report["scan_rows"][0] == {"case_id": "c1", "site": None, "truths": 1, "predictions": 1, "tp": 1} | {
        "fp": 0,
        "fn": 0,
    }


def test_per_site_breakdown_equals_each_site_alone() -> None:
    rng = np.random.default_rng(11)
    predictions, truths = _random_scans(rng, 9, 3)
    ids = [f"s{i}" for i in range(9)]
    sites = ["north", "south", None] * 3
    report = _strict_json(detection_report(predictions, truths, NAMES, ids, sites))
    assert [part["site"] for part in report["sites"]] == ["north", "south", None]
    for part, first in zip(report["sites"], range(3), strict=True):
        members = list(range(first, 9, 3))
        alone = _strict_json(
            detection_report(
                [predictions[i] for i in members], [truths[i] for i in members], NAMES, [ids[i] for i in members]
            )
        )
        assert part["cases"] == 3 and "lesion_rows" not in part and "scan_rows" not in part
        for key in ("lesions", "predictions", "froc", "map", "operating_point", "notes"):
            assert part[key] == alone[key], key
    assert [row["site"] for row in report["scan_rows"]] == sites
    assert "sites" not in detection_report(predictions, truths, NAMES, ids, ["north"] * 9)
    assert draw("froc", report).startswith(PNG)


def test_no_predictions_gives_zero_sensitivity() -> None:
    truths = [(np.array([CUBE], float), [0]), (np.zeros((0, 6)), [])]
    empty = (np.zeros((0, 6)), np.zeros(0), np.zeros(0, dtype=int))
    report = _strict_json(detection_report([empty, ([], [], [])], truths, ["nodule"], ["a", "b"]))
    overall = report["froc"]["all_lesions"]
    assert overall["cpm"] == 0.0 and set(overall["sensitivity_at"].values()) == {0.0}
    assert report["map"]["map"] == {"0.1": 0.0, "0.5": 0.0}
    assert report["lesion_rows"][0]["hit"] is False and report["lesion_rows"][0]["score"] is None
    assert report["lesion_rows"][0]["size"] == [10.0, 10.0, 10.0]
    assert report["operating_point"]["all_lesions"]["sensitivity"]["value"] == 0.0
    assert any("no predictions" in note for note in report["notes"])
    assert draw("froc", report).startswith(PNG)


def test_no_lesions_gives_none_with_notes() -> None:
    predictions = [(np.array([CUBE], float), [0.7], [1])]
    report = _strict_json(detection_report(predictions, [(np.zeros((0, 6)), [])], NAMES, ["a"]))
    overall = report["froc"]["all_lesions"]
    assert overall["cpm"] is None and overall["sensitivity_at"]["1"] is None
    assert overall["curve"]["fps_per_scan"] == [1.0] and overall["curve"]["sensitivity"] == [None]
    assert report["map"]["map"] == {"0.1": None, "0.5": None}
    assert report["operating_point"]["all_lesions"]["sensitivity"]["value"] is None
    assert report["operating_point"]["all_lesions"]["fps_per_scan"] == 1.0
    assert report["lesion_rows"] == [] and report["scan_rows"][0]["fp"] == 1
    assert any("no lesions" in note for note in report["notes"])
    assert headline(report) == {}
    assert draw("froc", report).startswith(PNG)
    # a class without lesions beside one with: its figures None, noted by name
    predictions, truths = _hand_worked()
    one_class = [(boxes, scores, [0] * len(scores)) for boxes, scores, _ in predictions]
    only_nodules = [(boxes, [0] * len(labels)) for boxes, labels in truths]
    partial = _strict_json(detection_report(one_class, only_nodules, NAMES, ["a", "b", "c"]))
    assert partial["froc"]["per_class"][1]["cpm"] is None and partial["map"]["per_class"][1]["ap"]["0.5"] is None
    assert partial["map"]["map"]["0.1"] == partial["map"]["per_class"][0]["ap"]["0.1"]  # mass left out of the mean
    assert any(note.startswith("mass: no lesions") for note in partial["notes"])


def _scan(boxes: Any = ((0, 0, 1, 1),), scores: Any = (0.5,), labels: Any = (0,)) -> tuple[Any, Any, Any]:
    return boxes, scores, labels


TRUTH = ([[0, 0, 1, 1]], [0])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"class_names": []}, "TOO_FEW_CLASSES"),
        ({"predictions": [], "truths": [], "case_ids": []}, "NO_CASES"),
        ({"truths": [TRUTH, TRUTH]}, "LENGTH_MISMATCH"),
        ({"spacings": [(1, 1), (1, 1)]}, "LENGTH_MISMATCH"),
        ({"sites": ["a", "b"]}, "LENGTH_MISMATCH"),
        ({"predictions": [_scan(boxes=[[0, 0, 1, 1, 2]])]}, "INVALID_BOXES"),
        ({"predictions": [_scan(boxes=[[2, 0, 1, 1]])]}, "INVALID_BOXES"),
        ({"truths": [([[0, 0, 1, float("nan")]], [0])]}, "INVALID_BOXES"),
        ({"predictions": [_scan(scores=[1.5])]}, "INVALID_SCORES"),
        ({"predictions": [_scan(labels=[2])]}, "INVALID_LABEL"),
        ({"truths": [([[0, 0, 1, 1]], [0.5])]}, "INVALID_LABEL"),
        ({"predictions": [_scan(scores=[0.5, 0.4])]}, "LENGTH_MISMATCH"),
        ({"truths": [([[0, 0, 1, 1]], [])]}, "LENGTH_MISMATCH"),
        ({"truths": [([[0, 0, 0, 1, 1, 1]], [0])]}, "BOX_DIMENSIONS_DIFFER"),
        ({"predictions": [(_scan()[0], _scan()[1])]}, "BAD_SCAN"),
        ({"spacings": [(1, 1, 1)]}, "INVALID_SPACING"),
        ({"spacings": [(1, 0)]}, "INVALID_SPACING"),
        ({"iou_threshold": 0.0}, "INVALID_IOU_THRESHOLD"),
        ({"operating_threshold": 1.5}, "INVALID_THRESHOLD"),
    ],
)
def test_bad_input_is_invalid_argument(kwargs: dict[str, Any], reason: str) -> None:
    arguments: dict[str, Any] = {
        "predictions": [_scan()],
        "truths": [TRUTH],
        "class_names": ["nodule"],
        "case_ids": ["c1"],
    } | kwargs
    with pytest.raises(InvalidArgument) as raised:
        detection_report(**arguments)
    assert raised.value.reason == reason
    if reason.startswith("INVALID") and reason != "INVALID_IOU_THRESHOLD" and reason != "INVALID_THRESHOLD":
        assert raised.value.details["case_id"] == "c1" and "case c1" in raised.value.message


def test_dimensions_must_agree_across_cases() -> None:
    predictions = [_scan(), _scan(boxes=[[0, 0, 0, 1, 1, 1]])]
    with pytest.raises(InvalidArgument) as raised:
        detection_report(predictions, [TRUTH, ([], [])], ["nodule"], ["a", "b"])
    assert raised.value.reason == "BOX_DIMENSIONS_DIFFER" and raised.value.details["case_id"] == "b"
    assert "case a has 2D" in raised.value.message


def test_froc_plot_of_a_report_read_back_from_json_is_a_png() -> None:
    predictions, truths = _hand_worked()
    report = _strict_json(detection_report(predictions, truths, NAMES, ["a", "b", "c"], ["x", "y", "x"]))
    assert plot_names(report) == ("froc",)
    assert draw("froc", report).startswith(PNG)
    with pytest.raises(InvalidArgument) as raised:
        draw("roc", report)
    assert raised.value.reason == "UNKNOWN_PLOT"


def test_an_instance_segmenters_report_adds_its_outlines_dice_to_the_headline_and_plots() -> None:
    truth = np.zeros((8, 8), dtype=np.uint8)
    truth[2:5, 2:5] = 1
    predicted = truth.copy()
    predicted[4, 2:5] = 0  # two thirds of the lesion
    boxes = np.array([[2.0, 2.0, 5.0, 5.0]])
    report = detection_report([(boxes, np.array([0.9]), np.array([0]))], [(boxes, np.array([0]))], ["nodule"], ["c"])
    report["outlines"] = segmentation_report([predicted], [truth], [(1.0, 1.0)], ["nodule"], ["c"])
    assert plot_names(report) == ("froc", "dice-box")
    assert draw("dice-box", report).startswith(b"\x89PNG")
    found = headline(report)
    assert found["dice_nodule"] == pytest.approx(2 * 6 / (6 + 9)) and found["cpm"] == 1.0
