"""A labeled dataset version of phantom CTs built through the gateway, as researchers build one: the studies are
uploaded, a 3D segmentation project with lesion classes (benign, malignant) takes them as cases, an annotator saves
each study's lesion map (each lesion painted with its class position), a reviewer accepts, and the labels are frozen.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

import radscholar_phantoms
from tests.conftest import Platform

CLASSES = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]


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


def lesion_dataset(
    platform: Platform, out: Path, cases: int, seed: int, split: dict[str, Any], shape: tuple[int, ...] = (24, 64, 64)
) -> LesionDataset:
    """``cases`` phantom CTs as a frozen dataset version of a lesion-segmentation project, split by ``split``."""
    manifest = radscholar_phantoms.generate("ct", cases, 2, seed, out, shape=shape)
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
            "name": f"Nodules {root.parent.name}-{root.name}",
            "modality": "CT",
            "task_type": "SEGMENTATION",
            "dimensionality": "3D",
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
