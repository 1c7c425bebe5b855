"""Labeling end to end, through the real gateway and services: a project from phantoms, double reading by two
annotators (one with deliberate differences), review and adjudication, agreement against hand-computed values,
and a frozen dataset version holding exactly the accepted labels with a patient-grouped split."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import highdicom
import httpx
import nibabel as nib
import numpy as np
import pydicom
import pytest

import radscholar_phantoms
from tests.conftest import Platform

CLASSES = [
    {"name": "normal", "color": "#1f77b4"},
    {"name": "benign", "color": "#2ca02c"},
    {"name": "malignant", "color": "#d62728"},
]
NAMES = [c["name"] for c in CLASSES]


def flipped(label: str) -> str:
    """Another class than `label`: the deliberate difference of the second annotator."""
    return NAMES[(NAMES.index(label) + 1) % len(NAMES)]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> radscholar_phantoms.Manifest:
    """Four small chest CT studies with lesions (labels, boxes and masks as ground truth), two sites."""
    return radscholar_phantoms.generate("ct", 4, 2, 31, tmp_path_factory.mktemp("labeling"), shape=(24, 64, 64))


def truth(cohort: radscholar_phantoms.Manifest, index: int) -> dict[str, Any]:
    assert cohort.root is not None
    entry = json.loads((cohort.root / "manifest.json").read_text())["cases"][index]
    series = entry["series"][0]
    lesions = json.loads((cohort.root / series["ground_truth"]).read_text())["lesions"]
    return {
        "study": entry["study_instance_uid"],
        "series": series["series_instance_uid"],
        "label": entry["label"],
        "lesions": lesions,
        "mask": cohort.root / series["mask"],  # NIfTI label map: each lesion's id
    }


@pytest.fixture(scope="module")
def project(platform: Platform, cohort: radscholar_phantoms.Manifest) -> Iterator[dict[str, Any]]:
    assert cohort.root is not None
    files = sorted(cohort.root.rglob("*.dcm"))
    answer = platform.gateway.post(
        "/api/v1/dicom/uploads", files=[("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]
    )
    assert answer.status_code == 200 and answer.json()["rejected"] == 0, answer.text
    created = platform.gateway.post(
        "/api/v1/projects",
        json={
            "name": f"Nodules {cohort.root.name}",
            "modality": "CT",
            "task_type": "DETECTION",
            "dimensionality": "3D",
            "label_schema": {"classes": CLASSES, "level": "case"},
        },
    )
    assert created.status_code == 201, created.text
    yield created.json()


def as_user(platform: Platform, token: str) -> httpx.Client:
    return platform.client(token)


def lesion_mask(case: dict[str, Any]) -> np.ndarray:
    """The phantom's ground-truth label map [k, j, i]: each lesion's id."""
    return np.transpose(np.asarray(nib.load(case["mask"]).dataobj), (2, 1, 0)).astype(np.uint8)


def class_mask(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The ground truth as the project's label map (each lesion's class position) and the NIfTI's affine."""
    lesions = lesion_mask(case)
    classes = np.zeros_like(lesions)
    for lesion in case["lesions"]:
        classes[lesions == lesion["lesion_id"]] = NAMES.index(lesion["class"]) + 1
    return classes, nib.load(case["mask"]).affine


def rle_of(mask: np.ndarray) -> list[dict[str, Any]]:
    """Run-length slices as a browser sends them: per slice and class, runs alternating from background."""
    slices = []
    for k, plane in enumerate(mask):
        for label in sorted({int(v) for v in np.unique(plane) if v}):
            flat = (plane == label).ravel().astype(np.int8)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [0]])))
            runs, position = [], 0
            for start, end in zip(edges[::2], edges[1::2], strict=True):
                runs += [int(start - position), int(end - start)]
                position = end
            runs.append(int(flat.size - position))
            slices.append({"index": k, "label": label, "counts": runs})
    return slices


def assert_seg_holds(
    platform: Platform,
    cohort: radscholar_phantoms.Manifest,
    case: dict[str, Any],
    stored: dict[str, Any],
    mask: np.ndarray,
) -> None:
    assert cohort.root is not None
    source = {}
    for path in cohort.root.rglob("*.dcm"):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        if header.SeriesInstanceUID == case["series"]:
            source[int(header.InstanceNumber) - 1] = header.SOPInstanceUID  # slice k is InstanceNumber k + 1
    with platform.orthanc.client() as orthanc:
        found = orthanc.post("/tools/lookup", content=stored["seg_sop_instance_uid"]).json()
        assert len(found) == 1 and found[0]["Type"] == "Instance"
        data = orthanc.get(f"/instances/{found[0]['ID']}/file").content
    plain = pydicom.dcmread(io.BytesIO(data))
    assert plain.Modality == "SEG" and plain.SeriesInstanceUID == stored["seg_series_instance_uid"]
    assert plain.ReferencedSeriesSequence[0].SeriesInstanceUID == case["series"]
    seg = highdicom.seg.segread(io.BytesIO(data))
    uids = [source[k] for k in range(len(source))]
    read = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, combine_segments=True, skip_overlap_checks=True
    )
    assert np.array_equal(read, mask)


