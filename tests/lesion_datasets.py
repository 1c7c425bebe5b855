"""Labeled dataset versions of phantom CTs, built through the gateway as researchers build them.

``lesion_dataset``: the studies are uploaded, a 3D segmentation project with lesion classes (benign, malignant) takes
them as cases, an annotator saves each study's lesion map (each lesion painted with its class position), a reviewer
accepts, and the labels are frozen. ``frozen_classification_dataset``: a 3D classification project whose class
labels are imported and accepted.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

import radscholar_phantoms
from tests.conftest import Platform

CLASSES = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]
CLASSIFICATION_SHAPE = (16, 48, 48)  # slices, rows, columns


@dataclass(frozen=True)
class LesionDataset:
    root: Path  # the phantoms
    cases: list[dict[str, Any]]  # the phantom manifest's cases
    project_id: str
    dataset: dict[str, Any]  # the frozen dataset version, as the gateway answered


def class_map(root: Path, series: dict[str, Any]) -> bytes:
    """The phantom's lesion map as the project's label map (each lesion's class position), gzipped NIfTI."""
    lesions = nib.load(root / series["mask"])
    ids = np.asarray(lesions.dataobj)
    classes = np.zeros(ids.shape, dtype=np.uint8)
    for lesion in series["lesions"]:
        classes[ids == lesion["lesion_id"]] = [c["name"] for c in CLASSES].index(lesion["class"]) + 1
    buffer = io.BytesIO(nib.Nifti1Image(classes, lesions.affine).to_bytes())
    return gzip.compress(buffer.getvalue())


KINDS = {"ct": ("CT", "3D"), "dx": ("DX", "2D")}  # phantom kind: the project's modality and dimensionality


def lesion_dataset(
    platform: Platform,
    out: Path,
    cases: int,
    seed: int,
    split: dict[str, Any],
    shape: tuple[int, ...] = (24, 64, 64),
    kind: str = "ct",
) -> LesionDataset:
    """``cases`` phantom CTs (or radiographs, ``kind`` "dx": a 2D project) as a frozen dataset version of a
    lesion-segmentation project, split by ``split``."""
    modality, dimensionality = KINDS[kind]
    manifest = radscholar_phantoms.generate(kind, cases, 2, seed, out, shape=shape)
    assert manifest.root is not None
    root = manifest.root
    phantoms = json.loads((root / "manifest.json").read_text())["cases"]
    files = sorted(root.rglob("*.dcm"))
    uploaded = platform.gateway.post(
        "/api/v1/dicom/uploads", files=[("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]
    )
    assert uploaded.status_code == 200 and uploaded.json()["rejected"] == 0, uploaded.text
    created = platform.gateway.post(
        "/api/v1/projects",
        json={
            "name": f"Lesions {root.parent.name}-{root.name}",
            "modality": modality,
            "task_type": "SEGMENTATION",
            "dimensionality": dimensionality,
            "label_schema": {"classes": CLASSES, "level": "lesion"},
        },
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    added = platform.gateway.post(
        f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": [c["study_instance_uid"] for c in phantoms]}
    )
    assert added.status_code == 200 and len(added.json()["added"]) == len(phantoms), added.text
    annotator, annotator_token = platform.user(["annotator"], {pid: "annotator"})
    _, reviewer_token = platform.user(["reviewer"], {pid: "reviewer"})
    assigned = platform.gateway.post(
        f"/api/v1/projects/{pid}/tasks/assignments", json={"annotator_ids": [annotator["id"]], "mode": "split"}
    )
    assert assigned.status_code == 200, assigned.text
    by_study = {c["study_instance_uid"]: c for c in phantoms}
    submitted = []
    with platform.client(annotator_token) as client:
        while (task := client.get(f"/api/v1/projects/{pid}/tasks/next").json()) is not None:
            series = by_study[task["case"]["study_instance_uid"]]["series"][0]
            upload = client.post(
                f"/api/v1/tasks/{task['id']}/mask-uploads",
                content=class_map(root, series),
                headers={"Content-Type": "application/gzip"},
            )
            assert upload.status_code == 201, upload.text
            mask = {"series_instance_uid": series["series_instance_uid"], "upload_id": upload.json()["upload_id"]}
            saved = client.put(
                f"/api/v1/tasks/{task['id']}/annotation", json={"base_version": 0, "masks": [mask], "submit": True}
            )
            assert saved.status_code == 200, saved.text
            submitted.append(task["id"])
    with platform.client(reviewer_token) as client:
        for task_id in submitted:
            assert client.post(f"/api/v1/tasks/{task_id}/review", json={"decision": "accept"}).status_code == 200
    frozen = platform.gateway.post(f"/api/v1/projects/{pid}/datasets", json={"split": split})
    assert frozen.status_code == 201, frozen.text
    return LesionDataset(root, phantoms, pid, frozen.json()["dataset"])


def frozen_classification_dataset(platform: Platform, folder: Path) -> dict[str, Any]:
    """Four small phantom CTs in a 3D classification project, two benign and two malignant, their class labels
    imported and accepted, frozen with half of each class in train and half in validation."""
    radscholar_phantoms.generate("ct", 4, 1, random.randrange(10**9), folder, shape=CLASSIFICATION_SHAPE)
    files = sorted(folder.rglob("*.dcm"))
    uploaded = platform.gateway.post(
        "/api/v1/dicom/uploads", files=[("files", (f.name, f.read_bytes(), "application/dicom")) for f in files]
    )
    assert uploaded.status_code == 200 and uploaded.json()["rejected"] == 0, uploaded.text
    studies = [case["study_instance_uid"] for case in json.loads((folder / "manifest.json").read_text())["cases"]]
    classes = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]
    created = platform.gateway.post(
        "/api/v1/projects",
        json={
            "name": f"Training {uuid.uuid4().hex[:8]}",
            "modality": "CT",
            "task_type": "CLASSIFICATION",
            "dimensionality": "3D",
            "label_schema": {"classes": classes},
        },
    )
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    added = platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": studies})
    assert added.status_code == 200 and len(added.json()["added"]) == 4, added.text
    annotator, _ = platform.user(["annotator"], {pid: "annotator"})
    _, reviewer_token = platform.user(["reviewer"], {pid: "reviewer"})
    rows = "".join(f"{uid},{('benign', 'malignant')[i % 2]}\n" for i, uid in enumerate(studies))
    imported = platform.gateway.post(
        f"/api/v1/projects/{pid}/labels/imports",
        params={"format": "csv", "annotator_id": annotator["id"], "submit": True},
        content=f"study_instance_uid,class\n{rows}".encode(),
    )
    assert imported.status_code == 200 and imported.json()["labels"] == 4, imported.text
    with platform.client(reviewer_token) as reviewer:
        tasks = reviewer.get(f"/api/v1/projects/{pid}/tasks", params={"status": "tagged"}).json()["tasks"]
        assert len(tasks) == 4
        for task in tasks:
            assert reviewer.post(f"/api/v1/tasks/{task['id']}/review", json={"decision": "accept"}).status_code == 200
    split = {"train": 0.5, "validation": 0.5, "test": 0.0, "stratify": "class", "seed": 1}
    frozen = platform.gateway.post(f"/api/v1/projects/{pid}/datasets", json={"split": split})
    assert frozen.status_code == 201, frozen.text
    return frozen.json()["dataset"]  # type: ignore[no-any-return]
