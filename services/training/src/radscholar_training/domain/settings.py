"""Every setting of one training run, with per-task defaults, checked once and named when wrong.

Sizes, spacings and flip axes are in image index order ``(x, y[, z])``, as SimpleITK reports spacing; arrays
and networks use the reverse (``(z, y, x)``): :attr:`Preprocessing.shape` gives the size in that order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from radscholar_core.errors import InvalidArgument

TaskName = Literal["classification", "segmentation", "detection"]
Positive = Annotated[float, Field(gt=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Voxels = Annotated[int, Field(ge=1)]

PREPROCESSING_VERSION = 2  # bump when preprocess.py changes what it makes of the same settings: cached samples go stale
LOSSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("classification", "one-hot"): ("cross-entropy", "focal"),
    ("classification", "multi-label"): ("bce", "focal"),
    ("segmentation", "one-hot"): ("dice-ce", "dice", "dice-focal", "cross-entropy", "focal"),
    ("detection", "one-hot"): ("detector",),  # the detector's own losses (classification and box regression)
}
METRICS = {
    "classification": ("val_auc", "val_accuracy", "val_loss"),
    "segmentation": ("val_dice", "val_loss"),
    "detection": ("val_cpm", "val_map_iou10", "val_map_iou50"),
}
DETECTION_AUGMENTATIONS = ("flip", "contrast", "noise")  # what moves boxes exactly (flips) or leaves them (intensity)
MODEL_VERSION = re.compile(r"^[^/\s]+/[^/\s]+$")


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Optimizer(_Settings):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "adamw"
    learning_rate: Annotated[float, Field(gt=0, le=10)] = 1e-3
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9  # sgd and rmsprop
    weight_decay: Annotated[float, Field(ge=0, le=1)] = 1e-4


class Schedule(_Settings):
    """Learning-rate schedule, applied per epoch after ``warmup_epochs`` of linear warm-up.

    ``step``: multiply by ``gamma`` every ``step_size`` epochs; ``plateau``: multiply by ``gamma`` after
    ``step_size`` validations without improvement of ``early_stopping.metric``; ``cosine``: anneal to 0.
    """

    name: Literal["none", "cosine", "step", "plateau"] = "cosine"
    step_size: Voxels = 10
    gamma: Annotated[float, Field(gt=0, lt=1)] = 0.1
    warmup_epochs: Annotated[int, Field(ge=0)] = 0


class EarlyStopping(_Settings):
    """Stop after ``patience`` validations without improvement (0 = never); ``metric`` also picks the best epoch."""

    patience: Annotated[int, Field(ge=0)] = 0
    metric: str = ""  # per-task default: val_auc (classification), val_dice (segmentation)
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class Preprocessing(_Settings):
    spacing: tuple[Positive, ...] | None = None  # resample to this spacing (mm); None keeps the native grid
    window: tuple[float, float] | None = None  # clip intensities to [low, high] (e.g. HU) before normalising
    normalisation: Literal["none", "minmax", "zscore"] = "zscore"
    size: tuple[Voxels, ...] = ()  # crop-or-pad size of a sample; segmentation and detection: the training patch
    # size (detection: () = from the dataset's boxes)
    crop: Literal["centre", "lesion"] = "centre"  # classification: the image centre, or one sample per lesion
    samples_per_volume: Voxels = 4  # segmentation and detection: patches drawn from each volume per epoch
    positive_fraction: Probability = 0.5  # segmentation and detection: share of patches centred on a lesion

    @property
    def shape(self) -> tuple[int, ...]:
        """The sample (patch) size in array order ``(z, y, x)``: what networks and tensors see."""
        return tuple(reversed(self.size))


class Flip(_Settings):
    probability: Probability = 0.5  # per axis
    axes: tuple[Annotated[int, Field(ge=0, le=2)], ...] = (0, 1, 2)  # index order: 0 = x, 1 = y, 2 = z


class Rotate(_Settings):
    probability: Probability = 0.0
    degrees: Annotated[float, Field(ge=0, le=180)] = 15.0  # at most, about each axis (2D: in-plane)


class Shift(_Settings):
    probability: Probability = 0.0
    fraction: Annotated[float, Field(ge=0, le=0.5)] = 0.1  # at most, of the sample size along each axis


class Scale(_Settings):
    probability: Probability = 0.0
    range: Annotated[float, Field(ge=0, lt=1)] = 0.1  # zoom by a factor in [1 - range, 1 + range]


class Contrast(_Settings):
    probability: Probability = 0.0
    gamma: tuple[Positive, Positive] = (0.7, 1.5)


class Noise(_Settings):
    probability: Probability = 0.0
    std: Annotated[float, Field(ge=0)] = 0.1  # at most, in normalised intensity units


class Elastic(_Settings):
    probability: Probability = 0.0
    sigma: Annotated[float, Field(ge=1, le=50)] = 6.0  # smoothness of the deformation, voxels
    magnitude: Annotated[float, Field(ge=0, le=50)] = 2.0  # typical displacement, voxels


class Augmentation(_Settings):
    flip: Flip = Flip()
    rotate: Rotate = Rotate()
    shift: Shift = Shift()
    scale: Scale = Scale()
    contrast: Contrast = Contrast()
    noise: Noise = Noise()
    elastic: Elastic = Elastic()


class Pretrained(_Settings):
    model_version: str = ""  # "name/version" of a registered model to start from; "" = random initialisation
    weights_key: str = ""  # uploaded weights (a PyTorch state dict) in the object store; "" = none


class Detection(_Settings):
    """Detection networks: anchors, and what a detection is when testing."""

    anchor_shapes: tuple[tuple[Positive, ...], ...] = ()  # voxels (x, y[, z]) at the finest level; () = from the boxes
    iou_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.1  # a detection overlapping a lesion this much is a hit


class RunSettings(_Settings):
    task: TaskName
    architecture: str
    spatial_dims: Literal[2, 3]
    epochs: Annotated[int, Field(ge=1, le=10_000)] = 50
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 16  # segmentation: volumes, each giving samples_per_volume
    seed: Annotated[int, Field(ge=0, lt=2**31)] = 0
    workers: Annotated[int, Field(ge=1, le=256)] = 1  # Ray Train workers, one device each
    mixed_precision: bool = True  # on GPU only
    validation_interval: Voxels = 1  # epochs
    checkpoint_interval: Voxels = 1  # epochs: every epoch by default, so a failure loses at most one
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    early_stopping: EarlyStopping = EarlyStopping()
    preprocessing: Preprocessing = Preprocessing()
    label_encoding: Literal["one-hot", "multi-label"] = "one-hot"
    loss: str = ""
    augmentation: Augmentation = Augmentation()
    pretrained: Pretrained = Pretrained()
    detection: Detection = Detection()

    @property
    def monitor(self) -> str:
        """The validation metric that picks the best epoch and drives early stopping and the plateau schedule."""
        return self.early_stopping.metric

    @property
    def maximise(self) -> bool:
        return self.monitor != "val_loss"

    def canonical(self) -> dict[str, Any]:
        """Every setting, defaults included, as JSON-able values."""
        return self.model_dump(mode="json")

    def flat_params(self) -> dict[str, str]:
        """Dotted keys and string values, for experiment-tracking parameters."""
        flat: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}.{key}" if prefix else key, inner)
            else:
                flat[prefix] = value if isinstance(value, str) else json.dumps(value)

        walk("", self.canonical())
        return flat

    def preprocessing_key(self) -> str:
        """Hash of what decides the preprocessed samples: the part of a sample cache key that settings give."""
        p = self.preprocessing
        # Detection samples are whole images, whatever the patch size (which may come from their boxes).
        decisive_settings = {"spacing", "window", "normalisation", "crop"} | (
            {"size"} if self.task != "detection" else set()
        )
        decisive = {
            "version": PREPROCESSING_VERSION,
            "task": self.task,
            "spatial_dims": self.spatial_dims,
            "preprocessing": p.model_dump(mode="json", include=decisive_settings),
            **({"instances": True} if self.architecture == "maskrcnn" else {}),  # samples with lesion outlines
        }
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def defaults(task: str, spatial_dims: int) -> dict[str, Any]:
    """The settings a run gets when the researcher changes nothing."""
    segmentation = task == "segmentation"
    if task == "detection":
        return {
            "task": task,
            "spatial_dims": spatial_dims,
            "architecture": "retinanet" if spatial_dims == 3 else "fasterrcnn",
            "epochs": 100,
            "batch_size": 2,
            "early_stopping": {"metric": "val_cpm"},
            "preprocessing": {"size": [], "samples_per_volume": 2, "positive_fraction": 0.7},
            "augmentation": {"flip": {"axes": list(range(spatial_dims))}},
        }
    if segmentation:
        size = [96, 96, 96] if spatial_dims == 3 else [256, 256]
    else:
        size = [64, 64, 64] if spatial_dims == 3 else [224, 224]
    return {
        "task": task,
        "spatial_dims": spatial_dims,
        "architecture": "unet" if segmentation else "resnet18",
        "epochs": 100 if segmentation else 50,
        "batch_size": 2 if segmentation else 16,
        "early_stopping": {"metric": "val_dice" if segmentation else "val_auc"},
        "preprocessing": {"size": size},
        "augmentation": {"flip": {"axes": list(range(spatial_dims))}},
    }


def parse_settings(task: str, spatial_dims: int, raw: Mapping[str, Any]) -> RunSettings:
    """``raw`` (the researcher's changes, nested like :class:`RunSettings`) over the task's defaults, checked.

    Raises InvalidArgument(reason="INVALID_SETTING") naming the first bad setting in ``details["setting"]``
    and every problem, one a line, in ``details["errors"]``.
    """
    if task not in METRICS:
        _fail([("task", f"must be 'classification', 'segmentation' or 'detection', not {task!r}")])
    if spatial_dims not in (2, 3):
        _fail([("spatial_dims", f"must be 2 or 3, not {spatial_dims!r}")])
    if not isinstance(raw, Mapping):
        _fail([("settings", "must be a mapping of setting names to values")])
    fixed = [(name, value) for name, value in (("task", task), ("spatial_dims", spatial_dims)) if name in raw]
    conflicts = [(name, f"is {value!r} for this run, not {raw[name]!r}") for name, value in fixed if raw[name] != value]
    if conflicts:
        _fail(conflicts)
    merged = _merged(defaults(task, spatial_dims), raw)
    if not merged.get("loss"):
        encoding = merged.get("label_encoding", "one-hot")
        merged["loss"] = (
            "bce"
            if encoding == "multi-label"
            else {"segmentation": "dice-ce", "detection": "detector"}.get(task, "cross-entropy")
        )
    try:
        settings = RunSettings.model_validate(merged)
    except ValidationError as exc:
        _fail([_problem(error) for error in exc.errors()])
    problems = _consistency(settings)
    if problems:
        _fail(problems)
    return settings


def _merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _problem(error: Any) -> tuple[str, str]:
    names = [str(part) for part in error["loc"] if not isinstance(part, int)]
    items = [str(part) for part in error["loc"] if isinstance(part, int)]
    setting = ".".join(names)
    if error["type"] == "extra_forbidden":
        return setting, "is not a setting"
    where = f"item {items[0]}: " if items else ""
    message = str(error["msg"]).replace("Input should be", "must be", 1)
    return setting, where + message


def _consistency(s: RunSettings) -> list[tuple[str, str]]:
    """Checks across settings, in the order a form shows them."""
    problems: list[tuple[str, str]] = []
    dims, classification, detection = s.spatial_dims, s.task == "classification", s.task == "detection"
    if not s.architecture.strip():
        problems.append(("architecture", "must name a network of the model zoo"))
    if s.schedule.warmup_epochs >= s.epochs:
        problems.append(("schedule.warmup_epochs", f"must be fewer than epochs ({s.epochs})"))
    if s.monitor not in METRICS[s.task]:
        allowed = ", ".join(METRICS[s.task])
        problems.append(("early_stopping.metric", f"must be one of {allowed} for {s.task}, not {s.monitor!r}"))
    p = s.preprocessing
    if p.spacing is not None and len(p.spacing) != dims:
        problems.append(("preprocessing.spacing", f"must have {dims} values (mm), one per axis, not {len(p.spacing)}"))
    if p.window is not None and not p.window[0] < p.window[1]:
        problems.append(("preprocessing.window", f"low must be below high, not {list(p.window)}"))
    if len(p.size) != dims and not (detection and not p.size):
        problems.append(("preprocessing.size", f"must have {dims} values (voxels), one per axis, not {len(p.size)}"))
    if p.crop == "lesion" and not classification:
        problems.append(("preprocessing.crop", f"'lesion' is for classification; {s.task} samples whole volumes"))
    if s.label_encoding == "multi-label" and not classification:
        problems.append(("label_encoding", f"'multi-label' is for classification, not {s.task}"))
    elif s.label_encoding == "multi-label" and p.crop == "lesion":
        problems.append(("label_encoding", "'multi-label' needs crop 'centre': a lesion has one class"))
    losses = LOSSES.get((s.task, s.label_encoding), ())
    if losses and s.loss not in losses:
        problems.append(("loss", f"must be one of {', '.join(losses)} for {s.task} ({s.label_encoding})"))
    flip = s.augmentation.flip
    if any(axis >= dims for axis in flip.axes) or len(set(flip.axes)) != len(flip.axes):
        problems.append(("augmentation.flip.axes", f"must be distinct axes below {dims} (0 = x, 1 = y, 2 = z)"))
    if detection:
        for name, augmentation in s.augmentation:
            if name not in DETECTION_AUGMENTATIONS and augmentation.probability > 0:
                problems.append(
                    (
                        f"augmentation.{name}.probability",
                        "must be 0 for detection: boxes follow flips and intensity only",
                    )
                )
    anchors = s.detection.anchor_shapes
    if anchors and any(len(shape) != dims for shape in anchors):
        problems.append(("detection.anchor_shapes", f"each shape must have {dims} values (voxels, x, y[, z])"))
    gamma = s.augmentation.contrast.gamma
    if gamma[0] > gamma[1]:
        problems.append(("augmentation.contrast.gamma", f"low must not exceed high, not {list(gamma)}"))
    version = s.pretrained.model_version
    if version and not MODEL_VERSION.match(version):
        problems.append(("pretrained.model_version", f"must be 'name/version' or empty, not {version!r}"))
    if s.pretrained.weights_key and version:
        problems.append(("pretrained.weights_key", "start from uploaded weights or from a model version, not both"))
    return problems


def _fail(problems: list[tuple[str, str]]) -> NoReturn:
    setting, message = problems[0]
    lines = [f"{name}: {problem}" for name, problem in problems]
    raise InvalidArgument(
        f"setting {setting}: {message}",
        reason="INVALID_SETTING",
        details={"setting": setting, "errors": "\n".join(lines)},
    )
