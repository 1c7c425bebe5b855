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


@dataclass(frozen=True)
class Project(NewProject):
    id: str
    created_at: datetime
