"""Dataset versions: a project's accepted labels frozen into a content-hashed manifest with a patient-level split."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from radscholar_core.errors import InvalidArgument

TRAIN = "train"
VALIDATION = "validation"
TEST = "test"
SPLITS = (TRAIN, VALIDATION, TEST)
MANIFEST_FORMAT = 1  # bump when the JSON layout changes; part of the hash


class Stratify(StrEnum):
    NONE = "none"
    CLASS = "class"
    SITE = "site"
    COLUMN = "column"


@dataclass(frozen=True)
class SplitSpec:
    """Requested train/validation/test fractions of cases, what to stratify by, and the shuffle seed."""

    train: float = 0.7
    validation: float = 0.15
    test: float = 0.15
    stratify: Stratify = Stratify.NONE
    column: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "stratify", Stratify(self.stratify))
        except ValueError:
            raise InvalidArgument(
                f"stratify '{self.stratify}' is not one of {', '.join(Stratify)}", reason="INVALID_SPLIT"
            ) from None
        if not all(isinstance(f, int | float) and math.isfinite(f) and f >= 0 for f in self.fractions):
            raise InvalidArgument("split fractions must be finite and at least 0", reason="INVALID_SPLIT")
        if abs(sum(self.fractions) - 1) > 1e-9:
            raise InvalidArgument(f"split fractions sum to {sum(self.fractions)}, not 1", reason="INVALID_SPLIT")
        if (self.stratify is Stratify.COLUMN) != bool(self.column):
            raise InvalidArgument(
                "a column is required when stratifying by column, and only then", reason="INVALID_SPLIT"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InvalidArgument(f"seed must be an integer of at least 0, not {self.seed!r}", reason="INVALID_SPLIT")

    @property
    def fractions(self) -> tuple[float, float, float]:
        """The fractions in the order of SPLITS."""
        return (self.train, self.validation, self.test)


@dataclass(frozen=True)
class DatasetItem:
    """One labeled case: its images, where it came from, its class and the annotation version frozen."""

    case_id: str
    patient_id: str
    study_instance_uid: str
    series_instance_uids: tuple[str, ...]
    site: str
    label_class: str  # "" for detection and segmentation projects
    annotation_id: str
    annotation_version: int
    columns: Mapping[str, str] = field(default_factory=dict)  # extra per-case values, for Stratify.COLUMN
    masks: Mapping[str, str] = field(default_factory=dict)  # series UID -> object key of its NIfTI label map
    boxes: tuple[Mapping[str, Any], ...] = ()  # detection: each box's class, series, image and corners (see Box)


def split(items: Sequence[DatasetItem], spec: SplitSpec) -> dict[str, str]:
    """Assign each case to train, validation or test, keeping every patient's cases in one split.

    Patients are grouped into strata (their most frequent class, site or column value; ties go to the
    first in sorted order). In each stratum the patients are sorted, shuffled with ``spec.seed`` and
    allocated against per-split targets of CASES (largest-remainder rounding of the fractions), so a
    patient with many studies weighs what it holds; each split lands within one patient's cases of its
    target. The result does not depend on the order of ``items``.
    """
    if not items:
        raise InvalidArgument("the dataset has no cases", reason="EMPTY_DATASET")
    cases_by_patient: dict[str, list[DatasetItem]] = defaultdict(list)
    seen: set[str] = set()
    for item in items:
        if item.case_id in seen:
            raise InvalidArgument(
                f"case '{item.case_id}' appears more than once",
                reason="DUPLICATE_CASE",
                details={"case_id": item.case_id},
            )
        seen.add(item.case_id)
        cases_by_patient[item.patient_id].append(item)
    values = {item.case_id: _stratum_value(item, spec) for item in sorted(items, key=lambda i: i.case_id)}

    patients_by_stratum: dict[str, list[str]] = defaultdict(list)
    for patient_id in sorted(cases_by_patient):
        tally = Counter(values[case.case_id] for case in cases_by_patient[patient_id])
        stratum = min(tally.items(), key=lambda value_count: (-value_count[1], value_count[0]))[0]
        patients_by_stratum[stratum].append(patient_id)

    rng = np.random.default_rng(spec.seed)
    assignment: dict[str, str] = {}
    for stratum in sorted(patients_by_stratum):
        patients = [patients_by_stratum[stratum][i] for i in rng.permutation(len(patients_by_stratum[stratum]))]
        sizes = [len(cases_by_patient[patient_id]) for patient_id in patients]
        for patient_id, split_name in zip(patients, _allocate(sizes, spec.fractions), strict=True):
            for case in cases_by_patient[patient_id]:
                assignment[case.case_id] = split_name
    return assignment


def _stratum_value(item: DatasetItem, spec: SplitSpec) -> str:
    match spec.stratify:
        case Stratify.NONE:
            return ""
        case Stratify.CLASS:
            return item.label_class
        case Stratify.SITE:
            return item.site
        case Stratify.COLUMN:
            if spec.column not in item.columns:
                raise InvalidArgument(
                    f"case '{item.case_id}' has no column '{spec.column}' to stratify by",
                    reason="MISSING_COLUMN",
                    details={"case_id": item.case_id, "column": spec.column},
                )
            return item.columns[spec.column]


def _largest_remainder(total: int, fractions: Sequence[float]) -> list[int]:
    """Whole counts summing to ``total`` that are each within 1 of ``fraction * total``."""
    quotas = [fraction * total for fraction in fractions]
    counts = [math.floor(quota + 1e-9) for quota in quotas]
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _allocate(sizes: Sequence[int], fractions: Sequence[float]) -> list[str]:
    """The split of each patient, given its case count, in the order given.

    Largest patients first (a stable sort, so equal sizes keep their shuffled order), each to the split
    furthest below its target relative to that target: sizes spread over the splits in proportion, and
    the single-case patients that come last fill the targets closely.
    """
    targets = _largest_remainder(sum(sizes), fractions)
    open_splits = [i for i, target in enumerate(targets) if target > 0]
    filled = [0] * len(targets)
    splits = [""] * len(sizes)
    for patient in sorted(range(len(sizes)), key=lambda p: -sizes[p]):
        chosen = max(open_splits, key=lambda i: ((targets[i] - filled[i]) / targets[i], -i))
        filled[chosen] += sizes[patient]
        splits[patient] = SPLITS[chosen]
    return splits


@dataclass(frozen=True)
class Manifest:
    """An immutable dataset version: the frozen cases, their split, and where they came from."""

    project_id: str
    created_at: str  # ISO 8601 UTC; not part of the content hash
    spec: SplitSpec
    items: tuple[DatasetItem, ...]  # sorted by case_id
    splits: Mapping[str, str]  # case_id -> split
    lineage: Mapping[str, str]

    def counts(self) -> dict[str, dict[str, int]]:
        """Cases, patients and cases per class ("class:<name>", every class in every split) of each split."""
        classes = sorted({item.label_class for item in self.items} - {""})
        table = {name: {"cases": 0, "patients": 0} | {f"class:{c}": 0 for c in classes} for name in SPLITS}
        patients: dict[str, set[str]] = {name: set() for name in SPLITS}
        for item in self.items:
            row = table[self.splits[item.case_id]]
            row["cases"] += 1
            if item.label_class:
                row[f"class:{item.label_class}"] += 1
            patients[self.splits[item.case_id]].add(item.patient_id)
        for name in SPLITS:
            table[name]["patients"] = len(patients[name])
        return table

    def to_json(self) -> bytes:
        """Canonical UTF-8 JSON of everything but ``created_at``: equal content gives equal bytes."""
        document = {
            "format": MANIFEST_FORMAT,
            "project_id": self.project_id,
            "spec": {
                "train": self.spec.train,
                "validation": self.spec.validation,
                "test": self.spec.test,
                "stratify": self.spec.stratify.value,
                "column": self.spec.column,
                "seed": self.spec.seed,
            },
            "items": [
                {
                    "case_id": item.case_id,
                    "patient_id": item.patient_id,
                    "study_instance_uid": item.study_instance_uid,
                    "series_instance_uids": list(item.series_instance_uids),
                    "site": item.site,
                    "label_class": item.label_class,
                    "annotation_id": item.annotation_id,
                    "annotation_version": item.annotation_version,
                    "columns": dict(item.columns),
                    "masks": dict(item.masks),
                    # only when there are boxes: the content hashes of earlier dataset versions stay what they were
                    **({"boxes": [dict(box) for box in item.boxes]} if item.boxes else {}),
                }
                for item in self.items
            ],
            "splits": dict(self.splits),
            "lineage": dict(self.lineage),
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @property
    def content_hash(self) -> str:
        """``sha256:<hex>`` of ``to_json()``; the identity of the dataset version's content."""
        return "sha256:" + hashlib.sha256(self.to_json()).hexdigest()