def boxes_of(case: dict[str, Any], shift: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "class_name": lesion["class"],
            "series_instance_uid": case["series"],
            "min": [lesion["bbox_voxel"]["min"][0] + shift, *lesion["bbox_voxel"]["min"][1:]],
            "max": [lesion["bbox_voxel"]["max"][0] + shift, *lesion["bbox_voxel"]["max"][1:]],
        }
        for lesion in case["lesions"]
    ]


def test_double_reading_review_agreement_and_a_frozen_dataset(
    platform: Platform, cohort: radscholar_phantoms.Manifest, project: dict[str, Any]
) -> None:
    pid = project["id"]
    assert [c["name"] for c in project["label_schema"]["classes"]] == NAMES
    cases = [truth(cohort, i) for i in range(4)]
    (first, first_token), (second, second_token) = (platform.user(["annotator"], {pid: "annotator"}) for _ in range(2))
    _, reviewer_token = platform.user(["reviewer"], {pid: "reviewer"})

    # Cases: two by UID, then all four by a query (the two already there are reported, not added twice).
    by_uid = platform.gateway.post(
        f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [c["study"] for c in cases[:2]]}
    )
    assert by_uid.status_code == 200, by_uid.text
    assert len(by_uid.json()["added"]) == 2
    uids = {c["study"] for c in cases}
    by_query = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": sorted(uids)})
    assert sorted(by_query.json()["already_present"]) == sorted(c["study"] for c in cases[:2])
    added = by_uid.json()["added"] + by_query.json()["added"]
    case_of = {c["study_instance_uid"]: c for c in added}
    assert set(case_of) == uids
    assert all(c["series"][0]["slices"] == 24 and c["series"][0]["rows"] == 64 for c in added)

    # Double reading: every case to both annotators.
    assigned = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments", json={"annotator_ids": [first["id"], second["id"]], "mode": "each"}
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json() == {"assigned": 8, "per_annotator": {first["id"]: 4, second["id"]: 4}}
    assert platform.gateway.get(f"/api/v1/projects/{pid}/progress").json()["project"]["counts"]["untagged"] == 8

    task_ids: dict[tuple[str, str], str] = {}
    for user, token, differs in ((first, first_token, False), (second, second_token, True)):
        with as_user(platform, token) as client:
            mine = client.get(f"/api/v1/projects/{pid}/tasks").json()
            assert mine["total_size"] == 4 and {t["assignee_id"] for t in mine["tasks"]} == {user["id"]}
            while (task := client.get(f"/api/v1/projects/{pid}/tasks/next").json()) is not None:
                case = next(c for c in cases if c["study"] == task["case"]["study_instance_uid"])
                label = case["label"]
                if differs and case is cases[0]:
                    label = flipped(label)
                body = {
                    "base_version": 0,
                    "labels": [{"class_name": label}],
                    "boxes": boxes_of(case, shift=2 if differs and case is cases[1] else 0),
                    "submit": True,
                }
                saved = client.put(f"/api/v1/tasks/{task['id']}/annotation", json=body)
                assert saved.status_code == 200, saved.text
                assert saved.json()["version"] == 1 and saved.json()["author_id"] == user["id"]
                if (
                    not differs
                ):  # voxel corners come back with their patient coordinates: the phantom's own (to its 4 decimals)
                    for box, lesion in zip(saved.json()["boxes"], case["lesions"], strict=True):
                        assert box["min_mm"] == pytest.approx(lesion["bbox_mm"]["min"], abs=1e-3)
                        assert box["max_mm"] == pytest.approx(lesion["bbox_mm"]["max"], abs=1e-3)
                task_ids[(user["id"], case["study"])] = task["id"]

    # Masks on the second case: the first annotator uploads the ground truth as NIfTI, the second sends RLE
    # slices without one lesion. Both are kept as NIfTI and as DICOM SEG in the DICOM store.
    masked = cases[1]
    truth_mask, affine = class_mask(masked)
    missing = masked["lesions"][0]
    partial = truth_mask.copy()
    partial[lesion_mask(masked) == missing["lesion_id"]] = 0
    with as_user(platform, first_token) as client:
        task_id = task_ids[(first["id"], masked["study"])]
        nifti = io.BytesIO()
        image = nib.Nifti1Image(np.transpose(truth_mask, (2, 1, 0)).astype(np.uint8), affine)
        nifti.write(gzip.compress(image.to_bytes()))
        upload = client.post(
            f"/api/v1/tasks/{task_id}/mask-uploads",
            content=nifti.getvalue(),
            headers={"Content-Type": "application/gzip"},
        )
        assert upload.status_code == 201, upload.text
        saved = client.put(
            f"/api/v1/tasks/{task_id}/annotation",
            json={
                "base_version": 1,
                "labels": [{"class_name": masked["label"]}],
                "boxes": boxes_of(masked),
                "masks": [{"series_instance_uid": masked["series"], "upload_id": upload.json()["upload_id"]}],
                "submit": True,
            },
        )
        assert saved.status_code == 200, saved.text
        stored_mask = saved.json()["masks"][0]
        for lesion_class in {lesion["class"] for lesion in masked["lesions"]}:
            expected = int((truth_mask == NAMES.index(lesion_class) + 1).sum())
            assert stored_mask["voxels"][lesion_class] == expected
    with as_user(platform, second_token) as client:
        task_id = task_ids[(second["id"], masked["study"])]
        saved = client.put(
            f"/api/v1/tasks/{task_id}/annotation",
            json={
                "base_version": 1,
                "labels": [{"class_name": masked["label"]}],
                "boxes": boxes_of(masked, shift=2),
                "masks": [{"series_instance_uid": masked["series"], "rle": rle_of(partial)}],
                "submit": True,
            },
        )
        assert saved.status_code == 200, saved.text
    # The SEG is in the DICOM store, references the source series and holds the uploaded mask voxel for voxel.
    assert_seg_holds(platform, cohort, masked, stored_mask, truth_mask)

    # A stale save is refused and nothing changes.
    some_task = task_ids[(first["id"], cases[2]["study"])]
    with as_user(platform, first_token) as client:
        stale = client.put(
            f"/api/v1/tasks/{some_task}/annotation", json={"base_version": 0, "labels": [{"class_name": "benign"}]}
        )
        assert stale.status_code == 409 and stale.json()["error"]["reason"] == "STALE_VERSION"
        assert len(client.get(f"/api/v1/tasks/{some_task}/annotation/versions").json()["versions"]) == 1

    # Agreement. Classes: the annotators agree on 3 of 4 cases. With the truth labels t and the flipped first
    # case, Cohen's kappa = (p_o - p_e) / (1 - p_e) with p_o = 3/4 and p_e from the two annotators' margins.
    labels_first = [c["label"] for c in cases]
    labels_second = [flipped(c["label"]) if c is cases[0] else c["label"] for c in cases]
    p_e = sum((labels_first.count(k) / 4) * (labels_second.count(k) / 4) for k in NAMES)
    expected_kappa = (0.75 - p_e) / (1 - p_e)
    # Boxes: identical on the other cases; on the second each box is shifted 2 voxels along x, so its IoU is
    # (w - 2) / (w + 2) for a box w voxels wide (the other extents are equal).
    widths = [lesion["bbox_voxel"]["max"][0] - lesion["bbox_voxel"]["min"][0] for lesion in cases[1]["lesions"]]
    shifted_iou = sum((w - 2) / (w + 2) for w in widths) / len(widths)
    agreement = platform.gateway.get(f"/api/v1/projects/{pid}/agreement").json()
    assert agreement["cases_compared"] == 4 and agreement["kappa_method"] == "cohen"
    assert agreement["class_kappa"] == pytest.approx(expected_kappa, abs=1e-12)
    boxed = sum(1 for c in cases if c["lesions"])  # cases without lesions have no boxes to compare
    assert agreement["mean_box_iou"] == pytest.approx((boxed - 1 + shifted_iou) / boxed, abs=1e-12)
    # Masks: Dice per class present in either mask, averaged; only the class of the missing lesion differs.
    dices = []
    for label in sorted({int(v) for v in np.unique(truth_mask) if v}):
        a, b = int((truth_mask == label).sum()), int((partial == label).sum())
        dices.append(2 * b / (a + b))  # the second mask is a subset of the first
    assert agreement["mean_mask_dice"] == pytest.approx(sum(dices) / len(dices), abs=1e-12)
    worst = {(d["case_id"], d["kind"]): d["score"] for d in agreement["disagreements"]}
    assert worst[(case_of[cases[0]["study"]]["id"], "class")] == 0
    assert worst[(case_of[cases[1]["study"]]["id"], "boxes")] == pytest.approx(shifted_iou, abs=1e-12)

    # Review: nobody reviews their own work; the first annotator's cases 2-4 are accepted, case 1 adjudicated.
    with as_user(platform, first_token) as client:
        own = client.post(f"/api/v1/tasks/{some_task}/review", json={"decision": "accept"})
        assert own.status_code == 403
    with as_user(platform, reviewer_token) as client:
        for case in cases[1:]:
            accepted = client.post(
                f"/api/v1/tasks/{task_ids[(first['id'], case['study'])]}/review", json={"decision": "accept"}
            )
            assert accepted.status_code == 200 and accepted.json()["task"]["status"] == "reviewed", accepted.text
        unexplained = client.post(
            f"/api/v1/tasks/{task_ids[(second['id'], cases[1]['study'])]}/review", json={"decision": "reject"}
        )
        assert unexplained.status_code == 422 and unexplained.json()["error"]["reason"] == "COMMENT_REQUIRED"
        adjudicated = client.post(
            f"/api/v1/tasks/{task_ids[(first['id'], cases[0]['study'])]}/review",
            json={"decision": "adjudicate", "comment": "the margin is spiculated"},
        )
        assert adjudicated.status_code == 200, adjudicated.text
        assert [(t["assignee_id"], t["status"]) for t in adjudicated.json()["others"]] == [(second["id"], "rejected")]
    with as_user(platform, second_token) as client:  # the rejected task comes back first, with the comment
        again = client.get(f"/api/v1/projects/{pid}/tasks/next").json()
        assert again["status"] == "rejected" and again["review_comment"] == "the margin is spiculated"

    # The frozen dataset lists exactly the accepted labels, grouped by patient, and freezing again changes nothing.
    frozen = platform.gateway.post(
        f"/api/v1/projects/{pid}/datasets", json={"split": {"train": 0.5, "validation": 0.25, "test": 0.25, "seed": 7}}
    )
    assert frozen.status_code == 201, frozen.text
    dataset = frozen.json()["dataset"]
    manifest = dataset["manifest"]
    items = {item["study_instance_uid"]: item for item in manifest["items"]}
    assert set(items) == uids
    for case in cases:
        item = items[case["study"]]
        assert item["label_class"] == case["label"]
        assert item["annotation_version"] == (2 if case is masked else 1)
        assert list(item["masks"]) == ([masked["series"]] if case is masked else [])
        # Boxes go with the dataset version (what detection trains on): each with its class and corners.
        boxes = item.get("boxes", [])  # absent where a case has none
        assert len(boxes) == len(case["lesions"]) and all(b["class_name"] in NAMES for b in boxes)
        assert all(len(b["min"]) == len(b["max"]) == 3 and len(b["min_mm"]) == 3 for b in boxes)
    assert manifest["lineage"]["deidentification_profile"] == "none"
    accepted_tasks = {task_ids[(first["id"], c["study"])] for c in cases}
    history_ids = set()
    with as_user(platform, first_token) as client:
        for task_id in accepted_tasks:
            history_ids.add(client.get(f"/api/v1/tasks/{task_id}/annotation/versions").json()["versions"][0]["id"])
    assert {item["annotation_id"] for item in items.values()} == history_ids
    splits = manifest["splits"]
    patients: dict[str, set[str]] = {}
    for item in manifest["items"]:
        patients.setdefault(item["patient_id"], set()).add(splits[item["case_id"]])
    assert all(len(s) == 1 for s in patients.values())
    assert sum(dataset["split_counts"].values()) == 4
    assert dataset["content_hash"].startswith("sha256:")
    again = platform.gateway.post(
        f"/api/v1/projects/{pid}/datasets", json={"split": {"train": 0.5, "validation": 0.25, "test": 0.25, "seed": 7}}
    )
    assert again.json()["already_existed"] is True and again.json()["dataset"]["id"] == dataset["id"]
    listed = platform.gateway.get(f"/api/v1/projects/{pid}/datasets").json()["datasets"]
    assert [d["id"] for d in listed] == [dataset["id"]]
    assert platform.gateway.get(f"/api/v1/datasets/{dataset['id']}").json()["content_hash"] == dataset["content_hash"]


