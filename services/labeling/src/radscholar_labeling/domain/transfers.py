"""Labels in and out in bulk: imports into an annotator's tasks as new versions, exports in exchange formats."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
import zipfile
from collections.abc import Sequence
from typing import Protocol

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore
from radscholar_labeling.domain.exchange import (
    ExportRow,
    ImportedLabel,
    boxes_json,
    classes_csv,
    coco,
    read_boxes_json,
    read_classes_csv,
    read_masks_zip,
)
from radscholar_labeling.domain.mask_store import MaskInput, MaskStore
from radscholar_labeling.domain.masks import Geometry, geometry_of
from radscholar_labeling.domain.projects import Dimensionality, Project
from radscholar_labeling.domain.work import (
    AnnotationContent,
    AnnotationVersion,
    Box,
    Case,
    Task,
    TaskStatus,
    check_content,
    placed,
)

IMPORTS = {"csv": read_classes_csv, "json": read_boxes_json, "nifti": read_masks_zip}
EXPORTS = {  # format -> (media type, file suffix)
    "csv": ("text/csv", "csv"),
    "json": ("application/json", "json"),
    "coco": ("application/json", "coco.json"),
    "nifti": ("application/zip", "nifti.zip"),
    "seg": ("application/zip", "seg.zip"),
}


class Work(Protocol):
    def cases_by_study(self, project_id: str, study_instance_uids: Sequence[str]) -> dict[str, Case]: ...
    def task_of(self, case_id: str, assignee_id: str) -> Task: ...
    def latest_version(self, task_id: str) -> AnnotationVersion | None: ...
    def save_annotation(
        self, task_id: str, author_id: str, base_version: int, content: AnnotationContent, *, submit: bool, source: str
    ) -> AnnotationVersion: ...
    def latest_annotations(
        self, project_id: str, statuses: Sequence[TaskStatus]
    ) -> list[tuple[Task, AnnotationVersion]]: ...


class LabelTransfers:
    def __init__(self, work: Work, masks: MaskStore, objects: ObjectStore) -> None:
        self._work = work
        self._masks = masks
        self._images = masks.images
        self._objects = objects

    async def import_labels(
        self, project: Project, fmt: str, data: bytes, annotator_id: str, author_id: str, *, submit: bool, source: str
    ) -> tuple[int, int, int]:
        """Every case's imported labels (CSV), boxes (JSON) or masks (NIfTI zip: each series' mask, the masks of
        series not named kept) replace those of the annotator's latest version, the rest of it kept; every case is
        checked, and its masks stored, before any version is saved. Returns (cases, labels, boxes)."""
        if fmt not in IMPORTS:
            raise InvalidArgument(f"format must be one of {', '.join(IMPORTS)}", reason="INVALID_FORMAT")
        imported = await asyncio.to_thread(IMPORTS[fmt], data, project.label_schema)
        if not imported:
            raise InvalidArgument("the file holds no labels", reason="NOTHING_TO_IMPORT")
        cases = await asyncio.to_thread(self._work.cases_by_study, project.id, [i.study_instance_uid for i in imported])
        unknown = [i.study_instance_uid for i in imported if i.study_instance_uid not in cases]
        if unknown:
            raise InvalidArgument(
                f"{len(unknown)} stud{'y is' if len(unknown) == 1 else 'ies are'} not cases of the project: "
                f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}",
                reason="CASE_NOT_IN_PROJECT",
            )
        planned = []
        for given in imported:
            case = cases[given.study_instance_uid]
            task = await asyncio.to_thread(self._work.task_of, case.id, annotator_id)
            latest = await asyncio.to_thread(self._work.latest_version, task.id)
            content = latest.content if latest else AnnotationContent()
            if fmt == "csv":
                content = dataclasses.replace(content, labels=given.labels)
            elif fmt == "nifti":
                inputs = [MaskInput(series_instance_uid=uid, nifti=nifti) for uid, nifti in given.masks]
                masks = await self._masks.save(project, case, task.id, inputs, content.masks)
                content = dataclasses.replace(content, masks=masks)
            else:
                content = dataclasses.replace(content, boxes=await self._placed(project, case, given))
            check_content(content, project, case)
            planned.append((task, content))
        for task, content in planned:
            await asyncio.to_thread(
                self._work.save_annotation,
                task.id,
                author_id,
                task.annotation_version,
                content,
                submit=submit,
                source=source,
            )
        return len(planned), sum(len(i.labels) for i in imported), sum(len(i.boxes) for i in imported)

    async def _placed(self, project: Project, case: Case, given: ImportedLabel) -> tuple[Box, ...]:
        if project.dimensionality is not Dimensionality.THREE_D:
            return given.boxes
        geometries = {uid: await self._geometry(case, uid) for uid in {b.series_instance_uid for b in given.boxes}}
        return tuple(placed(b, geometries[b.series_instance_uid], i) for i, b in enumerate(given.boxes))

    async def _geometry(self, case: Case, series_instance_uid: str) -> Geometry:
        case.series_of(series_instance_uid)
        return geometry_of(await self._images.headers(series_instance_uid))

    async def export_labels(
        self, project: Project, fmt: str, statuses: Sequence[TaskStatus]
    ) -> tuple[str, str, str, int]:
        """The latest annotation of every task in `statuses`, written to the object store: (key, media type,
        file name, annotations)."""
        if fmt not in EXPORTS:
            raise InvalidArgument(f"format must be one of {', '.join(EXPORTS)}", reason="INVALID_FORMAT")
        latest = await asyncio.to_thread(self._work.latest_annotations, project.id, statuses)
        rows: list[ExportRow] = [(task.case, task.assignee_id, version.content) for task, version in latest]
        if fmt == "csv":
            data = classes_csv(rows)
        elif fmt == "json":
            geometries = {}
            for case, _, content in rows:
                for box in content.boxes:
                    if len(box.min) == 3 and box.series_instance_uid not in geometries:
                        geometries[box.series_instance_uid] = await self._geometry(case, box.series_instance_uid)
            data = boxes_json(rows, geometries)
        elif fmt == "coco":
            images = {}  # the image of each 2D box (a one-image series stands for its image): (columns, rows)
            for case, _, content in rows:
                for box in content.boxes:
                    series = case.series_of(box.series_instance_uid)
                    images[box.sop_instance_uid or box.series_instance_uid] = (series.columns, series.rows)
            data = coco(rows, images, project.label_schema)
        else:
            data = await self._masks_zip(rows, fmt)
        media, suffix = EXPORTS[fmt]
        key = f"exports/{project.id}/{uuid.uuid4().hex}.{suffix}"
        await asyncio.to_thread(self._objects.put, key, data, media)
        return key, media, f"{project.name}-labels.{suffix}", len(rows)

    async def _masks_zip(self, rows: Sequence[ExportRow], fmt: str) -> bytes:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:  # NIfTI is gzipped, SEG mostly bits
            for case, annotator_id, content in rows:
                for mask in content.masks:
                    key, suffix = (
                        (mask.nifti_object_key, "nii.gz") if fmt == "nifti" else (mask.seg_object_key, "seg.dcm")
                    )
                    if key:
                        data = await asyncio.to_thread(self._objects.get, key)
                        out.writestr(
                            f"{case.study_instance_uid}/{mask.series_instance_uid}/{annotator_id}.{suffix}", data
                        )
        return archive.getvalue()
