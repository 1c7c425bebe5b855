"""Batch extraction: the plan a job runs, its regions of interest, their results, and the feature table it writes.

A plan lists image/mask pairs (a dataset version's series with their masks, or uploaded pairs) with the settings.
Each mask gives regions: every connected component of every label ("lesion", the default) or every label whole
("label"). A region's result is stored under a key derived from its inputs and the settings, so a re-run with the
same inputs reuses it. Regions are numbered the same way each time (components by size, then position).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import SimpleITK as sitk

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.stability import ICC_KINDS

KIND = "radiomics.extraction"
REGION_MODES = ("lesion", "label")
ID_COLUMNS = (
    "region_id",
    "case_id",
    "patient_id",
    "site",
    "split",
    "label_class",
    "series_instance_uid",
    "mask_label",
    "label_name",
    "lesion",
    "voxels",
    "perturbation",
)
RESULT_FORMAT = 2  # part of every region's result key: bump when the stored result's layout changes


@dataclass(frozen=True)
class PlanItem:
    """One image with its mask, and what the table says about the case."""

    case_id: str
    image_key: str
    image_name: str
    mask_key: str
    mask_name: str
    series_instance_uid: str = ""  # "" for uploaded pairs
    patient_id: str = ""
    site: str = ""
    split: str = ""
    label_class: str = ""
    label_names: Mapping[str, str] = field(default_factory=dict)  # mask value (as text) -> class name

    @property
    def name(self) -> str:
        """The image's part of a region id: its series, or its file name."""
        return self.series_instance_uid or self.image_name


@dataclass(frozen=True)
class Perturbations:
    """Variants of every region for feature stability (``stability.perturbed_masks``); all zero: none."""

    erode: int = 0
    dilate: int = 0
    shift: bool = False
    icc_kind: str = "ICC(3,1)"
    threshold: float = 0.75

    def __post_init__(self) -> None:
        if self.erode < 0 or self.dilate < 0 or self.erode > 10 or self.dilate > 10:
            raise InvalidArgument("erode and dilate are radii of 0 to 10 voxels", reason="INVALID_PERTURBATION")
        if self.icc_kind not in ICC_KINDS:
            raise InvalidArgument(f"icc_kind must be one of {', '.join(ICC_KINDS)}", reason="INVALID_PERTURBATION")
        if not 0 <= self.threshold <= 1:
            raise InvalidArgument("the ICC threshold lies in [0, 1]", reason="INVALID_PERTURBATION")

    @property
    def wanted(self) -> bool:
        return bool(self.erode or self.dilate or self.shift)


@dataclass(frozen=True)
class Plan:
    """What a batch job extracts, and with which settings; stored as JSON next to the job's results."""

    job_id: str
    settings_yaml: str
    settings_hash: str
    regions: str
    labels: tuple[int, ...]
    items: tuple[PlanItem, ...]
    provenance: Mapping[str, str]  # dataset id and hash, preset, who started it
    perturbations: Perturbations = field(default_factory=Perturbations)

    def __post_init__(self) -> None:
        if self.regions not in REGION_MODES:
            raise InvalidArgument(
                f"regions must be one of {', '.join(REGION_MODES)}, not '{self.regions}'", reason="INVALID_REGIONS"
            )
        if any(label < 1 or label > 65535 for label in self.labels):
            raise InvalidArgument("mask labels are 1 to 65535", reason="INVALID_REGIONS")
        if not self.items:
            raise InvalidArgument("the batch has no image with a mask", reason="NO_INPUTS")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Plan:
        document = json.loads(data)
        return cls(
            **{
                **document,
                "labels": tuple(document["labels"]),
                "items": tuple(PlanItem(**item) for item in document["items"]),
                "perturbations": Perturbations(**document["perturbations"]),
            }
        )


def plan_key(job_id: str) -> str:
    return f"radiomics/jobs/{job_id}/plan.json"


def outcome_key(job_id: str) -> str:
    """Where the driver writes what the job produced (a JSON Outcome)."""
    return f"radiomics/jobs/{job_id}/outcome.json"


def table_keys(job_id: str) -> tuple[str, str, str]:
    """The feature table as Parquet and as CSV, and the features' stability (CSV)."""
    folder = f"radiomics/feature-tables/{job_id}"
    return f"{folder}/features.parquet", f"{folder}/features.csv", f"{folder}/stability.csv"