def test_bad_annotations_are_refused_and_change_nothing(
    platform: Platform, cohort: radscholar_phantoms.Manifest, project: dict[str, Any]
) -> None:
    pid = project["id"]
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    case = truth(cohort, 3)
    other = truth(cohort, 2)
    added = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [case["study"]]})
    assert added.status_code == 200, added.text
    case_id = next(
        t["case"]["id"]
        for t in platform.gateway.get(f"/api/v1/projects/{pid}/tasks", params={"page_size": 1000}).json()["tasks"]
        if t["case"]["study_instance_uid"] == case["study"]
    )
    assign = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments",
        json={"annotator_ids": [annotator["id"]], "mode": "each", "cases": {"case_ids": [case_id]}},
    )
    assert assign.json()["assigned"] == 1, assign.text
    with as_user(platform, token) as client:
        task = client.get(f"/api/v1/projects/{pid}/tasks/next").json()
        url = f"/api/v1/tasks/{task['id']}/annotation"
        box = boxes_of(case)[0]
        refusals = {
            "BOX_OUTSIDE_IMAGE": {"boxes": [{**box, "max": [65, *box["max"][1:]]}]},
            "INVALID_BOX": {"boxes": [{**box, "min": box["min"][:2], "max": box["max"][:2]}]},
            "UNKNOWN_CLASS": {"labels": [{"class_name": "granuloma"}]},
            "SERIES_NOT_IN_CASE": {"boxes": [{**box, "series_instance_uid": other["series"]}]},
            "SEVERAL_CLASSES": {"labels": [{"class_name": "benign"}, {"class_name": "malignant"}]},
            "INVALID_SOURCE": {"labels": [{"class_name": "benign"}], "source": "a robot"},
        }
        for reason, body in refusals.items():
            answer = client.put(url, json={"base_version": 0, **body})
            assert answer.status_code == 422, (reason, answer.text)
            assert answer.json()["error"]["reason"] == reason, answer.text
        wrong = nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.eye(4))
        upload = client.post(
            f"/api/v1/tasks/{task['id']}/mask-uploads",
            content=wrong.to_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 201, upload.text
        series = case["series"]
        mask_refusals = {
            "MASK_GEOMETRY_MISMATCH": {"series_instance_uid": series, "upload_id": upload.json()["upload_id"]},
            "INVALID_RLE": {"series_instance_uid": series, "rle": [{"index": 0, "label": 1, "counts": [5, 5]}]},
            "UNKNOWN_LABEL": {"series_instance_uid": series, "rle": [{"index": 0, "label": 9, "counts": [64 * 64]}]},
        }
        for reason, mask in mask_refusals.items():
            answer = client.put(url, json={"base_version": 0, "masks": [mask]})
            assert answer.status_code == 422, (reason, answer.text)
            assert answer.json()["error"]["reason"] == reason, answer.text
        assert client.get(f"{url}/versions").json()["versions"] == []
        lesion = case["lesions"][0]
        in_mm = {
            "class_name": lesion["class"],
            "series_instance_uid": case["series"],
            **{f"{end}_mm": lesion["bbox_mm"][end] for end in ("min", "max")},
        }
        inconsistent = {
            **in_mm,
            "min": lesion["bbox_voxel"]["min"],
            "max": [v + 1 for v in lesion["bbox_voxel"]["max"]],
        }
        refused = client.put(url, json={"base_version": 0, "boxes": [inconsistent]})
        assert refused.status_code == 422 and refused.json()["error"]["reason"] == "BOX_INCONSISTENT", refused.text
        from_mm = client.put(url, json={"base_version": 0, "boxes": [in_mm]})  # a draft; its voxels follow from mm
        assert from_mm.status_code == 200, from_mm.text
        assert from_mm.json()["boxes"][0]["min"] == pytest.approx(lesion["bbox_voxel"]["min"], abs=1e-3)
        assert from_mm.json()["boxes"][0]["max"] == pytest.approx(lesion["bbox_voxel"]["max"], abs=1e-3)
        draft = client.put(
            url, json={"base_version": 1, "labels": [{"class_name": "benign"}], "source": "model:unet/3"}
        )
        assert draft.status_code == 200 and draft.json()["source"] == "model:unet/3"
        versions = client.get(f"{url}/versions").json()["versions"]
        assert [v["version"] for v in versions] == [1, 2] and not versions[1]["submitted"]
        assert versions[0]["boxes"] and not versions[1]["boxes"]  # history is never lost
    with as_user(platform, token) as client:  # annotators cannot add cases or assign work
        refused = client.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [other["study"]]})
        assert refused.status_code == 403, refused.text
    _, second_token = platform.user(["annotator"], {pid: "annotator"})
    with as_user(platform, second_token) as client:  # nor label someone else's task
        foreign = client.put(f"/api/v1/tasks/{task['id']}/annotation", json={"base_version": 2, "labels": []})
        assert foreign.status_code == 403 and foreign.json()["error"]["reason"] == "NOT_YOUR_TASK"
    unknown = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": ["1.2.3.4.5"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["reason"] == "STUDY_NOT_FOUND"


