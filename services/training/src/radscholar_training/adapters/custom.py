"""Uploaded networks (TorchScript files, MONAI bundles): checked once, kept in the object store, listed with the zoo.

Each lives under ``training/custom/<id>/``: the upload as it came and ``architecture.json``; its id
(``custom-<hex>``) is what a run's ``architecture`` setting names.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from radscholar_core.errors import InvalidArgument, NotFound
from radscholar_core.objectstore import ObjectStore
from radscholar_training.domain.networks import CustomFormat, inspect_custom, read_weights
from radscholar_training.domain.zoo import Architecture, Task

PREFIX = "training/custom"
WEIGHTS_PREFIX = "training/weights"


@dataclass(frozen=True)
class Imported:
    architecture: Architecture
    parameters: int
    output_shape: tuple[int, ...]


def _model_key(architecture_id: str) -> str:
    return f"{PREFIX}/{architecture_id}/model"


def _record_key(architecture_id: str) -> str:
    return f"{PREFIX}/{architecture_id}/architecture.json"


class CustomModels:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def add(
        self,
        upload_key: str,
        form: CustomFormat,
        display_name: str,
        task: str,
        spatial_dims: int,
        in_channels: int,
        patch_size: tuple[int, ...],
        created_by: str,
    ) -> Imported:
        """Checks an upload with one forward pass and keeps it; a wrong kind of upload is INVALID_CUSTOM_MODEL."""
        try:
            data = self._objects.get(upload_key)
        except NotFound:
            raise NotFound(f"no upload at {upload_key!r}", reason="UPLOAD_NOT_FOUND") from None
        info = inspect_custom(form, data, spatial_dims, in_channels, patch_size)
        if info.task.value != task:
            raise InvalidArgument(
                f"the model gives {info.task.value} output {list(info.output_shape)}, not {task}",
                reason="INVALID_CUSTOM_MODEL",
            )
        architecture_id = f"custom-{uuid.uuid4().hex[:12]}"
        kind = "TorchScript" if form == "torchscript" else "MONAI bundle"
        record = {
            "id": architecture_id,
            "display_name": display_name,
            "task": task,
            "spatial_dims": [spatial_dims],
            "format": form,
            "in_channels": in_channels,
            "out_channels": info.out_channels,
            "patch_size": list(patch_size),
            "parameters": info.parameters,
            "created_by": created_by,
            "description": f"Imported {kind}, {info.parameters:,} parameters, {info.out_channels} outputs.",
        }
        self._objects.put(_model_key(architecture_id), data)
        self._objects.put(_record_key(architecture_id), json.dumps(record).encode(), "application/json")
        return Imported(_architecture(record), info.parameters, info.output_shape)

    def list(self) -> list[Architecture]:
        found = []
        for entry in self._objects.list(PREFIX + "/"):
            if entry.key.endswith("/architecture.json"):
                found.append(_architecture(json.loads(self._objects.get(entry.key))))
        return sorted(found, key=lambda a: a.id)

    def check(self, architecture_id: str, task: str, spatial_dims: int) -> dict[str, str]:
        """What a run's plan needs of a custom network (its key and format), once it fits the run."""
        try:
            record = json.loads(self._objects.get(_record_key(architecture_id)))
        except NotFound:
            raise InvalidArgument(
                f"setting architecture: no imported model {architecture_id!r}",
                reason="UNKNOWN_ARCHITECTURE",
                details={"setting": "architecture"},
            ) from None
        if record["task"] != task or spatial_dims not in record["spatial_dims"]:
            raise InvalidArgument(
                f"setting architecture: {architecture_id} is a {record['spatial_dims'][0]}D {record['task']} model",
                reason="WRONG_TASK",
                details={"setting": "architecture"},
            )
        return {"id": architecture_id, "object_key": _model_key(architecture_id), "format": record["format"]}


def _architecture(record: dict[str, object]) -> Architecture:
    return Architecture(
        str(record["id"]),
        str(record["display_name"]),
        Task(record["task"]),
        tuple(record["spatial_dims"]),  # type: ignore[arg-type]
        "custom",
        str(record["description"]),
    )


class UploadedWeights:
    """Uploaded state dicts that runs start from, under ``training/weights/<hex>.pt``."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def add(self, upload_key: str) -> tuple[str, int]:
        """Keeps an upload that holds a state dict; its key and its tensor count."""
        try:
            data = self._objects.get(upload_key)
        except NotFound:
            raise NotFound(f"no upload at {upload_key!r}", reason="UPLOAD_NOT_FOUND") from None
        tensors = len(read_weights(data))
        key = f"{WEIGHTS_PREFIX}/{uuid.uuid4().hex}.pt"
        self._objects.put(key, data)
        return key, tensors

    def check(self, key: str) -> None:
        if not key.startswith(WEIGHTS_PREFIX + "/") or not self._objects.exists(key):
            raise InvalidArgument(
                f"setting pretrained.weights_key: no uploaded weights {key!r}",
                reason="INVALID_SETTING",
                details={"setting": "pretrained.weights_key"},
            )
