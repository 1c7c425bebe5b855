"""Labels in and out of the platform: class CSVs, box JSON, NIfTI masks (zip), RTSTRUCT contours in; CSV, box JSON and
COCO out.

Pure functions over bytes; saving what is read as a new annotation version (``check_content``) is the caller's.

Conventions:

* CSV rows are numbered as a spreadsheet shows them: the header is row 1, the first label row 2 (a quoted
  value spanning lines is still one row). Blank rows are skipped; columns other than the ones read are
  ignored, so the export of :func:`classes_csv` reads back.
* JSON boxes are numbered from 1 (``box 1`` is ``boxes[0]``), as ``check_content`` numbers them.
* Box corners are voxel coordinates ``(column, row[, slice])`` on voxel edges (see ``work.Box``). Voxel centre
  ``i`` lies at ``origin + D @ (i * spacing)`` (``masks.Geometry``), so a voxel's edges lie at ``i - 0.5`` and
  ``i + 0.5``, and the corner at edge coordinates ``c`` lies at ``origin + D @ ((c - 0.5) * spacing)``. A 2D
  box lies in its image's plane: the slice coordinate of its corners is that image's centre, slice index ``k``.
* COCO pixel coordinates are the same edge coordinates (pixel ``(0, 0)`` spans ``[0, 1) x [0, 1)``).
* RTSTRUCT contours are rasterised by the even-odd rule at voxel centres; a centre exactly on an outline
  belongs to the region only on its low-column / low-row side (the top-left fill rule), so a square whose
  corners are voxel centres ``a`` to ``b`` covers ``b - a`` voxels per axis, and two ROIs sharing an edge do
  not both claim it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from radscholar_core.errors import InvalidArgument
from radscholar_labeling.domain.masks import Geometry, Mask, geometry_of
from radscholar_labeling.domain.projects import LabelSchema
from radscholar_labeling.domain.work import AnnotationContent, Box, Case, ClassLabel

RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
CSV_COLUMNS = (
    "case_id",
    "study_instance_uid",
    "patient_id",
    "site",
    "annotator_id",
    "class",
    "series_instance_uid",
    "sop_instance_uid",
)
_MM_DECIMALS = 6  # nanometres: enough for any scanner, no float noise in the JSON

ExportRow = tuple[Case, str, AnnotationContent]  # (case, annotator id, what the annotator said)


@dataclass(frozen=True)
class ImportedLabel:
    """One case's imported labels, before they are saved as a new annotation version."""

    study_instance_uid: str
    labels: tuple[ClassLabel, ...] = ()
    boxes: tuple[Box, ...] = ()
    masks: tuple[tuple[str, bytes], ...] = ()  # (series UID, NIfTI label map of class positions)


# --- class labels as CSV ---------------------------------------------------------------------------------


def read_classes_csv(data: bytes, schema: LabelSchema) -> list[ImportedLabel]:
    """Class labels from a CSV with a header: ``study_instance_uid`` and ``class`` are required,
    ``series_instance_uid`` and ``sop_instance_uid`` optional. UTF-8 with or without BOM; comma or semicolon.

    Several rows of one study are several labels of that case (whether that is allowed is the schema's, in
    ``check_content``). Cases come in the order of their first row. Problems are INVALID_CSV or UNKNOWN_CLASS,
    the message and ``details["row"]`` naming the row.
    """
    text = _decode_csv(data)
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    if not header_line:
        raise _csv_error(1, "the file is empty; it needs a header with study_instance_uid and class")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(header_line), strict=True)
    records = _records(reader)
    header_row, header = next(records)
    columns = [name.strip().lower() for name in header]
    for required in ("study_instance_uid", "class"):
        if required not in columns:
            raise _csv_error(header_row, f"the header lacks the column '{required}' (it has {', '.join(columns)})")
    position = {name: columns.index(name) for name in columns}  # the first of a repeated name wins
    studies: dict[str, list[ClassLabel]] = {}
    for row, values in records:
        if len(values) != len(columns):
            raise _csv_error(row, f"it has {len(values)} values, the header {len(columns)} columns")
        cells = {name: values[index].strip() for name, index in position.items()}
        for required in ("study_instance_uid", "class"):
            if not cells[required]:
                raise _csv_error(row, f"{required} is empty")
        series = cells.get("series_instance_uid", "")
        sop = cells.get("sop_instance_uid", "")
        if sop and not series:
            raise _csv_error(row, "sop_instance_uid is given but series_instance_uid is empty")
        _class_index(schema, cells["class"], f"row {row}", {"row": str(row)})
        label = ClassLabel(class_name=cells["class"], series_instance_uid=series, sop_instance_uid=sop)
        studies.setdefault(cells["study_instance_uid"], []).append(label)
    return [ImportedLabel(study_instance_uid=uid, labels=tuple(labels)) for uid, labels in studies.items()]


