"""Cases, the tasks that give them to annotators, annotations and reviews: the rules, without storage."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum

import numpy as np

from radscholar_core.errors import Conflict, FailedPrecondition, InvalidArgument
from radscholar_labeling.domain.masks import Geometry
from radscholar_labeling.domain.projects import Dimensionality, LabelLevel, Project


class TaskStatus(Enum):
    UNTAGGED = "untagged"
    IN_PROGRESS = "in_progress"
    TAGGED = "tagged"
    REVIEWED = "reviewed"
    REJECTED = "rejected"


class AssignMode(Enum):
    SPLIT = "split"  # each case to one annotator, evenly
    EACH = "each"  # each case to every annotator (double reading)


class ReviewDecision(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    ADJUDICATE = "adjudicate"  # this task's annotation wins; the case's other submitted tasks are rejected


UNASSIGNED = ""
TO_LABEL = (TaskStatus.REJECTED, TaskStatus.IN_PROGRESS, TaskStatus.UNTAGGED)  # what "next task" offers, in order
SOURCE = re.compile(r"^(person|model:[^/\s]{1,100}/[^/\s]{1,100})$")


@dataclass(frozen=True)
class CaseSeries:
    series_instance_uid: str
    modality: str
    rows: int
    columns: int
    slices: int


@dataclass(frozen=True)
class NewCase:
    study_instance_uid: str
    patient_id: str
    site: str
    study_date: str  # YYYY-MM-DD or ""
    description: str
    series: tuple[CaseSeries, ...]


@dataclass(frozen=True)
class Case(NewCase):
    id: str
    project_id: str

    def series_of(self, series_instance_uid: str) -> CaseSeries:
        for series in self.series:
            if series.series_instance_uid == series_instance_uid:
                return series
        raise InvalidArgument(
            f"series '{series_instance_uid}' is not part of case {self.id} (study {self.study_instance_uid})",
            reason="SERIES_NOT_IN_CASE",
        )


@dataclass(frozen=True)
class Task:
    id: str
    project_id: str
    case: Case
    assignee_id: str  # UNASSIGNED when nobody has it
    status: TaskStatus
    annotation_version: int  # 0: nothing saved
    review_comment: str
    updated_at: datetime


@dataclass(frozen=True)
class TaskFilter:
    site: str = ""
    study_date_from: str = ""
    study_date_to: str = ""
    statuses: tuple[TaskStatus, ...] = ()
    assignee_id: str | None = None  # None: anyone; UNASSIGNED: nobody
    case_ids: tuple[str, ...] = ()


def plan_assignment(
    case_ids: Sequence[str],
    annotators: Sequence[str],
    mode: AssignMode,
    held: Mapping[str, set[str]],
    load: Mapping[str, int],
) -> list[tuple[str, str]]:
    """(case, annotator) pairs to assign. `held`: case -> annotators already holding it; `load`: tasks each holds.

    SPLIT gives each case nobody listed holds yet to the least-loaded annotator (ties in the order given), so
    the annotators end up as even as the cases allow; EACH gives every case to every annotator not holding it.
    """
    if not annotators:
        raise InvalidArgument("name at least one annotator", reason="NO_ANNOTATORS")
    if UNASSIGNED in annotators:
        raise InvalidArgument("an annotator id is empty", reason="NO_ANNOTATORS")
    if len(set(annotators)) != len(annotators):
        raise InvalidArgument("an annotator is named twice", reason="DUPLICATE_ANNOTATOR")
    counts = {a: load.get(a, 0) for a in annotators}
    pairs = []
    for case_id in case_ids:
        holders = held.get(case_id, set())
        if mode is AssignMode.EACH:
            pairs += [(case_id, a) for a in annotators if a not in holders]
        elif not holders & set(annotators):
            annotator = min(annotators, key=lambda a: counts[a])
            counts[annotator] += 1
            pairs.append((case_id, annotator))
    return pairs


@dataclass(frozen=True)
class ClassLabel:
    class_name: str
    series_instance_uid: str = ""
    sop_instance_uid: str = ""


@dataclass(frozen=True)
class Box:
    """Corners in voxel coordinates (column, row[, slice]) on voxel edges: a box of voxel (0, 0) is (0, 0)-(1, 1).

    A 3D box also has its corners in patient coordinates (LPS, mm), computed from the voxel corners: the
    voxel centre (i, j, k) lies at origin + D (i, j, k) * spacing, so an edge coordinate c maps as c - 0.5.
    """

    class_name: str
    series_instance_uid: str
    sop_instance_uid: str
    min: tuple[float, ...]
    max: tuple[float, ...]
    min_mm: tuple[float, ...] = ()
    max_mm: tuple[float, ...] = ()


def edges_to_mm(corner: Sequence[float], geometry: Geometry) -> tuple[float, ...]:
    return tuple(float(v) for v in geometry.index_to_physical(np.asarray(corner, dtype=np.float64) - 0.5))


def mm_to_edges(corner: Sequence[float], geometry: Geometry) -> tuple[float, ...]:
    offset = (np.asarray(corner, dtype=np.float64) - np.asarray(geometry.origin)) @ geometry.direction_matrix
    return tuple(float(v) for v in offset / np.asarray(geometry.spacing) + 0.5)


def placed(box: Box, geometry: Geometry, index: int) -> Box:
    """A 3D box with both corner kinds: mm from voxels, or voxels from mm (given alone); both given must agree."""
    if not box.min and not box.max:
        if len(box.min_mm) != 3 or len(box.max_mm) != 3:
            raise InvalidArgument(
                f"box {index + 1}: give its corners in voxels, or 3 values each in mm", reason="INVALID_BOX"
            )
        low, high = mm_to_edges(box.min_mm, geometry), mm_to_edges(box.max_mm, geometry)
        edges = (
            tuple(min(a, b) for a, b in zip(low, high, strict=True)),
            tuple(max(a, b) for a, b in zip(low, high, strict=True)),
        )
        return replace(
            box,
            min=edges[0],
            max=edges[1],
            min_mm=edges_to_mm(edges[0], geometry),
            max_mm=edges_to_mm(edges[1], geometry),
        )
    if len(box.min) != 3 or len(box.max) != 3:
        return box  # refused by check_content with the reason
    low, high = edges_to_mm(box.min, geometry), edges_to_mm(box.max, geometry)
    tolerance = 1e-3 * min(geometry.spacing)
    for given, computed in ((box.min_mm, low), (box.max_mm, high)):
        if given and (len(given) != 3 or max(abs(a - b) for a, b in zip(given, computed, strict=True)) > tolerance):
            raise InvalidArgument(
                f"box {index + 1}: its mm corners do not match its voxel corners on this series "
                f"(expected {[round(v, 3) for v in computed]})",
                reason="BOX_INCONSISTENT",
            )
    return replace(box, min_mm=low, max_mm=high)


@dataclass(frozen=True)
class MaskRef:
    """A stored mask: the NIfTI label map in the object store, the DICOM SEG in the DICOM store."""

    series_instance_uid: str
    nifti_object_key: str
    seg_series_instance_uid: str
    seg_sop_instance_uid: str
    voxels: Mapping[str, int]  # class name -> voxels
    seg_object_key: str = ""  # the SEG's bytes in the object store too (exports)


@dataclass(frozen=True)
class AnnotationContent:
    labels: tuple[ClassLabel, ...] = ()
    boxes: tuple[Box, ...] = ()
    comment: str = ""
    masks: tuple[MaskRef, ...] = ()


@dataclass(frozen=True)
class AnnotationVersion:
    annotation_id: str
    task_id: str
    case_id: str
    version: int
    author_id: str
    source: str
    content: AnnotationContent
    submitted: bool
    saved_at: datetime = field(compare=False)


def check_content(content: AnnotationContent, project: Project, case: Case) -> None:
    """What an annotation may say in this project about this case; the first problem is INVALID_ARGUMENT."""
    schema = project.label_schema
    if len(content.comment) > 10_000:
        raise InvalidArgument("comment is longer than 10,000 characters", reason="INVALID_COMMENT")
    targets: dict[tuple[str, str], int] = {}
    for label in content.labels:
        schema.index_of(label.class_name)
        level = schema.level
        if level is LabelLevel.CASE and (label.series_instance_uid or label.sop_instance_uid):
            raise InvalidArgument("this project labels whole cases: give no series or image", reason="INVALID_TARGET")
        if level in (LabelLevel.SERIES, LabelLevel.IMAGE, LabelLevel.LESION):
            if not label.series_instance_uid:
                raise InvalidArgument(f"a {level.value}-level label names its series", reason="INVALID_TARGET")
            case.series_of(label.series_instance_uid)
        if level is LabelLevel.IMAGE and not label.sop_instance_uid:
            raise InvalidArgument("an image-level label names its image (SOP Instance UID)", reason="INVALID_TARGET")
        target = (label.series_instance_uid, label.sop_instance_uid)
        targets[target] = targets.get(target, 0) + 1
        if targets[target] > 1 and not schema.multi_label:
            raise InvalidArgument(
                "this project gives one class per target (it is not multi-label)", reason="SEVERAL_CLASSES"
            )
    for index, box in enumerate(content.boxes):
        _check_box(box, index, project, case)


def _check_box(box: Box, index: int, project: Project, case: Case) -> None:
    project.label_schema.index_of(box.class_name)
    series = case.series_of(box.series_instance_uid)
    dims = 2 if project.dimensionality is Dimensionality.TWO_D else 3
    name = f"box {index + 1} ({box.class_name})"
    if len(box.min) != dims or len(box.max) != dims:
        raise InvalidArgument(
            f"{name}: a {project.dimensionality.value.upper()} project's boxes have {dims} coordinates per corner",
            reason="INVALID_BOX",
        )
    if dims == 2 and not box.sop_instance_uid and series.slices > 1:
        raise InvalidArgument(f"{name}: a 2D box on a series of slices names its image", reason="INVALID_BOX")
    extent = (series.columns, series.rows, series.slices)[:dims]
    for axis, low, high, size in zip("xyz", box.min, box.max, extent, strict=False):
        if not low < high:
            raise InvalidArgument(f"{name}: its {axis} range {low}..{high} is empty", reason="INVALID_BOX")
        if low < 0 or high > size:
            raise InvalidArgument(
                f"{name}: its {axis} range {low}..{high} is outside the image (0..{size})", reason="BOX_OUTSIDE_IMAGE"
            )


def check_source(source: str) -> str:
    source = source or "person"
    if not SOURCE.match(source):
        raise InvalidArgument(
            f"source '{source}' must be 'person' or 'model:<name>/<version>'", reason="INVALID_SOURCE"
        )
    return source


def check_base_version(base_version: int, latest: int) -> None:
    """An edit starts from the latest version; one that does not is refused (STALE_VERSION, 409)."""
    if base_version != latest:
        raise Conflict(
            f"this edit started from version {base_version}, but version {latest} was saved since; reload it and "
            "apply your changes again",
            reason="STALE_VERSION",
        )


def status_after_save(status: TaskStatus, submit: bool) -> TaskStatus:
    if status is TaskStatus.REVIEWED:
        raise FailedPrecondition("this task is reviewed; its annotation is final", reason="TASK_REVIEWED")
    return TaskStatus.TAGGED if submit else TaskStatus.IN_PROGRESS


def status_after_review(status: TaskStatus, decision: ReviewDecision, comment: str) -> TaskStatus:
    if status is not TaskStatus.TAGGED:
        raise FailedPrecondition(
            f"only a tagged (submitted) task can be reviewed; this one is {status.value}", reason="TASK_NOT_TAGGED"
        )
    if decision is ReviewDecision.REJECT:
        if not comment.strip():
            raise InvalidArgument("a rejection says why (comment)", reason="COMMENT_REQUIRED")
        return TaskStatus.REJECTED
    return TaskStatus.REVIEWED