def test_assignment_splits_evenly(platform: Platform, cohort: radscholar_phantoms.Manifest) -> None:
    created = platform.gateway.post(
        "/api/v1/projects",
        json={
            "name": f"Split {Path(str(cohort.root)).name}",
            "modality": "CT",
            "task_type": "CLASSIFICATION",
            "dimensionality": "3D",
            "label_schema": {"classes": CLASSES},
        },
    )
    pid = created.json()["id"]
    platform.gateway.post(
        f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [truth(cohort, i)["study"] for i in range(4)]}
    )
    readers = [platform.user(["annotator"], {pid: "annotator"}) for _ in range(3)]
    users = [user for user, _ in readers]
    answer = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments", json={"annotator_ids": [u["id"] for u in users], "mode": "split"}
    )
    assert answer.json()["assigned"] == 4
    assert sorted(answer.json()["per_annotator"].values()) == [1, 1, 2]
    again = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments", json={"annotator_ids": [u["id"] for u in users], "mode": "split"}
    )
    assert again.json()["assigned"] == 0  # every case already has one of them
    progress = platform.gateway.get(f"/api/v1/projects/{pid}/progress").json()
    assert progress["cases"] == 4 and progress["project"]["total"] == 4 and "-" not in progress["per_annotator"]
    # Each annotator's inbox across projects, by task type and status.
    (first, token), load = readers[0], answer.json()["per_annotator"]
    with as_user(platform, token) as client:
        inbox = client.get("/api/v1/tasks", params={"task_type": "CLASSIFICATION", "status": "untagged"}).json()
        assert inbox["total_size"] == load[first["id"]] and {t["project_id"] for t in inbox["tasks"]} == {pid}
        assert client.get("/api/v1/tasks", params={"task_type": "DETECTION"}).json()["total_size"] == 0
        assert client.get("/api/v1/tasks", params={"status": "reviewed"}).json()["total_size"] == 0
    outsider = platform.user(["annotator"])[0]
    refused = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments", json={"annotator_ids": [outsider["id"]]}
    )
    assert refused.status_code == 422 and refused.json()["error"]["reason"] == "NOT_AN_ANNOTATOR"


