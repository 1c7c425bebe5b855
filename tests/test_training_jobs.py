"""Training runs on a real Ray head with a real MLflow server, from a dataset version built through the gateway.

A 3D nodule classifier trains on two Ray Train workers; one worker is killed mid-run and the run finishes from its
last checkpoint; the best epoch is registered as a model version with its dataset version, exported to ONNX and
promoted. A 3D segmentation run is cancelled and resumed, and its resumption takes the samples from the cache. A 3D
RetinaNet learns the lesions' boxes from their masks, is tested by FROC, and pre-labels a detection project's cases.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pydicom
import pytest
from mlflow import MlflowClient
from ray.util.state import list_actors

from radscholar import Client
from tests.conftest import Platform
from tests.lesion_datasets import LesionDataset, frozen_classification_dataset, lesion_dataset

pytestmark = [pytest.mark.usefixtures("mlflow_server"), pytest.mark.timeout(900)]
TIMEOUT_S = 420


@pytest.fixture(scope="module")
def nodules(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> LesionDataset:
    split = {"train": 0.6, "validation": 0.4, "test": 0.0, "seed": 5}
    return lesion_dataset(platform, tmp_path_factory.mktemp("training") / "ct", 12, 29, split)


def admin(platform: Platform) -> Client:
    return Client(platform.url, token=platform.login(platform.admin_username, platform.admin_password)["access_token"])


def job_of(platform: Platform, job_id: str) -> dict[str, Any]:
    answer = platform.gateway.get(f"/api/v1/training/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def wait_until(platform: Platform, job_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = job_of(platform, job_id)
        if done(job):
            return job
        assert job["job"]["state"] not in {"FAILED", "CANCELLED"} or done(job), job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not get there in {TIMEOUT_S} s: {job_of(platform, job_id)}")


def log_text(job: dict[str, Any]) -> str:
    return "\n".join(line["message"] for line in job["log_lines"])


def start(
    platform: Platform, dataset_id: str, task: str, settings: dict[str, Any], job_id: str, spatial_dims: int = 3
) -> dict[str, Any]:
    body = {
        "dataset_id": dataset_id,
        "task": task,
        "spatial_dims": spatial_dims,
        "settings": settings,
        "job_id": job_id,
    }
    started = platform.gateway.post("/api/v1/training/jobs", json=body)
    assert started.status_code == 201, started.text
    return started.json()  # type: ignore[no-any-return]


def succeeded(platform: Platform, job_id: str) -> dict[str, Any]:
    job = wait_until(platform, job_id, lambda job: job["job"]["state"] in {"SUCCEEDED", "FAILED"})
    assert job["job"]["state"] == "SUCCEEDED", log_text(job)
    return job


def test_a_classifier_survives_a_killed_worker_and_registers_its_best_epoch(
    platform: Platform, ray_head: str, nodules: LesionDataset, tmp_path: Path
) -> None:
    settings = {
        "architecture": "resnet18",
        "epochs": 4,
        "batch_size": 4,
        "workers": 2,
        "checkpoint_interval": 1,
        "schedule": {"name": "none"},
        "preprocessing": {"size": [32, 32, 32], "crop": "lesion", "window": [-1000, 400], "normalisation": "minmax"},
    }
    job_id = f"nodule-classifier-{nodules.root.parent.name}"
    started = start(platform, nodules.dataset["id"], "CLASSIFICATION", settings, job_id)
    assert started["cases"]["train"] > 0 and started["settings"]["workers"] == 2

    # Kill one Ray Train worker once the run has a checkpoint: Ray restarts the group, which resumes from it.
    wait_until(platform, job_id, lambda job: "epoch 2/4" in log_text(job) and "checkpoint saved" in log_text(job))
    workers = list_actors(address=ray_head, filters=[("class_name", "=", "RayTrainWorker"), ("state", "=", "ALIVE")])
    assert len(workers) == 2, workers
    os.kill(workers[0].pid, signal.SIGKILL)
    job = wait_until(platform, job_id, lambda job: job["job"]["state"] in {"SUCCEEDED", "FAILED"})
    assert job["job"]["state"] == "SUCCEEDED", log_text(job)
    assert "resuming from the checkpoint of epoch" in log_text(job)
    result = job["job"]["result"]

    # One MLflow run: every epoch once, the killed one included.
    curves = platform.gateway.get(f"/api/v1/training/runs/{job_id}/metrics").json()["curves"]
    by_name = {curve["name"]: [point["epoch"] for point in curve["points"]] for curve in curves}
    assert by_name["train_loss"] == [1, 2, 3, 4] and by_name["val_auc"] == [1, 2, 3, 4]

    # The best epoch, registered with its dataset version.
    name, number = result["model_name"], int(result["model_version"])
    version = platform.gateway.get(f"/api/v1/models/{name}/versions/{number}").json()
    assert version["tags"]["dataset_id"] == nodules.dataset["id"]
    assert version["tags"]["dataset_hash"] == nodules.dataset["content_hash"]
    assert version["tags"]["best_epoch"] == result["best_epoch"]
    assert version["status"] == "CANDIDATE" and 0.0 <= version["metrics"]["val_auc"] <= 1.0

    predictions = platform.gateway.get(f"/api/v1/training/runs/{job_id}/predictions.csv")
    rows = list(csv.DictReader(io.StringIO(predictions.text)))
    lesions = sum(len(c["series"][0]["lesions"]) for c in nodules.cases)
    validation = {
        i["case_id"]
        for i in nodules.dataset["manifest"]["items"]
        if nodules.dataset["manifest"]["splits"][i["case_id"]] == "validation"
    }
    assert {row["split"] for row in rows} == {"validation"} and 0 < len(rows) < lesions
    assert {row["sample_id"].split("#")[0] for row in rows} <= validation
    assert all(abs(float(row["p_benign"]) + float(row["p_malignant"]) - 1) < 1e-5 for row in rows)
    assert all(row["case_id"] == row["sample_id"].split("#")[0] and row["patient_id"] for row in rows)

    # The predictions become a table of the statistics service (to compare models' scores, for instance).
    with admin(platform) as client:
        table = client.table_from_training(job_id)
    types = {column["name"]: column["type"] for column in table["columns"]}
    assert table["rows"] == len(rows) and table["source"] == f"training:{job_id}"
    assert types["p_malignant"] == "numeric" and types["patient_id"] != "numeric"

    # Exported to ONNX, it gives the probabilities the run wrote.
    exported = platform.gateway.get(f"/api/v1/models/{name}/versions/{number}/export", params={"format": "onnx"})
    assert exported.status_code == 200, exported.text
    session = onnxruntime.InferenceSession(exported.content)
    logits = session.run(None, {"image": np.zeros((2, 1, 32, 32, 32), dtype=np.float32)})[0]
    assert logits.shape == (2, 2)

    promoted = platform.gateway.post(f"/api/v1/models/{name}/versions/{number}/promote")
    assert promoted.status_code == 200 and promoted.json()["status"] == "PRODUCTION", promoted.text
    whole = {"series_instance_uid": nodules.cases[0]["series"][0]["series_instance_uid"]}
    refused = platform.gateway.post(f"/api/v1/models/{name}/versions/{number}/predict", json=whole)
    assert refused.status_code == 422 and refused.json()["error"]["reason"] == "NEEDS_LESION_MASKS", refused.text

    # Tested on the validation split, the registered model gives back the AUC its best epoch had there.
    tested = platform.gateway.post(
        f"/api/v1/models/{name}/versions/{number}/tests",
        json={"dataset_id": nodules.dataset["id"], "split": "validation"},
    )
    assert tested.status_code == 201, tested.text
    evaluation_id = tested.json()["job"]["id"]
    job = wait_until(platform, evaluation_id, lambda job: job["job"]["state"] in {"SUCCEEDED", "FAILED"})
    assert job["job"]["state"] == "SUCCEEDED", log_text(job)
    evaluation = platform.gateway.get(f"/api/v1/models/evaluations/{evaluation_id}").json()
    report = evaluation["report"]
    assert report["samples"] == len(rows) and evaluation["model"] == {"name": name, "version": number}
    auc = report["report"]["auc"]
    assert auc["value"] == pytest.approx(version["metrics"]["best_validation_auc"], abs=1e-6)
    assert auc["low"] is None or auc["low"] <= auc["value"] <= auc["high"]
    assert {"roc", "confusion-matrix"} <= set(evaluation["plots"])
    roc = platform.gateway.get(f"/api/v1/models/evaluations/{evaluation_id}/roc.png")
    assert roc.status_code == 200 and roc.content.startswith(b"\x89PNG")
    with admin(platform) as client:
        tested_table = client.table_from_training(evaluation_id=evaluation_id)
    assert tested_table["rows"] == len(rows) and tested_table["source"] == f"evaluation:{evaluation_id}"


def test_a_segmentation_run_is_cancelled_then_resumed_from_its_checkpoint_and_the_cache(
    platform: Platform, ray_head: str, nodules: LesionDataset, tmp_path: Path
) -> None:
    settings = {
        "architecture": "unet",
        "epochs": 5,  # the cancel lands an epoch or two after the first checkpoint: the resumed run has epochs to show
        "batch_size": 2,
        "checkpoint_interval": 1,
        "preprocessing": {
            "size": [32, 32, 32],
            "window": [-1000, 400],
            "normalisation": "minmax",
            "samples_per_volume": 2,
        },
    }
    run_id = f"nodule-segmentation-{nodules.root.parent.name}"
    start(platform, nodules.dataset["id"], "SEGMENTATION", settings, run_id)
    wait_until(platform, run_id, lambda job: "checkpoint saved" in log_text(job))
    cancelled = platform.gateway.post(f"/api/v1/training/jobs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    job = wait_until(platform, run_id, lambda job: job["job"]["state"] == "CANCELLED")
    mlflow_run = platform.gateway.get(f"/api/v1/training/runs/{run_id}/metrics").json()["mlflow_run_id"]
    assert MlflowClient(f"http://127.0.0.1:{platform.mlflow_port}").get_run(mlflow_run).info.status == "KILLED"

    resumed = platform.gateway.post(f"/api/v1/training/runs/{run_id}/resume")
    assert resumed.status_code == 201, resumed.text
    resumed_id = resumed.json()["job"]["id"]
    assert resumed_id == f"{run_id}.r1"
    # Followed live through the SDK (Server-Sent Events): progress by batch with an ETA, then the end.
    with admin(platform) as client:
        events = list(client.watch_training_job(resumed_id, timeout=TIMEOUT_S))
        mlflow_zip = client.export_model(events[-1]["job"]["result"]["model_name"], 1, "mlflow", tmp_path / "model.zip")
    job, log = events[-1]["job"], "\n".join(line["message"] for event in events for line in event["log_lines"])
    assert job["state"] == "SUCCEEDED", log
    assert "samples from the cache" in log and "resuming from the checkpoint of epoch" in log
    assert 0.0 <= float(job["result"]["validation_dice"]) <= 1.0
    running = [event["job"]["progress"] for event in events if event["job"]["state"] == "RUNNING"]
    assert any("batch" in p["step"] and p.get("eta_seconds") is not None for p in running), running
    with zipfile.ZipFile(mlflow_zip) as archive:
        assert any(name.endswith("/MLmodel") for name in archive.namelist())

    # Tried on one series: the mask's volume per class, an overlay PNG and a DICOM SEG over that series.
    name = job["result"]["model_name"]
    series = nodules.cases[0]["series"][0]["series_instance_uid"]
    with admin(platform) as client:
        found = client.predict(name, 1, series, dicom=True, out=tmp_path / "predicted")
    assert set(found["volumes"]) == {"benign", "malignant"} and all(v >= 0 for v in found["volumes"].values())
    assert (tmp_path / "predicted" / "overlay.png").read_bytes().startswith(b"\x89PNG")
    seg = pydicom.dcmread(tmp_path / "predicted" / "seg.dcm")
    assert seg.Modality == "SEG" and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series
    unknown = platform.gateway.post(f"/api/v1/models/{name}/versions/9/predict", json={"series_instance_uid": series})
    assert unknown.status_code == 404, unknown.text
    again = platform.gateway.post(f"/api/v1/training/runs/{run_id}/resume")
    assert again.status_code == 409 and again.json()["error"]["reason"] == "RUN_SUCCEEDED", again.text

    # A batch over two studies; each series' mask becomes an annotator's draft in a segmentation project.
    items = nodules.dataset["manifest"]["items"][:2]
    classes = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]
    project = {"name": f"Masks {run_id}", "modality": "CT", "task_type": "SEGMENTATION", "dimensionality": "3D"}
    created = platform.gateway.post("/api/v1/projects", json={**project, "label_schema": {"classes": classes}})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    studies = {"study_instance_uids": [item["study_instance_uid"] for item in items]}
    assert platform.gateway.post(f"/api/v1/projects/{pid}/cases", json=studies).status_code == 200
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    batch = platform.gateway.post(
        f"/api/v1/models/{name}/versions/1/batch-predictions",
        json={"series_instance_uids": [item["series_instance_uids"][0] for item in items]},
    )
    assert batch.status_code == 201, batch.text
    succeeded(platform, batch.json()["job"]["id"])
    written = platform.gateway.post(
        f"/api/v1/models/batch-predictions/{batch.json()['job']['id']}/prelabels",
        json={"project_id": pid, "annotator_id": annotator["id"]},
    )
    assert written.status_code == 200, written.text
    assert written.json()["cases"] == 2 and written.json()["source"] == f"model:{name}/1"
    with platform.client(token) as client:
        task = client.get(f"/api/v1/projects/{pid}/tasks/next").json()
        [draft] = client.get(f"/api/v1/tasks/{task['id']}/annotation/versions").json()["versions"]
        assert draft["source"] == f"model:{name}/1" and not draft["submitted"]
        [mask] = draft["masks"]
        assert mask["series_instance_uid"] == task["case"]["series"][0]["series_instance_uid"]


def test_a_run_that_does_not_fit_its_dataset_version_is_refused_before_any_compute(
    platform: Platform, nodules: LesionDataset
) -> None:
    body = {"dataset_id": nodules.dataset["id"], "task": "CLASSIFICATION", "spatial_dims": 3}
    whole_images = platform.gateway.post(
        "/api/v1/training/jobs", json={**body, "settings": {"architecture": "resnet18"}}
    )
    assert whole_images.status_code == 422, whole_images.text
    assert whole_images.json()["error"]["reason"] == "DATASET_TASK_MISMATCH"
    flat = platform.gateway.post(
        "/api/v1/training/jobs", json={**body, "spatial_dims": 2, "settings": {"architecture": "resnet18"}}
    )
    assert flat.json()["error"]["reason"] == "DATASET_DIMENSIONS_MISMATCH", flat.text


def test_a_classifier_pre_labels_new_cases_that_annotators_then_correct(
    platform: Platform, ray_head: str, tmp_path: Path
) -> None:
    dataset = frozen_classification_dataset(platform, tmp_path / "ct")
    settings = {
        "architecture": "resnet18",
        "epochs": 1,
        "batch_size": 2,
        "preprocessing": {"size": [32, 32, 32], "window": [-1000, 400], "normalisation": "minmax"},
    }
    run_id = f"case-classifier-{tmp_path.name}"[:64]
    start(platform, dataset["id"], "CLASSIFICATION", settings, run_id)
    name, version = succeeded(platform, run_id)["job"]["result"]["model_name"], 1

    # A new project takes the same studies; the model runs over their series as a batch job.
    items = dataset["manifest"]["items"]
    studies = [item["study_instance_uid"] for item in items]
    classes = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]
    project = {"name": f"Pre-labeled {run_id}", "modality": "CT", "task_type": "CLASSIFICATION", "dimensionality": "3D"}
    created = platform.gateway.post("/api/v1/projects", json={**project, "label_schema": {"classes": classes}})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    assert (
        platform.gateway.post(f"/api/v1/projects/{pid}/cases", json={"study_instance_uids": studies}).status_code == 200
    )
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    series = [item["series_instance_uids"][0] for item in items]
    batch = platform.gateway.post(
        f"/api/v1/models/{name}/versions/{version}/batch-predictions", json={"series_instance_uids": series}
    )
    assert batch.status_code == 201, batch.text
    batch_id = batch.json()["job"]["id"]
    succeeded(platform, batch_id)
    table = platform.gateway.get(f"/api/v1/models/batch-predictions/{batch_id}/predictions.csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {row["series_instance_uid"] for row in rows} == set(series)
    assert all(row["class"] in {"benign", "malignant"} and row["study_instance_uid"] in studies for row in rows)

    # The classes become the annotator's drafts, with the model version as their source; the annotator corrects one.
    written = platform.gateway.post(
        f"/api/v1/models/batch-predictions/{batch_id}/prelabels",
        json={"project_id": pid, "annotator_id": annotator["id"]},
    )
    assert written.status_code == 200, written.text
    assert written.json() == {"cases": 4, "labels": 4, "source": f"model:{name}/{version}"}
    with platform.client(token) as client:
        task = client.get(f"/api/v1/projects/{pid}/tasks/next").json()
        [draft] = client.get(f"/api/v1/tasks/{task['id']}/annotation/versions").json()["versions"]
        assert draft["source"] == f"model:{name}/{version}" and not draft["submitted"]
        predicted = {row["study_instance_uid"]: row["class"] for row in rows}[task["case"]["study_instance_uid"]]
        assert [label["class_name"] for label in draft["labels"]] == [predicted]
        other = "malignant" if predicted == "benign" else "benign"
        edit = {"base_version": draft["version"], "labels": [{"class_name": other}], "submit": True}
        corrected = client.put(f"/api/v1/tasks/{task['id']}/annotation", json=edit)
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["source"] == "person"


def test_a_detector_learns_boxes_from_lesion_masks_is_tested_by_froc_and_pre_labels_boxes(
    platform: Platform, ray_head: str, nodules: LesionDataset, tmp_path: Path
) -> None:
    settings = {
        "architecture": "retinanet",
        "epochs": 2,
        "batch_size": 2,
        "preprocessing": {"window": [-1000, 400], "normalisation": "minmax", "samples_per_volume": 2},
    }
    run_id = f"nodule-detector-{nodules.root.parent.name}"
    started = start(platform, nodules.dataset["id"], "DETECTION", settings, run_id)
    assert (
        started["settings"]["preprocessing"]["size"] == [] and started["settings"]["detection"]["anchor_shapes"] == []
    )
    job = succeeded(platform, run_id)
    assert "from the training boxes: patch size" in log_text(job)
    result = job["job"]["result"]
    name, number = result["model_name"], int(result["model_version"])
    version = platform.gateway.get(f"/api/v1/models/{name}/versions/{number}").json()
    assert version["tags"]["task"] == "detection" and len(json.loads(version["tags"]["anchor_shapes"])) >= 1
    assert 0.0 <= version["metrics"]["val_cpm"] <= 1.0
    onnx = platform.gateway.get(f"/api/v1/models/{name}/versions/{number}/export", params={"format": "onnx"})
    assert onnx.status_code == 409 and onnx.json()["error"]["reason"] == "EXPORT_UNSUPPORTED", onnx.text

    # The predictions table: each validation lesion found or missed (with the score that found it), and each false
    # positive.
    table = platform.gateway.get(f"/api/v1/training/runs/{run_id}/predictions.csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    lesions = [row for row in rows if row["lesion"]]
    assert lesions and {row["split"] for row in rows} == {"validation"}
    assert all(row["target"] in {"benign", "malignant"} and 0.0 <= float(row["score"]) <= 1.0 for row in lesions)

    # Tested on the validation split: FROC, mAP and per-lesion hits, with the FROC plot.
    tested = platform.gateway.post(
        f"/api/v1/models/{name}/versions/{number}/tests",
        json={"dataset_id": nodules.dataset["id"], "split": "validation"},
    )
    assert tested.status_code == 201, tested.text
    evaluation_id = tested.json()["job"]["id"]
    elsewhere = platform.gateway.post(
        f"/api/v1/models/{name}/versions/{number}/tests",
        json={"dataset_id": nodules.dataset["id"], "series_instance_uids": ["1.2.3.4"]},
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["error"]["reason"] == "UNKNOWN_SERIES", elsewhere.text
    succeeded(platform, evaluation_id)
    evaluation = platform.gateway.get(f"/api/v1/models/evaluations/{evaluation_id}").json()
    report = evaluation["report"]["report"]
    assert report["task"] == "detection" and report["lesions"] == len(lesions)
    assert evaluation["report"]["headline"]["cpm"] == pytest.approx(version["metrics"]["best_validation_cpm"], abs=1e-6)
    froc = platform.gateway.get(f"/api/v1/models/evaluations/{evaluation_id}/froc.png")
    assert froc.status_code == 200 and froc.content.startswith(b"\x89PNG")

    # Tried on one series: its boxes by score, drawn on the image, and a Secondary Capture a viewer opens.
    series = nodules.cases[0]["series"][0]["series_instance_uid"]
    with admin(platform) as client:
        found = client.predict(name, number, series, dicom=True, out=tmp_path / "predicted")
    scores = [box["score"] for box in found["detections"]]
    assert scores == sorted(scores, reverse=True) and all(len(box["min"]) == 3 for box in found["detections"])
    assert (tmp_path / "predicted" / "overlay.png").read_bytes().startswith(b"\x89PNG")
    assert pydicom.dcmread(tmp_path / "predicted" / "sc.dcm").Modality == "OT"

    # A batch over the dataset's series; the boxes become an annotator's drafts in a detection project.
    items = nodules.dataset["manifest"]["items"][:3]
    classes = [{"name": "benign", "color": "#2ca02c"}, {"name": "malignant", "color": "#d62728"}]
    project = {"name": f"Boxes {run_id}", "modality": "CT", "task_type": "DETECTION", "dimensionality": "3D"}
    created = platform.gateway.post("/api/v1/projects", json={**project, "label_schema": {"classes": classes}})
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    studies = {"study_instance_uids": [item["study_instance_uid"] for item in items]}
    assert platform.gateway.post(f"/api/v1/projects/{pid}/cases", json=studies).status_code == 200
    annotator, token = platform.user(["annotator"], {pid: "annotator"})
    batch = platform.gateway.post(
        f"/api/v1/models/{name}/versions/{number}/batch-predictions",
        json={"series_instance_uids": [item["series_instance_uids"][0] for item in items]},
    )
    assert batch.status_code == 201, batch.text
    batch_id = batch.json()["job"]["id"]
    succeeded(platform, batch_id)
    per_series = list(
        csv.DictReader(
            io.StringIO(platform.gateway.get(f"/api/v1/models/batch-predictions/{batch_id}/predictions.csv").text)
        )
    )
    lowest_best = min(float(row["best_score"]) for row in per_series)
    written = platform.gateway.post(
        f"/api/v1/models/batch-predictions/{batch_id}/prelabels",
        json={"project_id": pid, "annotator_id": annotator["id"], "min_score": lowest_best},
    )
    assert written.status_code == 200, written.text
    assert written.json()["cases"] == 3 and written.json()["source"] == f"model:{name}/{number}"
    with platform.client(token) as client:
        task = client.get(f"/api/v1/projects/{pid}/tasks/next").json()
        [draft] = client.get(f"/api/v1/tasks/{task['id']}/annotation/versions").json()["versions"]
        assert draft["source"] == f"model:{name}/{number}" and not draft["submitted"] and draft["boxes"]
        box = draft["boxes"][0]
        kept = {
            "class_name": box["class_name"],
            "series_instance_uid": box["series_instance_uid"],
            "min": box["min"],
            "max": box["max"],
        }
        edit = {"base_version": draft["version"], "boxes": [kept], "submit": True}
        corrected = client.put(f"/api/v1/tasks/{task['id']}/annotation", json=edit)
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["source"] == "person" and len(corrected.json()["boxes"]) == 1


def test_a_mask_rcnn_outlines_lesions_on_radiographs_is_tested_by_froc_and_dice_and_writes_a_seg(
    platform: Platform, ray_head: str, tmp_path: Path
) -> None:
    split = {"train": 0.5, "validation": 0.5, "test": 0.0, "seed": 3}
    radiographs = lesion_dataset(platform, tmp_path / "dx", 6, 17, split, shape=(256, 256), kind="dx")
    settings = {
        "architecture": "maskrcnn",
        "epochs": 1,
        "batch_size": 2,
        "preprocessing": {"normalisation": "zscore", "size": [128, 128], "samples_per_volume": 1},
    }
    run_id = f"lesion-outliner-{tmp_path.name}"[:64]
    started = start(platform, radiographs.dataset["id"], "DETECTION", settings, run_id, spatial_dims=2)
    assert started["settings"]["architecture"] == "maskrcnn"
    name = succeeded(platform, run_id)["job"]["result"]["model_name"]

    tested = platform.gateway.post(
        f"/api/v1/models/{name}/versions/1/tests", json={"dataset_id": radiographs.dataset["id"], "split": "all"}
    )
    assert tested.status_code == 201, tested.text
    evaluation_id = tested.json()["job"]["id"]
    succeeded(platform, evaluation_id)
    evaluation = platform.gateway.get(f"/api/v1/models/evaluations/{evaluation_id}").json()
    assert {"froc", "dice-box"} <= set(evaluation["plots"])
    assert "outlines" in evaluation["report"]["report"] and "cpm" in evaluation["report"]["headline"]

    series = radiographs.cases[0]["series"][0]["series_instance_uid"]
    with admin(platform) as client:
        found = client.predict(name, 1, series, dicom=True, out=tmp_path / "predicted")
    assert all(len(box["min"]) == 2 for box in found["detections"])
    seg = pydicom.dcmread(tmp_path / "predicted" / "seg.dcm")
    assert seg.Modality == "SEG" and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series