@dataclass(frozen=True)
class Region:
    """One region of interest: a label of a mask, or one connected component (lesion) of it."""

    item: PlanItem
    label: int
    lesion: int  # 1.. by size within the label; 0 when the whole label is the region
    voxels: int

    @property
    def id(self) -> str:
        suffix = f"{self.label}-{self.lesion}" if self.lesion else str(self.label)
        return f"{self.item.case_id}/{self.item.name}/{suffix}"

    def result_key(self, settings_hash: str, perturbations: Perturbations) -> str:
        """Where this region's features are kept: the same image, mask, region, settings and variants give the
        same key."""
        variants = [perturbations.erode, perturbations.dilate, perturbations.shift] if perturbations.wanted else []
        identity = json.dumps(
            [RESULT_FORMAT, settings_hash, self.item.image_key, self.item.mask_key, self.label, self.lesion, *variants],
            separators=(",", ":"),
        )
        return f"radiomics/regions/{hashlib.sha256(identity.encode()).hexdigest()}.json"

    def row(self) -> dict[str, Any]:
        """The table's describing columns of this region (ID_COLUMNS)."""
        item = self.item
        return {
            "region_id": self.id,
            "case_id": item.case_id,
            "patient_id": item.patient_id or item.case_id,
            "site": item.site,
            "split": item.split,
            "label_class": item.label_class,
            "series_instance_uid": item.series_instance_uid,
            "mask_label": self.label,
            "label_name": item.label_names.get(str(self.label), ""),
            "lesion": self.lesion,
            "voxels": self.voxels,
        }


@dataclass(frozen=True)
class Failure:
    """A region (or a whole mask) that could not be extracted, and why."""

    region_id: str
    case_id: str
    reason: str
    message: str


def _components(mask: sitk.Image, label: int) -> sitk.Image:
    """The connected components of ``label`` (faces, edges and corners touch), numbered by size, then position."""
    binary = sitk.Cast(mask, sitk.sitkUInt32) == label
    return sitk.RelabelComponent(sitk.ConnectedComponent(binary, True), sortByObjectSize=True)


def regions_of(item: PlanItem, mask: sitk.Image, mode: str, labels: Sequence[int] = ()) -> list[Region]:
    """The regions of one mask; EMPTY_MASK or UNKNOWN_LABEL when it has none to give."""
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(sitk.Cast(mask, sitk.sitkUInt32))
    present = sorted(int(value) for value in statistics.GetLabels())
    if not present:
        raise InvalidArgument("the mask is empty: it has no segmented voxel", reason="EMPTY_MASK")
    wanted = [label for label in present if not labels or label in labels]
    if not wanted:
        raise InvalidArgument(
            f"none of labels {', '.join(map(str, labels))} is in the mask; "
            f"its labels are {', '.join(map(str, present))}",
            reason="UNKNOWN_LABEL",
        )
    if mode == "label":
        return [Region(item, label, 0, int(statistics.GetNumberOfPixels(label))) for label in wanted]
    regions = []
    for label in wanted:
        lesions = sitk.LabelShapeStatisticsImageFilter()
        lesions.Execute(_components(mask, label))
        regions += [Region(item, label, int(n), int(lesions.GetNumberOfPixels(n))) for n in lesions.GetLabels()]
    return regions


def region_mask(mask: sitk.Image, region: Region) -> tuple[sitk.Image, int]:
    """The mask and label that select exactly ``region``: the label itself, or its lesion as label 1."""
    if not region.lesion:
        return mask, region.label
    lesion = sitk.Cast(_components(mask, region.label) == region.lesion, sitk.sitkUInt8)
    return lesion, 1


@dataclass(frozen=True)
class Outcome:
    """What a finished batch produced: counts, failures and where its table is."""

    rows: int
    features: int
    reused: int
    failures: tuple[Failure, ...]
    parquet_key: str
    csv_key: str
    provenance: Mapping[str, str]
    extraction_seconds: float  # from the first region task submitted to the last one done
    stability_key: str = ""  # with perturbations: feature, icc, stable (CSV)
    stable_features: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Outcome:
        document = json.loads(data)
        return cls(**{**document, "failures": tuple(Failure(**f) for f in document["failures"])})