def rtstruct_square(source: list[pydicom.Dataset], roi: str, k: int, corner: tuple[int, int], size: int) -> bytes:
    """A minimal RT Structure Set with one square contour on slice k, its corners between voxel centres."""
    first = sorted(source, key=lambda ds: int(ds.InstanceNumber))[k]
    spacing = [float(v) for v in first.PixelSpacing]  # (row, column) spacing
    origin = [float(v) for v in first.ImagePositionPatient]
    (i0, j0), half = corner, 0.5
    points = [
        (origin[0] + (i - half) * spacing[1], origin[1] + (j - half) * spacing[0], origin[2])
        for i, j in ((i0, j0), (i0 + size, j0), (i0 + size, j0 + size), (i0, j0 + size))
    ]
    structure = pydicom.Dataset()
    structure.file_meta = pydicom.dataset.FileMetaDataset()
    structure.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    structure.SOPInstanceUID = structure.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    structure.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    structure.SOPClassUID, structure.Modality = "1.2.840.10008.5.1.4.1.1.481.3", "RTSTRUCT"
    structure.PatientID, structure.StudyInstanceUID = first.PatientID, first.StudyInstanceUID
    structure.SeriesInstanceUID = pydicom.uid.generate_uid()

    def item(**values: Any) -> pydicom.Dataset:
        entry = pydicom.Dataset()
        for name, value in values.items():
            setattr(entry, name, value)
        return entry

    images = [item(ReferencedSOPClassUID=ds.SOPClassUID, ReferencedSOPInstanceUID=ds.SOPInstanceUID) for ds in source]
    series = item(SeriesInstanceUID=first.SeriesInstanceUID, ContourImageSequence=images)
    study = item(
        ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
        ReferencedSOPInstanceUID=first.StudyInstanceUID,
        RTReferencedSeriesSequence=[series],
    )
    frame = first.FrameOfReferenceUID
    structure.ReferencedFrameOfReferenceSequence = [item(FrameOfReferenceUID=frame, RTReferencedStudySequence=[study])]
    structure.StructureSetROISequence = [item(ROINumber=1, ReferencedFrameOfReferenceUID=frame, ROIName=roi)]
    contour = item(
        ContourGeometricType="CLOSED_PLANAR",
        NumberOfContourPoints=4,
        ContourData=[f"{v:.4f}" for point in points for v in point],
    )
    structure.ROIContourSequence = [item(ReferencedROINumber=1, ContourSequence=[contour])]
    out = io.BytesIO()
    structure.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_labels_import_and_export(platform: Platform, cohort: radscholar_phantoms.Manifest) -> None:
    assert cohort.root is not None
    created = platform.gateway.post(
        "/api/v1/projects",
        json={
            "name": f"Exchange {cohort.root.name}",
            "modality": "CT",
            "task_type": "SEGMENTATION",
            "dimensionality": "3D",
            "label_schema": {"classes": CLASSES},
        },
    )
    pid = created.json()["id"]
    cases = [truth(cohort, i) for i in range(4)]
    platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [c["study"] for c in cases]})
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    _, reviewer_token = platform.user(["reviewer"], {pid: "reviewer"})
    imports = f"/api/v1/projects/{pid}/labels/imports"

    # Bad files are refused whole: nothing is saved.
    unknown = platform.gateway.post(
        imports,
        params={"format": "csv", "annotator_id": annotator["id"]},
        content=b"study_instance_uid,class\n1.2.3,benign\n",
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["reason"] == "CASE_NOT_IN_PROJECT", unknown.text
    rows = "".join(f"{c['study']},{c['label']}\n" for c in cases[:3]) + f"{cases[3]['study']},granuloma\n"
    bad_class = platform.gateway.post(
        imports,
        params={"format": "csv", "annotator_id": annotator["id"]},
        content=f"study_instance_uid,class\n{rows}".encode(),
    )
    assert bad_class.status_code == 422 and bad_class.json()["error"]["reason"] == "UNKNOWN_CLASS"
    assert "row 5" in bad_class.json()["error"]["message"]
    assert (
        platform.gateway.get(f"/api/v1/projects/{pid}/tasks", params={"assignee_id": annotator["id"]}).json()[
            "total_size"
        ]
        == 0
    )

    # Classes from CSV, then boxes from JSON (in mm only), as model pre-labels in the annotator's tasks.
    csv = "study_instance_uid;class\n" + "".join(f"{c['study']};{c['label']}\n" for c in cases)
    classes = platform.gateway.post(
        imports,
        params={"format": "csv", "annotator_id": annotator["id"], "source": "model:triage/1"},
        content=("\ufeff" + csv).encode(),
    )
    assert classes.status_code == 200 and classes.json() == {"cases": 4, "labels": 4, "boxes": 0}, classes.text
    boxes = {
        "boxes": [
            {
                "study_instance_uid": c["study"],
                "series_instance_uid": c["series"],
                "class": lesion["class"],
                "min": lesion["bbox_voxel"]["min"],
                "max": lesion["bbox_voxel"]["max"],
            }
            for c in cases
            for lesion in c["lesions"]
        ]
    }
    imported = platform.gateway.post(
        imports, params={"format": "json", "annotator_id": annotator["id"], "submit": True}, content=json.dumps(boxes)
    )
    assert imported.status_code == 200 and imported.json()["boxes"] == len(boxes["boxes"]), imported.text
    tasks = platform.gateway.get(f"/api/v1/projects/{pid}/tasks", params={"assignee_id": annotator["id"]}).json()
    task_of = {t["case"]["study_instance_uid"]: t["id"] for t in tasks["tasks"]}
    status_of = {t["case"]["study_instance_uid"]: t["status"] for t in tasks["tasks"]}
    accepted = [c for c in cases if c["lesions"]]  # the JSON names only cases with lesions: only they are submitted
    assert status_of == {c["study"]: "tagged" if c in accepted else "in_progress" for c in cases}
    with as_user(platform, token) as client:
        history = client.get(f"/api/v1/tasks/{task_of[cases[1]['study']]}/annotation/versions").json()["versions"]
        assert [v["source"] for v in history] == ["model:triage/1", "person"]
        assert history[1]["labels"] == history[0]["labels"] and len(history[1]["boxes"]) == len(cases[1]["lesions"])

        # An RTSTRUCT whose ROI is named like a class becomes the mask of the series.
        source = [
            pydicom.dcmread(p, stop_before_pixels=True)
            for p in cohort.root.rglob("*.dcm")
            if pydicom.dcmread(p, stop_before_pixels=True).SeriesInstanceUID == cases[1]["series"]
        ]
        structure = rtstruct_square(source, "Malignant", 5, (10, 12), 4)
        upload = client.post(
            f"/api/v1/tasks/{task_of[cases[1]['study']]}/mask-uploads",
            content=structure,
            headers={"Content-Type": "application/dicom"},
        )
        saved = client.put(
            f"/api/v1/tasks/{task_of[cases[1]['study']]}/annotation",
            json={
                "base_version": 2,
                "labels": history[1]["labels"],
                "boxes": history[1]["boxes"],
                "masks": [{"series_instance_uid": cases[1]["series"], "upload_id": upload.json()["upload_id"]}],
                "submit": True,
            },
        )
        assert saved.status_code == 200, saved.text
        assert saved.json()["masks"][0]["voxels"] == {"malignant": 16}  # 4 x 4 voxel centres inside the square
    with as_user(platform, reviewer_token) as client:
        for case in accepted:
            review = client.post(f"/api/v1/tasks/{task_of[case['study']]}/review", json={"decision": "accept"})
            assert review.status_code == 200, review.text

    # Exports of the accepted labels.
    def export(fmt: str) -> httpx.Response:
        answer = platform.gateway.get(f"/api/v1/projects/{pid}/labels/export", params={"format": fmt})
        assert answer.status_code == 200, answer.text
        return answer

    exported = export("csv").text.splitlines()
    assert exported[0].split(",")[:6] == [
        "case_id",
        "study_instance_uid",
        "patient_id",
        "site",
        "annotator_id",
        "class",
    ]
    assert sorted(line.split(",")[1:6:4] for line in exported[1:]) == sorted([c["study"], c["label"]] for c in accepted)
    boxes_out = export("json").json()["boxes"]
    assert len(boxes_out) == len(boxes["boxes"])
    by_corner = {tuple(b["min"]): b for b in boxes_out}
    for c in cases:
        for lesion in c["lesions"]:
            assert by_corner[tuple(float(v) for v in lesion["bbox_voxel"]["min"])]["min_mm"] == pytest.approx(
                lesion["bbox_mm"]["min"], abs=1e-3
            )
    coco = export("coco").json()
    assert [c["name"] for c in coco["categories"]] == NAMES and coco["annotations"] == []  # 3D boxes are not COCO
    with zipfile.ZipFile(io.BytesIO(export("nifti").content)) as archive:
        (name,) = archive.namelist()
        assert name == f"{cases[1]['study']}/{cases[1]['series']}/{annotator['id']}.nii.gz"
        nifti = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read(name)))
        assert int((np.asarray(nifti.dataobj) == NAMES.index("malignant") + 1).sum()) == 16
    with zipfile.ZipFile(io.BytesIO(export("seg").content)) as archive:
        (name,) = archive.namelist()
        seg = pydicom.dcmread(io.BytesIO(archive.read(name)))
        assert seg.Modality == "SEG" and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == cases[1]["series"]


