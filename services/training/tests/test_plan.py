"""A dataset version is checked against the run's task before any compute: each refusal names why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.plan import Case, LabeledBox, Labels, Plan, cache_prefix, check_dataset
from radscholar_training.domain.plan import tested_cases as cases_to_test
from radscholar_training.jobs import resume_id

CLASSES = ("benign", "malignant")
LESIONS = Labels("segmentation", 3, "lesion", CLASSES)
CASE_LABELS = Labels("classification", 3, "case", CLASSES)


def cases(masks: bool, labels: bool, splits: tuple[str, ...] = ("train", "train", "validation", "test")) -> list[Case]:
    return [
        Case(
            f"c{n}",
            f"p{n}",
            "site",
            split,
            f"1.2.{n}",
            mask_key=f"m{n}" if masks else "",
            label=n % 2 if labels else None,
        )
        for n, split in enumerate(splits)
    ]


def reason(task: str, dims: int, crop: str, labels: Labels, found: list[Case]) -> str:
    with pytest.raises(InvalidArgument) as refused:
        check_dataset(task, dims, crop, labels, found)
    return refused.value.reason


def test_what_each_task_trains_on() -> None:
    assert len(check_dataset("segmentation", 3, "centre", LESIONS, cases(masks=True, labels=False))) == 4
    assert len(check_dataset("classification", 3, "lesion", LESIONS, cases(masks=True, labels=False))) == 4
    assert len(check_dataset("classification", 3, "centre", CASE_LABELS, cases(masks=False, labels=True))) == 4


def test_a_dataset_version_of_the_wrong_kind_is_refused() -> None:
    assert reason("segmentation", 3, "centre", CASE_LABELS, cases(False, True)) == "DATASET_TASK_MISMATCH"
    assert reason("classification", 3, "centre", LESIONS, cases(True, False)) == "DATASET_TASK_MISMATCH"
    boxes = Labels("detection", 3, "lesion", CLASSES)
    assert reason("classification", 3, "centre", boxes, cases(False, False)) == "DATASET_TASK_MISMATCH"
    assert reason("classification", 2, "centre", CASE_LABELS, cases(False, True)) == "DATASET_DIMENSIONS_MISMATCH"
    assert reason("classification", 3, "lesion", CASE_LABELS, cases(False, True)) == "INVALID_SETTING"
    assert reason("detection", 3, "centre", CASE_LABELS, cases(False, True)) == "DATASET_TASK_MISMATCH"
    assert reason("regression", 3, "centre", CASE_LABELS, cases(False, True)) == "INVALID_TASK"
    series_masks = Labels("segmentation", 3, "series", CLASSES)
    assert reason("detection", 3, "centre", series_masks, cases(True, False)) == "DATASET_TASK_MISMATCH"


def test_a_detector_trains_on_boxes_or_on_lesion_masks() -> None:
    boxes = Labels("detection", 3, "lesion", CLASSES)
    box = LabeledBox(1, (1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    found = [replace(case, boxes=(box,) if n % 2 == 0 else ()) for n, case in enumerate(cases(False, False))]
    assert len(check_dataset("detection", 3, "centre", boxes, found)) == 4  # a case without boxes: no lesion
    assert len(check_dataset("detection", 3, "centre", LESIONS, cases(True, False))) == 4
    no_boxes = [replace(case, boxes=()) for case in found]
    assert reason("detection", 3, "centre", boxes, no_boxes) == "NO_BOXES"
    plan = Plan("j", "j", "detection", 3, {}, "m", "e", {}, CLASSES, tuple(found), "k")
    assert Plan.from_json(plan.to_json()) == plan


def test_empty_or_one_sided_dataset_versions_are_refused() -> None:
    assert reason("segmentation", 3, "centre", LESIONS, []) == "EMPTY_DATASET"
    assert reason("segmentation", 3, "centre", LESIONS, cases(masks=False, labels=False)) == "EMPTY_DATASET"
    no_validation = cases(True, False, ("train", "train", "test"))
    assert reason("segmentation", 3, "centre", LESIONS, no_validation) == "NO_VALIDATION_CASES"
    assert reason("segmentation", 3, "centre", LESIONS, cases(True, False, ("validation",))) == "NO_TRAINING_CASES"
    one_class = [Case(f"c{n}", "p", "s", split, "1", label=1) for n, split in enumerate(("train", "validation"))]
    assert reason("classification", 3, "centre", CASE_LABELS, one_class) == "SINGLE_CLASS"


def test_a_plan_round_trips_and_the_cache_key_follows_its_inputs() -> None:
    plan = Plan(
        "j",
        "j",
        "segmentation",
        3,
        {"epochs": 2},
        "m",
        "e",
        {"dataset_id": "d"},
        CLASSES,
        tuple(cases(True, False)),
        "k",
    )
    assert Plan.from_json(plan.to_json()) == plan and plan.output_channels == 3
    key = cache_prefix("sha256:a", "pre", CLASSES)
    assert key == cache_prefix("sha256:a", "pre", CLASSES)
    assert len({key, cache_prefix("sha256:b", "pre", CLASSES), cache_prefix("sha256:a", "other", CLASSES)}) == 3
    assert resume_id("run", 2) == "run.r2" and len(resume_id("x" * 64, 12)) <= 64


def test_a_test_takes_a_split_of_some_sites_or_series_with_the_models_classes() -> None:
    found = [
        Case(f"c{n}", f"p{n}", site, split, f"1.{n}", label=n % 2)
        for n, (site, split) in enumerate([("a", "test"), ("b", "test"), ("b", "train"), ("a", "validation")])
    ]
    assert [c.case_id for c in cases_to_test("test", CLASSES, CLASSES, found)] == ["c0", "c1"]
    assert [c.case_id for c in cases_to_test("all", CLASSES, CLASSES, found, ["b"])] == ["c1", "c2"]
    assert {c.split for c in cases_to_test("all", CLASSES, CLASSES, found)} == {"test", "train", "validation"}
    assert [c.case_id for c in cases_to_test("all", CLASSES, CLASSES, found, (), ["1.3", "1.0"])] == ["c0", "c3"]
    with pytest.raises(InvalidArgument) as elsewhere:
        cases_to_test("all", CLASSES, CLASSES, found, (), ["1.0", "9.9"])
    assert elsewhere.value.reason == "UNKNOWN_SERIES" and elsewhere.value.details["series_instance_uid"] == "9.9"
    for split, classes, sites, reason in (
        ("test", ("benign", "other"), (), "CLASSES_MISMATCH"),
        ("validation", CLASSES, ("b",), "EMPTY_SPLIT"),
        ("holdout", CLASSES, (), "INVALID_SPLIT"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            cases_to_test(split, classes, CLASSES, found, sites)
        assert refused.value.reason == reason
