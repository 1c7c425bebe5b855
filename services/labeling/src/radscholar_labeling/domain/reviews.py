"""What double reading and review produce: agreement between readers, and the accepted labels a dataset freezes."""

from __future__ import annotations

import contextlib
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radscholar_core.errors import FailedPrecondition, InvalidArgument
from radscholar_labeling.domain import agreement
from radscholar_labeling.domain.datasets import DatasetItem
from radscholar_labeling.domain.mask_store import MaskStore
from radscholar_labeling.domain.projects import Project
from radscholar_labeling.domain.work import AnnotationVersion, Box, Task

Reading = tuple[Task, AnnotationVersion]  # a task and the version of its annotation that counts


@dataclass(frozen=True)
class AgreementReport:
    cases_compared: int  # cases with at least two readings
    class_kappa: float  # NaN when not computable
    kappa_method: str  # "cohen", "fleiss" or ""
    mean_box_iou: float  # NaN when no case has boxes from two readers
    mean_mask_dice: float  # NaN when no case has masks from two readers
    disagreements: list[agreement.CaseAgreement]  # the lowest agreement first


def case_class(version: AnnotationVersion) -> str:
    """The class a reading gives the whole case ("" when it gives none)."""
    return version.content.labels[0].class_name if version.content.labels else ""


def _mean(scores: Sequence[agreement.CaseAgreement]) -> float:
    return sum(s.score for s in scores) / len(scores) if scores else math.nan


async def project_agreement(
    readings: Sequence[Reading], masks: MaskStore, project: Project, limit: int
) -> AgreementReport:
    """Class kappa over cases read by several annotators (Cohen's for two annotators, Fleiss' otherwise, on the
    cases with the most common number of readers); box IoU over cases read by two, mask Dice over cases two drew."""
    by_case: dict[str, dict[str, AnnotationVersion]] = defaultdict(dict)
    for task, version in readings:
        by_case[task.case.id][task.assignee_id] = version
    compared = {case: readers for case, readers in by_case.items() if len(readers) >= 2}
    classes = {c: {a: case_class(v) for a, v in r.items()} for c, r in compared.items()}
    classes = {c: labels for c, labels in classes.items() if all(labels.values())}
    kappa, method = math.nan, ""
    if classes:
        annotators = sorted({a for labels in classes.values() for a in labels})
        with contextlib.suppress(InvalidArgument):  # too few cases: no kappa yet
            if len(annotators) == 2:
                ratings = ([labels[a] for labels in classes.values()] for a in annotators)
                kappa, method = agreement.cohen_kappa(*ratings), "cohen"
            else:
                usual = Counter(len(labels) for labels in classes.values()).most_common(1)[0][0]
                rows = [sorted(labels.values()) for labels in classes.values() if len(labels) == usual]
                kappa, method = agreement.fleiss_kappa(rows), "fleiss"
    pairs = {c: r for c, r in compared.items() if len(r) == 2}
    box_scores = [
        agreement.case_box_agreement(c, {a: [(b.min, b.max) for b in v.content.boxes] for a, v in r.items()})
        for c, r in pairs.items()
        if any(v.content.boxes for v in r.values())
    ]
    mask_scores = []
    for case_id, readers in by_case.items():
        drawn = {reader: version.content.masks for reader, version in readers.items() if version.content.masks}
        if len(drawn) == 2:
            mask_scores += await masks.case_agreement(case_id, drawn, project)
    cases = [*(agreement.case_class_agreement(c, labels) for c, labels in classes.items()), *box_scores, *mask_scores]
    return AgreementReport(
        cases_compared=len(compared),
        class_kappa=kappa,
        kappa_method=method,
        mean_box_iou=_mean(box_scores),
        mean_mask_dice=_mean(mask_scores),
        disagreements=agreement.largest_disagreements(cases, limit),
    )


def dataset_items(accepted: Sequence[Reading], columns: Mapping[str, Mapping[str, str]]) -> list[DatasetItem]:
    """One item per case; a case with several accepted annotations that differ must be adjudicated first."""
    chosen: dict[str, Reading] = {}
    for task, version in accepted:
        earlier = chosen.get(task.case.id)
        if earlier is not None and earlier[1].content != version.content:
            raise FailedPrecondition(
                f"case {task.case.id} (study {task.case.study_instance_uid}) has two accepted annotations that "
                "differ; adjudicate it first",
                reason="CASE_NEEDS_ADJUDICATION",
            )
        chosen.setdefault(task.case.id, (task, version))
    return [
        DatasetItem(
            case_id=task.case.id,
            patient_id=task.case.patient_id,
            study_instance_uid=task.case.study_instance_uid,
            series_instance_uids=tuple(s.series_instance_uid for s in task.case.series),
            site=task.case.site,
            label_class=case_class(version),
            annotation_id=version.annotation_id,
            annotation_version=version.version,
            columns=columns.get(task.case.id, {}),
            masks={m.series_instance_uid: m.nifti_object_key for m in version.content.masks},
            boxes=tuple(box_entry(b) for b in version.content.boxes),
        )
        for task, version in chosen.values()
    ]


def box_entry(box: Box) -> dict[str, Any]:
    """A box as a dataset version's manifest holds it: class, series, image, and corners (voxel edges; LPS mm in 3D)."""
    entry: dict[str, Any] = {
        "class_name": box.class_name,
        "series_instance_uid": box.series_instance_uid,
        "sop_instance_uid": box.sop_instance_uid,
        "min": list(box.min),
        "max": list(box.max),
    }
    if box.min_mm:
        entry.update({"min_mm": list(box.min_mm), "max_mm": list(box.max_mm)})
    return entry