def classes_csv(rows: Sequence[ExportRow]) -> bytes:
    """A UTF-8 CSV (no BOM, CRLF rows) of every class label: one row per label with the columns ``CSV_COLUMNS``.

    An annotation without labels gives no row. :func:`read_classes_csv` reads it back.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case, annotator_id, content in rows:
        for label in content.labels:
            writer.writerow(
                (
                    case.id,
                    case.study_instance_uid,
                    case.patient_id,
                    case.site,
                    annotator_id,
                    label.class_name,
                    label.series_instance_uid,
                    label.sop_instance_uid,
                )
            )
    return buffer.getvalue().encode("utf-8")


def _decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        row = data[: error.start].count(b"\n") + 1  # the line; a multi-line value can make it later than the row
        raise _csv_error(row, f"it is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def _sniff_delimiter(header_line: str) -> str:
    try:
        return csv.Sniffer().sniff(header_line, delimiters=",;").delimiter
    except csv.Error:  # one column: the header check names what is missing
        return ","


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(row number, values) of each non-blank record; a malformed record is INVALID_CSV."""
    row = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _csv_error(row + 1, f"it is not valid CSV ({error})") from None
        row += 1
        if any(value.strip() for value in values):
            yield row, values


def _csv_error(row: int, problem: str) -> InvalidArgument:
    return InvalidArgument(f"row {row}: {problem}", reason="INVALID_CSV", details={"row": str(row)})


def _class_index(schema: LabelSchema, name: str, where: str, details: Mapping[str, str]) -> int:
    """``schema.index_of``, its error saying where the class was found."""
    try:
        return schema.index_of(name)
    except InvalidArgument as error:
        raise InvalidArgument(
            f"{where}: {error.message}", reason=error.reason, details={**error.details, **details}
        ) from error


# --- masks as a zip of NIfTI label maps -----------------------------------------------------------------

MAX_MASK_BYTES = 1 << 30  # a mask's NIfTI, as its zip entry says (a 512 x 512 x 1000 uint16 map is 0.5 GiB)