def test_a_project_takes_studies_of_its_sites_only(
    platform: Platform, cohort: radscholar_phantoms.Manifest, project: dict[str, Any]
) -> None:
    """The cohort's studies come from two sites; a project of one site takes only that site's studies."""
    studies = [truth(cohort, i)["study"] for i in range(4)]
    open_to_all = platform.gateway.post(
        "/api/v1/projects",
        json={"name": f"All sites {Path(str(cohort.root)).name}", "modality": "CT", "task_type": "CLASSIFICATION",
              "dimensionality": "3D", "label_schema": {"classes": CLASSES}},
    ).json()["id"]  # fmt: skip
    added = platform.gateway.post(f"/api/v1/projects/{open_to_all}/cases", json={"study_instance_uids": studies})
    site_of = {c["study_instance_uid"]: c["site"] for c in added.json()["added"]}
    assert len(set(site_of.values())) == 2, site_of
    kept = sorted(set(site_of.values()))[0]
    pid = platform.gateway.post(
        "/api/v1/projects",
        json={"name": f"One site {Path(str(cohort.root)).name}", "modality": "CT", "task_type": "CLASSIFICATION",
              "dimensionality": "3D", "label_schema": {"classes": CLASSES}, "sites": [kept]},
    ).json()["id"]  # fmt: skip
    foreign = next(uid for uid, site in site_of.items() if site != kept)
    refused = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [foreign]})
    assert refused.status_code == 422 and refused.json()["error"]["reason"] == "SITE_NOT_IN_PROJECT", refused.text
    own = [uid for uid, site in site_of.items() if site == kept]
    accepted = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": own})
    assert accepted.status_code == 200 and len(accepted.json()["added"]) == len(own)
