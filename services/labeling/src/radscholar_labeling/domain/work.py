"""Cases, the tasks that give them to annotators, annotations and reviews: the rules, without storage."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from radscholar_core.errors import FailedPrecondition, InvalidArgument
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
    """Corners in voxel coordinates (column, row[, slice]) on voxel edges: a box of voxel (0, 0) is (0, 0)-(1, 1)."""

    class_name: str
    series_instance_uid: str
    sop_instance_uid: str
    min: tuple[float, ...]
    max: tuple[float, ...]


@dataclass(frozen=True)
class MaskRef:
    """A stored mask: the NIfTI label map in the object store, the DICOM SEG in the DICOM store."""

    series_instance_uid: str
    nifti_object_key: str
    seg_series_instance_uid: str
    seg_sop_instance_uid: str
    voxels: Mapping[str, int]  # class name -> voxels


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