def read_masks_zip(data: bytes, schema: LabelSchema) -> list[ImportedLabel]:
    """Masks from a zip of NIfTI label maps (each voxel its class position, 0 outside), one per series, named
    ``<study UID>/<series UID>.nii[.gz]`` or ``<study UID>/<series UID>/<any name>.nii[.gz]``, as the "nifti" export
    writes them. Entries are only read, never extracted; other files (a folder's entry, a README) are ignored.
    Problems are INVALID_ZIP, the message and ``details["entry"]`` naming the entry."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InvalidArgument("not a zip file", reason="INVALID_ZIP") from None
    studies: dict[str, list[tuple[str, bytes]]] = {}
    with archive:
        for entry in archive.infolist():
            parts = entry.filename.split("/")
            if entry.is_dir() or not parts[-1].endswith((".nii", ".nii.gz")):
                continue
            if len(parts) == 2:
                study, series = parts[0], parts[1].removesuffix(".gz").removesuffix(".nii")
            elif len(parts) == 3:
                study, series = parts[0], parts[1]
            else:
                raise InvalidArgument(
                    f"{entry.filename}: name a mask <study UID>/<series UID>.nii.gz",
                    reason="INVALID_ZIP",
                    details={"entry": entry.filename},
                )
            if entry.file_size > MAX_MASK_BYTES:
                raise InvalidArgument(
                    f"{entry.filename}: larger than {MAX_MASK_BYTES >> 20} MiB",
                    reason="INVALID_ZIP",
                    details={"entry": entry.filename},
                )
            given = studies.setdefault(study, [])
            if any(uid == series for uid, _ in given):
                raise InvalidArgument(
                    f"{entry.filename}: a second mask of series {series}",
                    reason="INVALID_ZIP",
                    details={"entry": entry.filename},
                )
            given.append((series, archive.read(entry)))
    return [ImportedLabel(study_instance_uid=uid, masks=tuple(masks)) for uid, masks in studies.items()]


# --- boxes as JSON ---------------------------------------------------------------------------------------


def read_boxes_json(data: bytes, schema: LabelSchema) -> list[ImportedLabel]:
    """Boxes from ``{"boxes": [{"study_instance_uid", "series_instance_uid", "sop_instance_uid"?, "class",
    "min", "max"}]}``, the format :func:`boxes_json` writes (its other keys are ignored).

    ``min`` and ``max`` are 2 or 3 numbers each, voxel-edge coordinates; whether they fit the project and the
    series is ``check_content``'s. Cases come in the order of their first box. Problems are INVALID_JSON or
    UNKNOWN_CLASS, the message and ``details["box"]`` naming the box (1-based).
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"not valid JSON: {error}", reason="INVALID_JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("boxes"), list):
        raise InvalidArgument('the JSON must be an object with a list "boxes"', reason="INVALID_JSON")
    studies: dict[str, list[Box]] = {}
    for number, item in enumerate(document["boxes"], start=1):
        study, box = _box_from_json(item, number, schema)
        studies.setdefault(study, []).append(box)
    return [ImportedLabel(study_instance_uid=uid, boxes=tuple(boxes)) for uid, boxes in studies.items()]


def _box_from_json(item: Any, number: int, schema: LabelSchema) -> tuple[str, Box]:
    details = {"box": str(number)}

    def invalid(problem: str) -> InvalidArgument:
        return InvalidArgument(f"box {number}: {problem}", reason="INVALID_JSON", details=details)

    if not isinstance(item, dict):
        raise invalid("it is not an object")
    texts = {}
    for key, required in (
        ("study_instance_uid", True),
        ("series_instance_uid", True),
        ("sop_instance_uid", False),
        ("class", True),
    ):
        value = item.get(key, "")
        if not isinstance(value, str):
            raise invalid(f'"{key}" must be a string')
        if required and not value.strip():
            raise invalid(f'"{key}" is missing or empty')
        texts[key] = value.strip()
    corners = []
    for key in ("min", "max"):
        value = item.get(key)
        if (
            not isinstance(value, list)
            or len(value) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        ):
            raise invalid(f'"{key}" must be a list of 2 or 3 finite numbers')
        corners.append(tuple(float(v) for v in value))
    if len(corners[0]) != len(corners[1]):
        raise invalid('"min" and "max" have different numbers of coordinates')
    _class_index(schema, texts["class"], f"box {number}", details)
    box = Box(
        class_name=texts["class"],
        series_instance_uid=texts["series_instance_uid"],
        sop_instance_uid=texts["sop_instance_uid"],
        min=corners[0],
        max=corners[1],
    )
    return texts["study_instance_uid"], box


