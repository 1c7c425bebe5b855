"""The MLflow adapter against a real MLflow server: runs, metrics, artifacts and the model registry."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow import MlflowClient

from radscholar_core.errors import InvalidArgument, NotFound, Unavailable
from radscholar_core.testing import free_port
from radscholar_training.adapters.tracking import RUN_ID_TAG, Tracking, client_environment


@pytest.fixture(autouse=True)
def no_process_wide_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever uses MLflow's process-wide tracking or registry URI instead of the adapter's fails at once."""
    for key, value in client_environment().items():
        monkeypatch.setenv(key, value)
    nowhere = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", nowhere)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", nowhere)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tiny_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


EXAMPLE = np.zeros((1, 4), dtype=np.float32)


def test_run_logs_params_metrics_and_artifacts(mlflow_server: str, tmp_path: Path) -> None:
    tracking = Tracking(mlflow_server)
    platform_run = unique("run")
    params = {"optimizer.lr": "0.001", "notes": "x" * 7000}
    run_id = tracking.start_run(unique("project"), "liver resnet18", params, {RUN_ID_TAG: platform_run})

    for epoch, (loss, auc) in enumerate([(0.9, 0.6), (0.7, 0.7), (0.5, 0.8)]):
        tracking.log_epoch(run_id, epoch, {"train_loss": loss, "val_auc": auc})
    tracking.log_text(run_id, "logs/worker-0.txt", "epoch 0 done\n")
    tracking.log_artifact_bytes(run_id, "checkpoints/best.pt", b"\x00weights\xff")
    tracking.log_artifact_bytes(run_id, "settings.json", b"{}")
    tracking.end_run(run_id, "FINISHED")

    client = MlflowClient(mlflow_server, registry_uri=mlflow_server)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "liver resnet18"
    assert run.data.tags[RUN_ID_TAG] == platform_run
    assert run.data.params["optimizer.lr"] == "0.001"
    assert len(run.data.params["notes"]) == 6000  # MLflow's limit
    assert tracking.metric_history(run_id) == {
        "train_loss": [(0, 0.9), (1, 0.7), (2, 0.5)],
        "val_auc": [(0, 0.6), (1, 0.7), (2, 0.8)],
    }
    assert {a.path for a in client.list_artifacts(run_id)} == {"checkpoints", "logs", "settings.json"}
    downloaded = client.download_artifacts(run_id, "checkpoints/best.pt", str(tmp_path))
    assert Path(downloaded).read_bytes() == b"\x00weights\xff"
    text = client.download_artifacts(run_id, "logs/worker-0.txt", str(tmp_path))
    assert Path(text).read_text() == "epoch 0 done\n"


def test_start_run_is_idempotent_by_the_platform_run_id(mlflow_server: str) -> None:
    tracking = Tracking(mlflow_server)
    experiment, platform_run = unique("project"), unique("run")
    first = tracking.start_run(experiment, "a", {"lr": "0.1"}, {RUN_ID_TAG: platform_run})
    tracking.end_run(first, "FAILED")

    resumed = tracking.start_run(experiment, "a", {"lr": "0.2", "epochs": "5"}, {RUN_ID_TAG: platform_run, "k": "v"})
    other = tracking.start_run(experiment, "b", {"lr": "0.1"}, {RUN_ID_TAG: unique("run")})

    assert resumed == first and other != first
    assert tracking.find_run(platform_run) == first
    assert tracking.find_run(unique("run")) is None
    run = MlflowClient(mlflow_server, registry_uri=mlflow_server).get_run(first)
    assert run.info.status == "RUNNING"
    assert run.data.params == {"lr": "0.1", "epochs": "5"}  # a param keeps its first value
    assert run.data.tags["k"] == "v"


def test_metric_history_keeps_the_latest_value_of_a_relogged_step(mlflow_server: str) -> None:
    tracking = Tracking(mlflow_server)
    run_id = tracking.start_run(unique("project"), "r", {}, {RUN_ID_TAG: unique("run")})
    for epoch in range(3):
        tracking.log_epoch(run_id, epoch, {"val_loss": 1.0 - epoch / 10})
    time.sleep(0.01)  # a resumed worker logs again from epoch 1, later
    for epoch in (1, 2):
        tracking.log_epoch(run_id, epoch, {"val_loss": 0.5 - epoch / 10})

    assert tracking.metric_history(run_id) == {"val_loss": [(0, 1.0), (1, 0.4), (2, 0.3)]}


