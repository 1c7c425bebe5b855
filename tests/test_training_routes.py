"""Training through the gateway, for what needs neither Ray nor MLflow: default settings, settings and dataset
versions checked (validate_only), bad settings named, custom networks imported, unknown jobs and runs, credentials.
Runs themselves (Ray, MLflow) are tested with the service."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import torch

from tests.conftest import Platform
from tests.lesion_datasets import frozen_classification_dataset

SMALL: dict[str, Any] = {"architecture": "resnet18", "epochs": 2, "preprocessing": {"size": [32, 32, 32]}}


@pytest.fixture(scope="module")
def dataset(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return frozen_classification_dataset(platform, tmp_path_factory.mktemp("training-ct"))


def assert_error(answer: httpx.Response, status: int, reason: str, setting: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["reason"] == reason, error
    if setting is not None:
        assert error["details"]["setting"] == setting, error
    return error


def start(platform: Platform, dataset_id: str, **body: Any) -> httpx.Response:
    request = {"dataset_id": dataset_id, "task": "CLASSIFICATION", "spatial_dims": 3, "validate_only": True} | body
    return platform.gateway.post("/api/v1/training/jobs", json=request)


def test_default_settings_per_task_and_dimensionality(platform: Platform) -> None:
    defaults = "/api/v1/training/defaults"
    classification = platform.gateway.get(defaults, params={"task": "CLASSIFICATION", "spatial_dims": 3})
    assert classification.status_code == 200, classification.text
    answer = classification.json()
    assert (answer["task"], answer["spatial_dims"]) == ("CLASSIFICATION", 3)
    settings = answer["settings"]
    assert settings["architecture"] == "resnet18" and settings["loss"] == "cross-entropy"
    assert settings["preprocessing"]["size"] == [64, 64, 64] and settings["early_stopping"]["metric"] == "val_auc"
    assert settings["optimizer"] == {"name": "adamw", "learning_rate": 0.001, "momentum": 0.9, "weight_decay": 0.0001}
    segmentation = platform.gateway.get(defaults, params={"task": "SEGMENTATION", "spatial_dims": 2}).json()["settings"]
    assert segmentation["architecture"] == "unet" and segmentation["preprocessing"]["size"] == [256, 256]
    assert segmentation["augmentation"]["flip"]["axes"] == [0, 1]

    detection = platform.gateway.get(defaults, params={"task": "DETECTION", "spatial_dims": 3}).json()["settings"]
    assert detection["architecture"] == "retinanet" and detection["loss"] == "detector"
    assert detection["preprocessing"]["size"] == [] and detection["detection"]["anchor_shapes"] == []  # from boxes
    assert detection["early_stopping"]["metric"] == "val_cpm"
    flat = platform.gateway.get(defaults, params={"task": "DETECTION", "spatial_dims": 2}).json()["settings"]
    assert flat["architecture"] == "fasterrcnn"
    wrong_dims = platform.gateway.get(defaults, params={"task": "CLASSIFICATION", "spatial_dims": 4})
    assert_error(wrong_dims, 422, "INVALID_SPATIAL_DIMS")
    assert_error(platform.gateway.get(defaults, params={"spatial_dims": 3}), 422, "INVALID_REQUEST")


BAD_SETTINGS: dict[str, dict[str, Any]] = {
    "optimizer.learning_rate": {"optimizer": {"learning_rate": -1}},
    "epochs": {"epochs": 0},
    "optimiser": {"optimiser": {"name": "sgd"}},
    "preprocessing.size": {"preprocessing": {"size": [32, 32]}},
    "early_stopping.metric": {"early_stopping": {"metric": "val_dice"}},
    "architecture": {"architecture": "no-such-network"},
}


@pytest.mark.parametrize("setting", sorted(BAD_SETTINGS))
def test_a_bad_setting_is_refused_by_name(platform: Platform, dataset: dict[str, Any], setting: str) -> None:
    settings = SMALL | BAD_SETTINGS[setting]
    for validate_only in (True, False):
        answer = start(platform, dataset["id"], settings=settings, validate_only=validate_only)
        error = assert_error(answer, 422, "UNKNOWN_ARCHITECTURE" if setting == "architecture" else "INVALID_SETTING")
        assert error["details"]["setting"] == setting and setting in error["message"]


def test_validate_only_checks_settings_and_dataset_version_and_starts_nothing(
    platform: Platform, dataset: dict[str, Any]
) -> None:
    before = platform.gateway.get("/api/v1/training/jobs").json()["jobs"]
    answer = start(platform, dataset["id"], settings=SMALL)
    assert answer.status_code == 200, answer.text
    checked = answer.json()
    assert checked["job"] is None
    assert checked["cases"] == {"train": 2, "validation": 2, "test": 0}
    settings = checked["settings"]
    assert settings["epochs"] == 2 and settings["preprocessing"]["size"] == [32, 32, 32]
    assert settings["optimizer"]["name"] == "adamw" and settings["task"] == "classification"
    assert platform.gateway.get("/api/v1/training/jobs").json()["jobs"] == before

    # The dataset version has to fit the run.
    mismatch = start(platform, dataset["id"], task="SEGMENTATION", settings={"preprocessing": {"size": [32, 32, 32]}})
    assert_error(mismatch, 422, "DATASET_TASK_MISMATCH")
    flat = start(platform, dataset["id"], spatial_dims=2, settings={"preprocessing": {"size": [32, 32]}})
    assert_error(flat, 422, "DATASET_DIMENSIONS_MISMATCH", setting="spatial_dims")
    lesions = start(platform, dataset["id"], settings=SMALL | {"preprocessing": {"size": [32] * 3, "crop": "lesion"}})
    assert_error(lesions, 422, "INVALID_SETTING", setting="preprocessing.crop")
    assert start(platform, "no-such-dataset", settings=SMALL).status_code == 404
    assert_error(start(platform, dataset["id"], job_id="not an id!"), 422, "INVALID_REQUEST")


def test_a_custom_network_is_imported_listed_and_trainable(platform: Platform, dataset: dict[str, Any]) -> None:
    network = torch.nn.Sequential(
        torch.nn.Conv3d(1, 4, 3, padding=1), torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2)
    )
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(network), buffer)
    form = {"format": "torchscript", "task": "CLASSIFICATION", "spatial_dims": "3", "in_channels": "1"}
    upload = [("file", ("tiny.pt", buffer.getvalue(), "application/octet-stream"))]
    imported = platform.gateway.post(
        "/api/v1/training/custom-models", data=form | {"patch_size": "16,16,16", "display_name": "Tiny"}, files=upload
    )
    assert imported.status_code == 201, imported.text
    answer = imported.json()
    architecture = answer["architecture"]
    assert architecture["id"].startswith("custom-") and architecture["display_name"] == "Tiny"
    assert architecture["task"] == "CLASSIFICATION" and architecture["spatial_dims"] == [3]
    assert answer["output_shape"] == [1, 2] and answer["parameters"] == sum(p.numel() for p in network.parameters())
    zoo = platform.gateway.get("/api/v1/training/architectures", params={"task": "CLASSIFICATION", "spatial_dims": 3})
    assert architecture["id"] in [a["id"] for a in zoo.json()["architectures"]]
    checked = start(platform, dataset["id"], settings=SMALL | {"architecture": architecture["id"]})
    assert checked.status_code == 200 and checked.json()["settings"]["architecture"] == architecture["id"]

    wrong_patch = platform.gateway.post(
        "/api/v1/training/custom-models", data=form | {"patch_size": "16,sixteen"}, files=upload
    )
    assert_error(wrong_patch, 422, "INVALID_CUSTOM_MODEL")
    not_a_model = [("file", ("tiny.pt", b"not torchscript", "application/octet-stream"))]
    garbage = platform.gateway.post(
        "/api/v1/training/custom-models", data=form | {"patch_size": "16,16,16"}, files=not_a_model
    )
    assert_error(garbage, 422, "INVALID_CUSTOM_MODEL")


def test_unknown_jobs_runs_and_model_requests(platform: Platform) -> None:
    gateway = platform.gateway
    for path in ("jobs/nope", "jobs/nope/events", "jobs/nope/logs", "runs/nope/metrics", "runs/nope/predictions.csv"):
        assert_error(gateway.get(f"/api/v1/training/{path}"), 404, "JOB_NOT_FOUND")
    assert_error(gateway.post("/api/v1/training/jobs/nope/cancel"), 404, "JOB_NOT_FOUND")
    assert_error(gateway.post("/api/v1/training/runs/nope/resume"), 404, "RUN_NOT_FOUND")
    listed = gateway.get("/api/v1/training/jobs", params={"page_size": 5})
    assert listed.status_code == 200 and set(listed.json()) == {"jobs", "next_page_token"}
    one = gateway.post("/api/v1/models/compare", json={"versions": [{"name": "m", "version": 1}]})
    assert_error(one, 422, "TOO_FEW_VERSIONS")
    bad_format = gateway.get("/api/v1/models/m/versions/1/export", params={"format": "pickle"})
    assert_error(bad_format, 422, "INVALID_REQUEST")


def test_training_needs_credentials_and_the_permission(platform: Platform) -> None:
    with platform.client() as anonymous:
        for method, path in (
            ("GET", "/api/v1/training/defaults?task=CLASSIFICATION&spatial_dims=3"),
            ("POST", "/api/v1/training/jobs"),
            ("GET", "/api/v1/training/jobs"),
            ("GET", "/api/v1/models"),
        ):
            assert_error(anonymous.request(method, path, json={}), 401, "CREDENTIALS_MISSING")
    _, token = platform.user(["annotator"])
    with platform.client(token) as annotator:
        refused = annotator.post("/api/v1/training/jobs", json={"dataset_id": "d", "task": "CLASSIFICATION"})
        assert_error(refused, 403, "MISSING_PERMISSION")