def boxes_json(
    rows: Sequence[ExportRow], geometries: Mapping[str, Geometry], *, slices: Mapping[str, int] | None = None
) -> bytes:
    """Every box as UTF-8 JSON in the format :func:`read_boxes_json` reads, each also with ``annotator_id``,
    ``case_id`` and, where its position is known, ``min_mm`` / ``max_mm``.

    ``min_mm`` and ``max_mm`` are where the ``min`` and ``max`` corners lie in the patient (LPS mm), computed
    on ``geometries[series_instance_uid]``; with a non-axial direction they are corners, not a patient-space
    bounding box. A 3D box is placed when its series' geometry is given; a 2D box also needs its image's slice
    index: ``slices[sop_instance_uid]`` (0-based, along the slice normal as ``geometry_of`` sorts), or 0 on a
    single-slice series. Otherwise the mm keys are left out.
    """
    known_slices = slices or {}
    boxes = []
    for case, annotator_id, content in rows:
        for box in content.boxes:
            entry: dict[str, Any] = {
                "case_id": case.id,
                "study_instance_uid": case.study_instance_uid,
                "series_instance_uid": box.series_instance_uid,
                "sop_instance_uid": box.sop_instance_uid,
                "annotator_id": annotator_id,
                "class": box.class_name,
                "min": [float(v) for v in box.min],
                "max": [float(v) for v in box.max],
            }
            geometry = geometries.get(box.series_instance_uid)
            if geometry is not None:
                slice_index = _slice_of(box, geometry, known_slices)
                if len(box.min) == 3 or slice_index is not None:
                    entry["min_mm"] = _corner_mm(box.min, geometry, slice_index)
                    entry["max_mm"] = _corner_mm(box.max, geometry, slice_index)
            boxes.append(entry)
    return json.dumps({"boxes": boxes}, indent=1, ensure_ascii=False).encode("utf-8")


def _corner_to_physical(corner: Sequence[float], geometry: Geometry, slice_index: int | None = None) -> NDArray[Any]:
    """LPS mm of a box corner in voxel-edge coordinates: ``origin + D @ ((corner - 0.5) * spacing)``.

    A 2D corner ``(column, row)`` lies on the plane of slice ``slice_index`` (its voxel centres).
    """
    edges = np.asarray(corner, dtype=np.float64)
    if edges.shape == (2,):
        if slice_index is None:
            raise ValueError("a 2D corner needs the slice index of its image")
        index = np.array([edges[0] - 0.5, edges[1] - 0.5, float(slice_index)])
    elif edges.shape == (3,):
        index = edges - 0.5
    else:
        raise ValueError(f"a corner has 2 or 3 coordinates, not {edges.shape}")
    return geometry.index_to_physical(index)


def _slice_of(box: Box, geometry: Geometry, known: Mapping[str, int]) -> int | None:
    if len(box.min) != 2:
        return None
    if box.sop_instance_uid in known:
        return known[box.sop_instance_uid]
    return 0 if geometry.size[2] == 1 else None


def _corner_mm(corner: Sequence[float], geometry: Geometry, slice_index: int | None) -> list[float]:
    return [round(float(v), _MM_DECIMALS) + 0.0 for v in _corner_to_physical(corner, geometry, slice_index)]


# --- COCO ------------------------------------------------------------------------------------------------


def coco(rows: Sequence[ExportRow], images: Mapping[str, tuple[int, int]], schema: LabelSchema) -> bytes:
    """COCO detection JSON of the 2D boxes (3D boxes have no COCO form and are skipped).

    One image per ``sop_instance_uid`` (a box on a single-image series that names no image is keyed by its
    series UID): ``id`` from 1 in order of first box, ``file_name`` ``"<uid>.dcm"``, ``width`` and ``height``
    from ``images[uid] = (columns, rows)``, which must cover every such image. Categories are the schema's
    classes, ``id`` = 1-based position. Each annotation has ``bbox [x, y, w, h]`` in pixels (edge coordinates,
    as the box), ``area`` ``w * h``, the rectangle as its ``segmentation`` polygon, ``iscrowd`` 0 and
    ``attributes`` ``{"annotator_id", "case_id"}``.
    """
    image_ids: dict[str, int] = {}
    coco_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for case, annotator_id, content in rows:
        for box in content.boxes:
            if len(box.min) != 2:
                continue
            key = box.sop_instance_uid or box.series_instance_uid
            if key not in image_ids:
                if key not in images:
                    raise ValueError(f"the size of image {key} is not given (images[uid] = (columns, rows))")
                columns, image_rows = (int(n) for n in images[key])
                image_ids[key] = len(image_ids) + 1
                coco_images.append(
                    {"id": image_ids[key], "file_name": f"{key}.dcm", "width": columns, "height": image_rows}
                )
            x0, y0 = (float(v) for v in box.min)
            x1, y1 = (float(v) for v in box.max)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_ids[key],
                    "category_id": schema.index_of(box.class_name),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "segmentation": [[x0, y0, x1, y0, x1, y1, x0, y1]],
                    "iscrowd": 0,
                    "attributes": {"annotator_id": annotator_id, "case_id": case.id},
                }
            )
    categories = [
        {"id": position, "name": label.name, "supercategory": ""}
        for position, label in enumerate(schema.classes, start=1)
    ]
    document = {
        "info": {"description": "RadScholar boxes"},
        "images": coco_images,
        "annotations": annotations,
        "categories": categories,
    }
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")


