"""Masks of an annotation: read from NIfTI, DICOM SEG or run-length slices, kept as NIfTI in the object store
and as DICOM SEG in the DICOM store, next to the series they are drawn on."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore
from radscholar_labeling.domain import agreement
from radscholar_labeling.domain.exchange import RTSTRUCT_STORAGE, read_rtstruct
from radscholar_labeling.domain.masks import (
    Mask,
    RleSlice,
    decode_rle,
    geometry_of,
    read_nifti,
    read_seg,
    write_nifti,
    write_seg,
)
from radscholar_labeling.domain.projects import Project, TaskType
from radscholar_labeling.domain.work import Case, MaskRef


class SeriesImages(Protocol):
    """The DICOM store, as masks need it."""

    async def headers(self, series_instance_uid: str) -> list[Dataset]: ...
    async def store(self, dicom: bytes, name: str) -> None: ...
    async def deidentification_profile(self, project_id: str) -> str: ...


@dataclass(frozen=True)
class MaskInput:
    """One mask of a save: exactly one of the three encodings, or none to remove the series' mask."""

    series_instance_uid: str
    nifti: bytes | None = None
    seg: bytes | None = None  # a DICOM SEG, or an RTSTRUCT (its ROIs mapped to classes by roi_classes)
    rle: tuple[RleSlice, ...] = ()
    roi_classes: Mapping[str, str] = field(default_factory=dict)  # RTSTRUCT ROI name -> class; empty: same names


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


class MaskStore:
    def __init__(self, images: SeriesImages, objects: ObjectStore) -> None:
        self.images = images
        self._objects = objects

    async def save(
        self, project: Project, case: Case, task_id: str, inputs: Sequence[MaskInput], previous: Sequence[MaskRef]
    ) -> tuple[MaskRef, ...]:
        """The masks of the new version: the previous ones, with each series given here replaced or removed."""
        if inputs and project.task_type is TaskType.CLASSIFICATION:
            raise InvalidArgument("a classification project takes no masks", reason="MASKS_NOT_ALLOWED")
        masks = {m.series_instance_uid: m for m in previous}
        named = [i.series_instance_uid for i in inputs]
        if len(set(named)) != len(named):
            raise InvalidArgument("a series is given two masks in one save", reason="DUPLICATE_MASK")
        decoded = []
        for given in inputs:  # every mask is read (and refused) before anything is stored
            case.series_of(given.series_instance_uid)
            sources = [given.nifti is not None, given.seg is not None, bool(given.rle)]
            if sum(sources) > 1:
                raise InvalidArgument("a mask is given one way: NIfTI, DICOM SEG or RLE slices", reason="INVALID_MASK")
            if not any(sources):
                masks.pop(given.series_instance_uid, None)
                continue
            headers = await self.images.headers(given.series_instance_uid)
            decoded.append(
                (given.series_instance_uid, headers, await asyncio.to_thread(_decode, given, headers, project))
            )
        for series_uid, headers, mask in decoded:
            masks[series_uid] = await self._store(project, task_id, series_uid, headers, mask)
        return tuple(masks[uid] for uid in sorted(masks))

    async def _store(
        self, project: Project, task_id: str, series_uid: str, headers: list[Dataset], mask: Mask
    ) -> MaskRef:
        classes = [(c.name, _rgb(c.color)) for c in project.label_schema.classes]
        geometry = geometry_of(headers)
        nifti = await asyncio.to_thread(write_nifti, mask, geometry)
        seg = await asyncio.to_thread(
            write_seg, mask, headers, classes, description=f"RadScholar labels, task {task_id}"
        )
        stem = f"labels/{project.id}/{task_id}/{uuid.uuid4().hex}"
        await asyncio.to_thread(self._objects.put, f"{stem}.nii.gz", nifti, "application/gzip")
        await asyncio.to_thread(self._objects.put, f"{stem}.seg.dcm", seg, "application/dicom")
        await self.images.store(seg, f"{task_id}.seg.dcm")
        written = pydicom.dcmread(pydicom.filebase.DicomBytesIO(seg), stop_before_pixels=True)
        counts = np.bincount(mask.ravel(), minlength=len(classes) + 1)
        return MaskRef(
            series_instance_uid=series_uid,
            nifti_object_key=f"{stem}.nii.gz",
            seg_object_key=f"{stem}.seg.dcm",
            seg_series_instance_uid=str(written.SeriesInstanceUID),
            seg_sop_instance_uid=str(written.SOPInstanceUID),
            voxels={name: int(counts[i]) for i, (name, _) in enumerate(classes, start=1) if counts[i]},
        )

    async def case_agreement(
        self, case_id: str, masks: Mapping[str, Sequence[MaskRef]], project: Project
    ) -> list[agreement.CaseAgreement]:
        """Dice between two annotators' masks of each series both drew on (the series' grid read once)."""
        (first, a), (second, b) = masks.items()
        by_series = {m.series_instance_uid: m for m in b}
        labels = len(project.label_schema.classes)
        scores = []
        for ref in a:
            other = by_series.get(ref.series_instance_uid)
            if other is None:
                continue
            geometry = geometry_of(await self.images.headers(ref.series_instance_uid))
            pair = {}
            for reader, mask in ((first, ref), (second, other)):
                data = await asyncio.to_thread(self._objects.get, mask.nifti_object_key)
                pair[reader] = await asyncio.to_thread(read_nifti, data, geometry, labels)
            scores.append(await asyncio.to_thread(agreement.case_mask_agreement, case_id, pair))
        return scores


def _decode(given: MaskInput, headers: list[Dataset], project: Project) -> Mask:
    labels = len(project.label_schema.classes)
    if given.seg is not None:
        if _sop_class(given.seg) == RTSTRUCT_STORAGE:
            return read_rtstruct(
                given.seg, headers, given.roi_classes or _same_names(given.seg, project), project.label_schema
            )
        return read_seg(given.seg, headers, labels)
    geometry = geometry_of(headers)
    if given.nifti is not None:
        return read_nifti(given.nifti, geometry, labels)
    return decode_rle(given.rle, geometry, labels)


def _sop_class(data: bytes) -> str:
    try:
        return str(
            pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPClassUID"]).SOPClassUID
        )
    except Exception:  # not DICOM: read_seg names the problem
        return ""


def _same_names(data: bytes, project: Project) -> dict[str, str]:
    """RTSTRUCT ROIs named like a class of the schema (case and spaces aside) -> that class."""
    classes = {c.name.strip().casefold(): c.name for c in project.label_schema.classes}
    rois = [str(r.ROIName) for r in pydicom.dcmread(io.BytesIO(data)).get("StructureSetROISequence", [])]
    mapping = {roi: classes[roi.strip().casefold()] for roi in rois if roi.strip().casefold() in classes}
    if not mapping:
        raise InvalidArgument(
            f"no ROI of the RTSTRUCT ({', '.join(rois) or 'none'}) is named like a class of the project "
            f"({', '.join(classes.values())}); map them with roi_classes",
            reason="NO_MATCHING_ROI",
        )
    return mapping