def test_registry_lifecycle(mlflow_server: str, tmp_path: Path) -> None:
    tracking = Tracking(mlflow_server)
    experiment, name = unique("project"), unique("liver-tumour")
    models, runs = [], []
    for seed, lr in ((1, "0.01"), (2, "0.001")):
        run_id = tracking.start_run(experiment, f"lr {lr}", {"lr": lr, "epochs": "3"}, {RUN_ID_TAG: unique("run")})
        tracking.log_epoch(run_id, 0, {"val_auc": 0.7 + seed / 10})
        model = tiny_model(seed)
        registered = tracking.register(
            run_id, name, model, EXAMPLE, {"dataset_id": "ds-1", "architecture": "mlp"}, f"lr {lr}"
        )
        assert model.training  # the caller's model is left as it was
        assert (registered.name, registered.version, registered.status) == (name, seed, "candidate")
        assert registered.run_id == run_id and registered.description == f"lr {lr}"
        assert registered.tags == {"dataset_id": "ds-1", "architecture": "mlp"}
        assert registered.metrics == {"val_auc": pytest.approx(0.7 + seed / 10)}
        assert registered.uri == f"models:/{name}/{seed}"
        models.append(model)
        runs.append(run_id)

    assert [v.version for v in tracking.versions(name)] == [2, 1]
    assert {(v.name, v.version) for v in tracking.versions()} >= {(name, 1), (name, 2)}
    comparison = tracking.compare([(name, 1), (name, 2)])
    assert comparison.differing_params == ("lr",)
    assert [v.params["lr"] for v in comparison.versions] == ["0.01", "0.001"]

    assert tracking.promote(name, 1).status == "production"
    assert tracking.promote(name, 2).status == "production"
    assert statuses(tracking, name) == {1: "candidate", 2: "production"}
    assert tracking.archive(name, 2).status == "archived"
    assert statuses(tracking, name) == {1: "candidate", 2: "archived"}
    assert tracking.promote(name, 2).status == "production"
    assert statuses(tracking, name) == {1: "candidate", 2: "production"}
    assert (
        MlflowClient(mlflow_server, registry_uri=mlflow_server).get_model_version_by_alias(name, "production").version
        == "2"
    )

    downloaded = Path(tracking.download_model(name, 2, tmp_path / "download"))
    assert {"MLmodel", "requirements.txt", "input_example.json"} <= {p.name for p in downloaded.iterdir()}
    assert "torch==" in (downloaded / "requirements.txt").read_text()
    weights = tracking.load_state_dict(name, 1)
    expected = models[0].state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[key], expected[key]) for key in expected)


def statuses(tracking: Tracking, name: str) -> dict[int, str]:
    return {v.version: v.status for v in tracking.versions(name)}


def test_unknown_runs_and_versions_are_not_found(mlflow_server: str) -> None:
    tracking = Tracking(mlflow_server)
    with pytest.raises(NotFound) as missing_version:
        tracking.version("no-such-model", 3)
    assert missing_version.value.reason == "MODEL_VERSION_NOT_FOUND"
    assert missing_version.value.details == {"model": "no-such-model", "version": "3"}
    with pytest.raises(NotFound):
        tracking.promote("no-such-model", 1)
    with pytest.raises(NotFound):
        tracking.load_state_dict("no-such-model", 1)
    with pytest.raises(NotFound) as missing_run:
        tracking.log_epoch("0" * 32, 0, {"loss": 1.0})
    assert missing_run.value.reason == "RUN_NOT_FOUND"
    assert tracking.versions("no-such-model") == []
    with pytest.raises(InvalidArgument) as bad_name:
        tracking.versions("it's/bad")
    assert bad_name.value.reason == "INVALID_MODEL_NAME"


def test_an_unreachable_server_is_unavailable_within_seconds() -> None:
    tracking = Tracking(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(Unavailable) as unavailable:
        tracking.start_run("project", "r", {}, {RUN_ID_TAG: "run-1"})
    assert unavailable.value.reason == "MLFLOW_UNAVAILABLE"
    with pytest.raises(Unavailable):
        tracking.versions()
    assert time.monotonic() - started < 15
