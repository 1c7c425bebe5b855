"""A training run's plan: the dataset version's cases as the run sees them, checked against the task before any
compute starts, and the keys where the run keeps its cache, checkpoints and outcome.

A run has an id (its first job's id); each job of the run (the first, and every resume) has its own plan. The run's
checkpoints live under the run, so a resumed job and a restarted Ray Train worker group continue from the last one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from radscholar_core.errors import InvalidArgument

KIND = "training.run"
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class LabeledBox:
    """A lesion's box on the case's series: corners on voxel edges in index order (x, y[, z]), as labeling's."""

    label: int  # class index
    min: tuple[float, ...]
    max: tuple[float, ...]


@dataclass(frozen=True)
class Case:
    """One case of the dataset version: its image, its mask or boxes, and its class."""

    case_id: str
    patient_id: str
    site: str
    split: str
    series_instance_uid: str
    image_key: str = ""  # the exported volume (NIfTI); "" until exported (and never, when the cache holds it)
    mask_key: str = ""  # the label map (NIfTI, 1-based class positions); "" when the case has none
    label: int | None = None  # class index (case-level classification); None otherwise
    boxes: tuple[LabeledBox, ...] = ()  # detection projects: the lesions' boxes (none: a scan without lesions)


@dataclass(frozen=True)
class Labels:
    """What a dataset version's project says about its labels."""

    task_type: str  # "classification", "detection" or "segmentation" (the labeling project's)
    spatial_dims: int  # 2 or 3
    level: str  # "case", "series", "image" or "lesion"
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    job_id: str
    run_id: str
    task: str  # "classification", "segmentation" or "detection"
    spatial_dims: int
    settings: Mapping[str, Any]  # RunSettings.canonical()
    model_name: str
    experiment: str  # MLflow experiment
    dataset: Mapping[str, str]  # dataset_id, dataset_hash, project_id
    class_names: tuple[str, ...]
    cases: tuple[Case, ...]
    cache_key: str  # prefix of the preprocessed samples
    created_by: str = ""
    custom: Mapping[str, str] = field(default_factory=dict)  # {"object_key", "format"} of a custom network

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        document = json.loads(data)
        document["cases"] = tuple(_case(case) for case in document["cases"])
        document["class_names"] = tuple(document["class_names"])
        return cls(**document)

    @property
    def output_channels(self) -> int:
        """Logits per sample (classification) or per voxel (segmentation: the background as well); detection: the
        classes of the boxes."""
        return len(self.class_names) + (1 if self.task == "segmentation" else 0)


def _case(document: Mapping[str, Any]) -> Case:
    boxes = tuple(LabeledBox(box["label"], tuple(box["min"]), tuple(box["max"])) for box in document.get("boxes", ()))
    return Case(**{**document, "boxes": boxes})


def plan_key(job_id: str) -> str:
    return f"training/jobs/{job_id}/plan.json"


def outcome_key(job_id: str) -> str:
    return f"training/jobs/{job_id}/outcome.json"


def run_prefix(run_id: str) -> str:
    return f"training/runs/{run_id}"


def run_key(run_id: str) -> str:
    """The run's first plan: what every resumption starts from (with the settings its driver resolved)."""
    return f"{run_prefix(run_id)}/run.json"


def checkpoint_key(run_id: str) -> str:
    """The run's latest checkpoint."""
    return f"{run_prefix(run_id)}/checkpoints/last.pt"


def cache_prefix(dataset_hash: str, preprocessing_key: str, class_names: Sequence[str]) -> str:
    """Where a dataset version's samples, preprocessed one way, are kept: equal inputs, equal key."""
    identity = json.dumps([dataset_hash, preprocessing_key, list(class_names)]).encode()
    return f"training/cache/{hashlib.sha256(identity).hexdigest()[:32]}"


def split_key(cache: str, split: str) -> str:
    return f"{cache}/{split}.npz"


def check_dataset(task: str, spatial_dims: int, crop: str, labels: Labels, cases: Sequence[Case]) -> list[Case]:
    """The cases a run of ``task`` trains on, or a clear refusal naming why the dataset version does not fit."""
    usable = labeled_cases(task, spatial_dims, crop, labels, cases)
    for split, reason in (("train", "NO_TRAINING_CASES"), ("validation", "NO_VALIDATION_CASES")):
        if not any(case.split == split for case in usable):
            raise InvalidArgument(f"the dataset version's {split} split has no labeled case", reason=reason)
    boxed = any(case.boxes for case in usable if case.split == "train")
    if task == "detection" and labels.task_type == "detection" and not boxed:
        raise InvalidArgument("the train split has no box: nothing to detect", reason="NO_BOXES")
    if labels.task_type == "classification" and len({c.label for c in usable if c.split == "train"}) < 2:
        raise InvalidArgument("the train split holds a single class: nothing to learn", reason="SINGLE_CLASS")
    return usable


