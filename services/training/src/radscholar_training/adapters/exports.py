"""Exports of registered model versions: TorchScript and ONNX (rebuilt from the version's tags and weights, checked
against the network) and the MLflow model itself, zipped; each kept in the object store once made."""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from radscholar_core.errors import FailedPrecondition
from radscholar_core.objectstore import ObjectStore
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain.export import to_onnx, to_torchscript
from radscholar_training.domain.networks import CustomNetwork, build_network

SUFFIX = {"torchscript": "pt", "onnx": "onnx", "mlflow": "zip"}


@dataclass(frozen=True)
class Exported:
    object_key: str
    file_name: str
    size_bytes: int


class ModelExports:
    def __init__(self, objects: ObjectStore, tracking: Tracking) -> None:
        self._objects = objects
        self._tracking = tracking

    def export(self, name: str, version: int, form: str) -> Exported:
        file_name = f"{name}-v{version}.{SUFFIX[form]}"
        key = f"training/exports/{name}/{version}/{file_name}"
        if not self._objects.exists(key):
            self._objects.put(
                key, self._mlflow_zip(name, version) if form == "mlflow" else self._compiled(name, version, form)
            )
        return Exported(key, file_name, self._objects.stat(key).size)

    def _compiled(self, name: str, version: int, form: str) -> bytes:
        tags = self._tracking.version(name, version).tags
        if tags.get("task") == "detection":
            raise FailedPrecondition(
                f"{name} version {version} is a detector: its output is a list of boxes, which TorchScript and ONNX "
                "exports do not carry here; export it as an MLflow model",
                reason="EXPORT_UNSUPPORTED",
            )
        missing = sorted({"architecture", "spatial_dims", "in_channels", "out_channels", "patch_size"} - set(tags))
        if missing:  # registered outside the platform: its network cannot be rebuilt
            raise FailedPrecondition(
                f"{name} version {version} lacks the tags {', '.join(missing)}: export it as an MLflow model",
                reason="NOT_A_PLATFORM_MODEL",
            )
        patch = tuple(int(side) for side in tags["patch_size"].split("x"))
        custom = None
        if tags.get("custom_key"):
            custom = CustomNetwork(tags["custom_format"], self._objects.get(tags["custom_key"]))  # type: ignore[arg-type]
        network = build_network(
            "custom" if custom else tags["architecture"],
            int(tags["spatial_dims"]),
            int(tags["in_channels"]),
            int(tags["out_channels"]),
            patch,
            custom,
        )
        network.load_state_dict(self._tracking.load_state_dict(name, version))
        example = torch.zeros((1, int(tags["in_channels"]), *patch))
        return to_torchscript(network, example) if form == "torchscript" else to_onnx(network, example)

    def _mlflow_zip(self, name: str, version: int) -> bytes:
        with tempfile.TemporaryDirectory() as directory:
            model = Path(self._tracking.download_model(name, version, Path(directory) / "download"))
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(model.rglob("*")):
                    if path.is_file():
                        archive.write(path, f"{name}-v{version}/{path.relative_to(model)}")
            shutil.rmtree(directory, ignore_errors=True)
            return buffer.getvalue()