# --- RTSTRUCT --------------------------------------------------------------------------------------------


def read_rtstruct(data: bytes, source: Sequence[Dataset], roi_classes: Mapping[str, str], schema: LabelSchema) -> Mask:
    """The label map ``[z, y, x]`` of an RTSTRUCT's contours on the ``source`` series' grid.

    ROIs named in ``roi_classes`` (ROIName -> class) take their class's 1-based position; other ROIs are
    ignored. Each CLOSED_PLANAR contour goes to the slice nearest its position along the slice normal (within
    half a slice) and is filled by the even-odd rule at voxel centres; the contours of one ROI on one slice
    are XORed, so an inner contour is a hole. Where ROIs overlap the highest label wins (as in ``read_seg``).

    Refused: not an RTSTRUCT, one whose referenced series is not the source series or whose ROIs are in
    another frame of reference, a mapped ROI with a contour that is not CLOSED_PLANAR, malformed or off every
    slice (INVALID_RTSTRUCT); a key of ``roi_classes`` that names no ROI of the file (UNKNOWN_ROI); a class
    not in the schema (UNKNOWN_CLASS).
    """
    geometry = geometry_of(source)
    structure_set = _read_rtstruct(data)
    series_uid = str(source[0].get("SeriesInstanceUID", ""))
    frame_uid = str(source[0].get("FrameOfReferenceUID", ""))
    referenced = _referenced_series(structure_set)
    if series_uid not in referenced:
        raise _invalid_rtstruct(
            f"the RTSTRUCT references series {', '.join(sorted(referenced)) or '(none)'}, not {series_uid}"
        )
    rois = {}  # ROI number -> (name, frame of reference)
    for roi in structure_set.get("StructureSetROISequence", []):
        rois[int(roi.ROINumber)] = (str(roi.get("ROIName", "")), str(roi.get("ReferencedFrameOfReferenceUID", "")))
    names = {name for name, _ in rois.values()}
    missing = sorted(set(roi_classes) - names)
    if missing:
        raise InvalidArgument(
            f"the RTSTRUCT has no ROI {', '.join(repr(n) for n in missing)} "
            f"(its ROIs: {', '.join(repr(n) for n in sorted(names)) or 'none'})",
            reason="UNKNOWN_ROI",
            details={"missing": ", ".join(missing)},
        )
    labels = {name: _class_index(schema, c, f"ROI '{name}'", {"roi": name}) for name, c in roi_classes.items()}
    mask = np.zeros(geometry.shape, dtype=np.uint8)
    for roi_contour in structure_set.get("ROIContourSequence", []):
        number = int(roi_contour.get("ReferencedROINumber", -1))
        name, roi_frame = rois.get(number, ("", ""))
        if name not in labels:
            continue
        if roi_frame and frame_uid and roi_frame != frame_uid:
            raise _invalid_rtstruct(f"ROI '{name}' is in frame of reference {roi_frame}, the series in {frame_uid}")
        filled = _fill_roi(roi_contour.get("ContourSequence", []), name, geometry)
        mask[filled] = np.maximum(mask[filled], labels[name])
    return mask


