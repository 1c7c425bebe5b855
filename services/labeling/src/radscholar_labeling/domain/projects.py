"""Labeling projects: what a project is and the rules a new one must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from radscholar_core.errors import InvalidArgument


class TaskType(Enum):
    CLASSIFICATION = "classification"
    DETECTION = "detection"
    SEGMENTATION = "segmentation"


class Dimensionality(Enum):
    TWO_D = "2d"
    THREE_D = "3d"


class LabelLevel(Enum):
    CASE = "case"
    SERIES = "series"
    IMAGE = "image"
    LESION = "lesion"


COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
CLASS_NAME = re.compile(r"^\S(.{0,62}\S)?$")


@dataclass(frozen=True)
class LabelClass:
    name: str
    color: str


@dataclass(frozen=True)
class LabelSchema:
    """The classes annotators choose from; a mask voxel holds its class's 1-based position."""

    classes: tuple[LabelClass, ...] = ()
    level: LabelLevel = LabelLevel.CASE
    multi_label: bool = False

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        for label in self.classes:
            if not CLASS_NAME.match(label.name):
                raise InvalidArgument(
                    f"class name '{label.name}' must be 1 to 64 characters without leading or trailing spaces",
                    reason="INVALID_CLASS",
                )
            if not COLOR.match(label.color):
                raise InvalidArgument(
                    f"class '{label.name}' has colour '{label.color}'; use #rrggbb", reason="INVALID_CLASS"
                )
        if len(set(names)) != len(names):
            raise InvalidArgument("class names must be unique", reason="INVALID_CLASS")

    def index_of(self, name: str) -> int:
        """The class's 1-based position; an unknown class is INVALID_ARGUMENT naming the known ones."""
        for index, label in enumerate(self.classes, start=1):
            if label.name == name:
                return index
        known = ", ".join(c.name for c in self.classes) or "none: the project has no classes"
        raise InvalidArgument(f"class '{name}' is not in the project's schema ({known})", reason="UNKNOWN_CLASS")


# DICOM modalities (PS3.3 C.7.3.1.1.1) that carry images a project can label.
IMAGE_MODALITIES = frozenset({"CT", "MR", "PT", "NM", "US", "CR", "DX", "MG", "XA", "RF", "OT", "SM"})
NAME = re.compile(r"^\S(.{0,198}\S)?$")


@dataclass(frozen=True)
class NewProject:
    name: str
    description: str
    modality: str
    task_type: TaskType
    dimensionality: Dimensionality
    label_schema: LabelSchema = LabelSchema()
    sites: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise InvalidArgument(
                "name must be 1 to 200 characters without leading or trailing spaces", reason="INVALID_NAME"
            )
        if self.modality not in IMAGE_MODALITIES:
            raise InvalidArgument(
                f"modality '{self.modality}' is not an image modality; "
                f"use one of {', '.join(sorted(IMAGE_MODALITIES))}",
                reason="INVALID_MODALITY",
            )
        if len(self.description) > 10_000:
            raise InvalidArgument("description is longer than 10,000 characters", reason="INVALID_DESCRIPTION")


@dataclass(frozen=True, kw_only=True)
class Project(NewProject):
    id: str
    created_at: datetime