def build_manifest(
    project_id: str, items: Sequence[DatasetItem], spec: SplitSpec, lineage: Mapping[str, str], created_at: str
) -> Manifest:
    """Freeze ``items`` into a manifest, split by ``spec``."""
    splits = split(items, spec)
    return Manifest(
        project_id=project_id,
        created_at=created_at,
        spec=spec,
        items=tuple(sorted(items, key=lambda item: item.case_id)),
        splits=MappingProxyType(dict(sorted(splits.items()))),
        lineage=MappingProxyType(dict(lineage)),
    )


def manifest_from_json(data: bytes, created_at: str) -> Manifest:
    """Read a manifest written by ``Manifest.to_json``; raises InvalidArgument(INVALID_MANIFEST) otherwise."""
    try:
        document: dict[str, Any] = json.loads(data.decode("utf-8"))
        if document["format"] != MANIFEST_FORMAT:
            raise InvalidArgument(
                f"manifest format {document['format']} is not {MANIFEST_FORMAT}", reason="INVALID_MANIFEST"
            )
        items = tuple(
            DatasetItem(
                case_id=str(entry["case_id"]),
                patient_id=str(entry["patient_id"]),
                study_instance_uid=str(entry["study_instance_uid"]),
                series_instance_uids=tuple(str(uid) for uid in entry["series_instance_uids"]),
                site=str(entry["site"]),
                label_class=str(entry["label_class"]),
                annotation_id=str(entry["annotation_id"]),
                annotation_version=int(entry["annotation_version"]),
                columns={str(k): str(v) for k, v in entry["columns"].items()},
                masks={str(k): str(v) for k, v in entry.get("masks", {}).items()},
                boxes=tuple(dict(box) for box in entry.get("boxes", [])),
            )
            for entry in document["items"]
        )
        manifest = Manifest(
            project_id=str(document["project_id"]),
            created_at=created_at,
            spec=SplitSpec(**document["spec"]),
            items=tuple(sorted(items, key=lambda item: item.case_id)),
            splits=MappingProxyType({str(k): str(v) for k, v in document["splits"].items()}),
            lineage=MappingProxyType({str(k): str(v) for k, v in document["lineage"].items()}),
        )
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise InvalidArgument(f"not a dataset manifest: {error}", reason="INVALID_MANIFEST") from None
    case_ids = {item.case_id for item in items}
    if (
        len(case_ids) != len(items)
        or set(manifest.splits) != case_ids
        or not set(manifest.splits.values()) <= set(SPLITS)
    ):
        raise InvalidArgument("manifest splits do not match its cases", reason="INVALID_MANIFEST")
    return manifest