def _read_rtstruct(data: bytes) -> Dataset:
    try:
        structure_set = pydicom.dcmread(io.BytesIO(data))
    except Exception as error:  # pydicom raises many kinds on bad input
        raise _invalid_rtstruct(f"not a DICOM file: {error}") from None
    sop_class = str(structure_set.get("SOPClassUID", ""))
    if sop_class != RTSTRUCT_STORAGE:
        raise _invalid_rtstruct(f"the file is of SOP class {sop_class or '(none)'}, not RT Structure Set")
    return structure_set


def _referenced_series(structure_set: Dataset) -> set[str]:
    return {
        str(series.get("SeriesInstanceUID", ""))
        for frame in structure_set.get("ReferencedFrameOfReferenceSequence", [])
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    }


def _fill_roi(contours: Sequence[Dataset], name: str, geometry: Geometry) -> NDArray[np.bool_]:
    """The voxels of one ROI: its contours filled, XORed per slice."""
    depth, rows, columns = geometry.shape
    filled = np.zeros(geometry.shape, dtype=bool)
    to_index = np.linalg.inv(geometry.direction_matrix).T  # row vectors: (P - origin) @ to_index / spacing
    for number, contour in enumerate(contours, start=1):
        where = f"ROI '{name}' contour {number}"
        kind = str(contour.get("ContourGeometricType", ""))
        if kind != "CLOSED_PLANAR":
            raise _invalid_rtstruct(f"{where} is {kind or 'untyped'}; only CLOSED_PLANAR contours enclose voxels")
        try:
            points = np.asarray([float(v) for v in contour.get("ContourData", [])], dtype=np.float64)
        except (TypeError, ValueError):
            raise _invalid_rtstruct(f"{where} has non-numeric ContourData") from None
        if points.size % 3 or points.size < 9 or not np.isfinite(points).all():
            raise _invalid_rtstruct(f"{where} needs 3 or more (x, y, z) points, it has {points.size} numbers")
        index = (points.reshape(-1, 3) - np.asarray(geometry.origin)) @ to_index / np.asarray(geometry.spacing)
        slice_index = round(float(index[:, 2].mean()))
        if not 0 <= slice_index < depth or np.abs(index[:, 2] - slice_index).max() > 0.5:
            raise _invalid_rtstruct(
                f"{where} lies at slice position {index[:, 2].min():.2f} to {index[:, 2].max():.2f}, "
                f"not within half a slice of a slice 0 to {depth - 1} (or not on one slice plane)"
            )
        filled[slice_index] ^= _even_odd(index[:, 0], index[:, 1], rows, columns)
    return filled


def _even_odd(x: NDArray[np.float64], y: NDArray[np.float64], rows: int, columns: int) -> NDArray[np.bool_]:
    """Voxel centres (integer column, row) inside the closed polygon ``(x, y)`` by the even-odd rule.

    Scanline per row: a centre is inside when an odd number of edges cross its row to its right. An edge
    crosses row ``r`` when exactly one end is below it (``y > r``), so a centre on the outline counts only on
    its low-column / low-row side.
    """
    inside = np.zeros((rows, columns), dtype=bool)
    x0, y0 = x, y
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    first_row = max(0, math.ceil(float(y.min())))
    last_row = min(rows - 1, math.floor(float(y.max())))
    centres = np.arange(columns, dtype=np.float64)
    for row in range(first_row, last_row + 1):
        crossing = (y0 > row) != (y1 > row)
        if not crossing.any():
            continue
        a, b, c, d = x0[crossing], y0[crossing], x1[crossing], y1[crossing]
        crossings = np.sort(a + (row - b) * (c - a) / (d - b))
        to_the_right = crossings.size - np.searchsorted(crossings, centres, side="right")
        inside[row] = to_the_right % 2 == 1
    return inside


def _invalid_rtstruct(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_RTSTRUCT")