def labeled_cases(task: str, spatial_dims: int, crop: str, labels: Labels, cases: Sequence[Case]) -> list[Case]:
    """The cases that carry what ``task`` learns from (masks, or classes), once the dataset version fits the task."""
    if task not in ("classification", "segmentation", "detection"):
        raise InvalidArgument(
            f"training runs classification, segmentation or detection, not {task!r}", reason="INVALID_TASK"
        )
    if labels.spatial_dims != spatial_dims:
        raise InvalidArgument(
            f"the dataset version is labeled in {labels.spatial_dims}D; a {spatial_dims}D network cannot train on it",
            reason="DATASET_DIMENSIONS_MISMATCH",
            details={"setting": "spatial_dims"},
        )
    lesion_classes = labels.task_type == "segmentation" and labels.level == "lesion"
    if task == "segmentation" and labels.task_type != "segmentation":
        raise _mismatch(task, labels, "a segmentation network needs masks")
    if task == "detection" and labels.task_type == "segmentation" and labels.level != "lesion":
        raise _mismatch(task, labels, "a detector trains on masks only as lesion masks (one box per lesion)")
    if task == "detection" and labels.task_type not in ("detection", "segmentation"):
        raise _mismatch(task, labels, "a detector needs boxes, or lesion masks to draw them from")
    if task == "classification":
        if labels.task_type == "classification" and crop == "lesion":
            raise InvalidArgument(
                "crop 'lesion' needs masks: this dataset version has class labels per case",
                reason="INVALID_SETTING",
                details={"setting": "preprocessing.crop"},
            )
        if labels.task_type == "segmentation" and not (lesion_classes and crop == "lesion"):
            raise _mismatch(task, labels, "a classifier trains on masks only as lesion classes, with crop 'lesion'")
        if labels.task_type == "detection":
            raise _mismatch(task, labels, "boxes train detection networks")
    usable = [case for case in cases if _labeled(case, labels.task_type)]
    if not usable:
        raise InvalidArgument("the dataset version has no labeled case", reason="EMPTY_DATASET")
    return usable


def _labeled(case: Case, task_type: str) -> bool:
    """Whether the case carries its project's labels: a mask, a class, or (detection) anything: a frozen detection
    case without boxes is a scan without lesions."""
    if task_type == "segmentation":
        return bool(case.mask_key)
    return task_type == "detection" or case.label is not None


def _mismatch(task: str, labels: Labels, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"a {task} run cannot train on a {labels.task_type} dataset version: {why}",
        reason="DATASET_TASK_MISMATCH",
        details={"task": task, "dataset_task": labels.task_type},
    )


EVALUATION_KIND = "training.evaluation"
TEST_SPLITS = ("test", "validation", "train", "all")


@dataclass(frozen=True)
class Evaluation:
    """A test of a model version: the dataset version's cases (preprocessed as the model's run did) and the model."""

    plan: Plan  # job_id: the evaluation's; run_id: the model's run; cases: those tested
    model_name: str
    model_version: int
    split: str
    threshold: float | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Evaluation:
        document = json.loads(data)
        document["plan"] = Plan.from_json(json.dumps(document["plan"]).encode())
        return cls(**document)


def evaluation_prefix(evaluation_id: str) -> str:
    return f"training/evaluations/{evaluation_id}"


def tested_cases(
    split: str,
    class_names: Sequence[str],
    model_classes: Sequence[str],
    cases: Sequence[Case],
    sites: Sequence[str] = (),
    series: Sequence[str] = (),
) -> list[Case]:
    """The cases of ``split`` ("all": every split), of ``sites`` and of ``series`` (empty: all), each in its own split
    (so the samples cache of the dataset version serves tests and training alike); refused when the dataset version's
    classes are not the model's, a series is not the dataset version's, or no case is left."""
    if split not in TEST_SPLITS:
        raise InvalidArgument(f"split must be one of {', '.join(TEST_SPLITS)}, not {split!r}", reason="INVALID_SPLIT")
    if tuple(class_names) != tuple(model_classes):
        raise InvalidArgument(
            f"the dataset version's classes {list(class_names)} are not the model's {list(model_classes)}",
            reason="CLASSES_MISMATCH",
        )
    unknown = sorted(set(series) - {case.series_instance_uid for case in cases})
    if unknown:
        raise InvalidArgument(
            f"{len(unknown)} series are not labeled cases of the dataset version, e.g. {unknown[0]}",
            reason="UNKNOWN_SERIES",
            details={"series_instance_uid": unknown[0]},
        )
    chosen = [
        case
        for case in cases
        if split in ("all", case.split)
        and (not sites or case.site in sites)
        and (not series or case.series_instance_uid in series)
    ]
    if not chosen:
        where = f" at {', '.join(sites)}" if sites else ""
        raise InvalidArgument(
            f"the dataset version has no labeled case in its {split} split{where}", reason="EMPTY_SPLIT"
        )
    return chosen


INFERENCE_KIND = "training.inference"
MAX_BATCH_SERIES = 10_000


@dataclass(frozen=True)
class Prediction:
    """One series of a batch prediction."""

    series_instance_uid: str
    study_instance_uid: str
    image_key: str  # the exported volume


@dataclass(frozen=True)
class BatchPrediction:
    job_id: str
    model_name: str
    model_version: int
    series: tuple[Prediction, ...]
    created_by: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BatchPrediction:
        document = json.loads(data)
        document["series"] = tuple(Prediction(**entry) for entry in document["series"])
        return cls(**document)


def inference_prefix(job_id: str) -> str:
    return f"training/inference/{job_id}"
