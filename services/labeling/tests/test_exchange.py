"""Label import and export: class CSV, box JSON, COCO and RTSTRUCT contours on a phantom CT series."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
import pytest
from numpy.typing import NDArray
from pycocotools.coco import COCO
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

import radscholar_phantoms
from radscholar_core.errors import InvalidArgument
from radscholar_core.testing import zipped
from radscholar_labeling.domain.exchange import (
    CSV_COLUMNS,
    RTSTRUCT_STORAGE,
    ImportedLabel,
    boxes_json,
    classes_csv,
    coco,
    read_boxes_json,
    read_classes_csv,
    read_masks_zip,
    read_rtstruct,
)
from radscholar_labeling.domain.masks import Geometry, geometry_of
from radscholar_labeling.domain.projects import LabelClass, LabelLevel, LabelSchema
from radscholar_labeling.domain.work import AnnotationContent, Box, Case, CaseSeries, ClassLabel

SCHEMA = LabelSchema(
    classes=(
        LabelClass("tumour", "#ff0000"),
        LabelClass("lesion, upper", "#00ff00"),  # a comma in a name: quoted in CSV
        LabelClass("normal", "#0000ff"),
    ),
    level=LabelLevel.IMAGE,
    multi_label=True,
)
TUMOUR, LESION, NORMAL = 1, 2, 3


def case(number: int, *, patient_id: str = "", site: str = "site-a") -> Case:
    return Case(
        study_instance_uid=f"1.2.826.0.1.{number}",
        patient_id=patient_id or f"P{number:03}",
        site=site,
        study_date="2024-01-02",
        description="",
        series=(CaseSeries(f"1.2.826.0.1.{number}.1", "CT", rows=32, columns=40, slices=12),),
        id=f"case-{number}",
        project_id="project-1",
    )


def problem(error: pytest.ExceptionInfo[InvalidArgument]) -> tuple[str, str]:
    return error.value.reason, error.value.message


# --- class CSV -------------------------------------------------------------------------------------------


def test_classes_csv_reads_back() -> None:
    first, second = case(1, patient_id="Müller^Jörg", site="Zürich"), case(2)
    series = first.series[0].series_instance_uid
    rows = [
        (
            first,
            "alice",
            AnnotationContent(
                labels=(
                    ClassLabel("tumour", series, "1.2.826.0.1.1.1.7"),
                    ClassLabel("lesion, upper", series, "1.2.826.0.1.1.1.8"),
                )
            ),
        ),
        (second, "bob", AnnotationContent(labels=(ClassLabel("normal"),))),
        (case(3), "bob", AnnotationContent()),  # no labels, no row
    ]

    exported = classes_csv(rows)

    lines = exported.decode("utf-8").split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[1] == "case-1,1.2.826.0.1.1,Müller^Jörg,Zürich,alice,tumour,1.2.826.0.1.1.1,1.2.826.0.1.1.1.7"
    assert lines[2].split(",")[5:7] == ['"lesion', ' upper"']
    assert lines[3] == "case-2,1.2.826.0.1.2,P002,site-a,bob,normal,,"
    assert lines[4:] == [""]
    assert read_classes_csv(exported, SCHEMA) == [
        ImportedLabel(first.study_instance_uid, labels=rows[0][2].labels),
        ImportedLabel(second.study_instance_uid, labels=rows[1][2].labels),
    ]


def test_classes_csv_with_semicolons_and_a_bom() -> None:
    data = (
        "\ufeffstudy_instance_uid;Class;series_instance_uid\r\n"
        "1.2.3;tumour;1.2.3.4\r\n"
        "\r\n"
        "1.2.3;lesion, upper;\r\n"
        " 1.2.4 ; normal ;\r\n"
    ).encode()

    assert read_classes_csv(data, SCHEMA) == [
        ImportedLabel("1.2.3", labels=(ClassLabel("tumour", "1.2.3.4"), ClassLabel("lesion, upper"))),
        ImportedLabel("1.2.4", labels=(ClassLabel("normal"),)),
    ]


@pytest.mark.parametrize(
    ("data", "reason", "row", "fragment"),
    [
        (b"", "INVALID_CSV", 1, "empty"),
        (b"study_instance_uid,label\n1.2,tumour\n", "INVALID_CSV", 1, "'class'"),
        (b"class\ntumour\n", "INVALID_CSV", 1, "'study_instance_uid'"),
        (b"study_instance_uid,class\n1.2,tumour\n,normal\n", "INVALID_CSV", 3, "study_instance_uid is empty"),
        (b"study_instance_uid,class\n1.2,\n", "INVALID_CSV", 2, "class is empty"),
        (b"study_instance_uid,class\n\n1.2,  \n", "INVALID_CSV", 3, "class is empty"),  # blank rows count
        (b"study_instance_uid,class\n1.2,tumour,x\n", "INVALID_CSV", 2, "3 values"),
        (b'study_instance_uid,class\n1.2,"tum"our\n', "INVALID_CSV", 2, "not valid CSV"),
        (b"study_instance_uid,class\n1.2,tumour\n1.3,l\xe9sion\n", "INVALID_CSV", 3, "not UTF-8"),
        (
            b"study_instance_uid,class,sop_instance_uid\n1.2,tumour,1.2.3\n",
            "INVALID_CSV",
            2,
            "series_instance_uid is empty",
        ),
        (b"study_instance_uid,class\n1.2,tumour\n1.3,cat\n", "UNKNOWN_CLASS", 3, "class 'cat' is not in"),
        (b"study_instance_uid;class\n1.2;tumour\n1.3;Tumour\n", "UNKNOWN_CLASS", 3, "'Tumour'"),
    ],
)
def test_classes_csv_problems_name_their_row(data: bytes, reason: str, row: int, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        read_classes_csv(data, SCHEMA)

    found, message = problem(error)
    assert found == reason
    assert message.startswith(f"row {row}: ")
    assert fragment in message
    assert error.value.details["row"] == str(row)


# --- box JSON --------------------------------------------------------------------------------------------

# Non-identity direction (i along +y, j along -x, k along +z) and anisotropic spacing.
ROTATED = Geometry(
    size=(40, 32, 12),
    spacing=(0.5, 0.8, 2.5),
    origin=(10.0, -20.0, 30.0),
    direction=(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0),
)
RADIOGRAPH = Geometry(
    size=(40, 32, 1), spacing=(0.2, 0.2, 1.0), origin=(0.0, 0.0, 0.0), direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)
)


def box_rows() -> list[tuple[Case, str, AnnotationContent]]:
    first, second = case(1), case(2)
    series = first.series[0].series_instance_uid
    return [
        (
            first,
            "alice",
            AnnotationContent(
                boxes=(
                    Box("tumour", series, "", (2.0, 4.0, 1.0), (6.0, 10.0, 3.0)),
                    Box("normal", series, "img-5", (2.0, 4.0), (6.0, 10.0)),
                    Box("normal", series, "img-unknown", (1.0, 1.0), (2.5, 3.5)),
                )
            ),
        ),
        (second, "bob", AnnotationContent(boxes=(Box("lesion, upper", "radiograph", "", (3.0, 4.0), (13.0, 9.0)),))),
        (case(3), "carol", AnnotationContent(boxes=(Box("tumour", "no-geometry", "", (0, 0, 0), (1, 1, 1)),))),
    ]


def test_boxes_json_reads_back() -> None:
    rows = box_rows()

    exported = boxes_json(rows, {"1.2.826.0.1.1.1": ROTATED, "radiograph": RADIOGRAPH}, slices={"img-5": 5})

    assert read_boxes_json(exported, SCHEMA) == [
        ImportedLabel(c.study_instance_uid, boxes=content.boxes) for c, _, content in rows
    ]
    entries = json.loads(exported)["boxes"]
    assert [(e["case_id"], e["annotator_id"]) for e in entries] == [
        ("case-1", "alice"),
        ("case-1", "alice"),
        ("case-1", "alice"),
        ("case-2", "bob"),
        ("case-3", "carol"),
    ]


def test_boxes_json_places_corners_in_the_patient() -> None:
    exported = boxes_json(box_rows(), {"1.2.826.0.1.1.1": ROTATED, "radiograph": RADIOGRAPH}, slices={"img-5": 5})
    box_3d, box_2d, unplaced, radiograph, no_geometry = json.loads(exported)["boxes"]

    # By hand, origin + D @ ((c - 0.5) * spacing), D's columns (0, 1, 0), (-1, 0, 0), (0, 0, 1):
    # min (2, 4, 1) -> index (1.5, 3.5, 0.5) -> scaled (0.75, 2.8, 1.25) -> (-2.8, 0.75, 1.25) + origin.
    assert box_3d["min_mm"] == pytest.approx([7.2, -19.25, 31.25])
    # max (6, 10, 3) -> (5.5, 9.5, 2.5) -> (2.75, 7.6, 6.25) -> (-7.6, 2.75, 6.25) + origin.
    assert box_3d["max_mm"] == pytest.approx([2.4, -17.25, 36.25])
    # A 2D box on slice 5 lies in that slice's plane (voxel centres, k = 5, not an edge): z = 30 + 5 * 2.5.
    assert box_2d["min_mm"] == pytest.approx([7.2, -19.25, 42.5])
    assert box_2d["max_mm"] == pytest.approx([2.4, -17.25, 42.5])
    assert "min_mm" not in unplaced and "max_mm" not in unplaced  # its slice is not known
    # A single-slice series: slice 0. min (3, 4) -> (2.5, 3.5) * 0.2.
    assert radiograph["min_mm"] == pytest.approx([0.5, 0.7, 0.0])
    assert radiograph["max_mm"] == pytest.approx([2.5, 1.7, 0.0])
    assert "min_mm" not in no_geometry


def test_a_voxel_box_is_centred_on_the_voxel_centre() -> None:
    rows = [(case(1), "alice", AnnotationContent(boxes=(Box("tumour", "s", "", (4, 7, 2), (5, 8, 3)),)))]

    (entry,) = json.loads(boxes_json(rows, {"s": ROTATED}))["boxes"]

    centre = (np.asarray(entry["min_mm"]) + np.asarray(entry["max_mm"])) / 2
    assert centre == pytest.approx(ROTATED.index_to_physical([4, 7, 2]))  # voxel centre i at origin + D @ (i * s)
    assert np.abs(np.asarray(entry["max_mm"]) - entry["min_mm"]) == pytest.approx([0.8, 0.5, 2.5])


def box_document(*boxes: object) -> bytes:
    return json.dumps({"boxes": list(boxes)}).encode()


GOOD_BOX = {
    "study_instance_uid": "1.2",
    "series_instance_uid": "1.2.1",
    "class": "tumour",
    "min": [0, 0],
    "max": [1, 1],
}


@pytest.mark.parametrize(
    ("data", "reason", "fragment"),
    [
        (b"{", "INVALID_JSON", "not valid JSON"),
        (b"\xff\xfe{", "INVALID_JSON", "not valid JSON"),
        (b'{"box": []}', "INVALID_JSON", '"boxes"'),
        (b"[]", "INVALID_JSON", '"boxes"'),
        (box_document(GOOD_BOX, 7), "INVALID_JSON", "box 2: it is not an object"),
        (box_document(GOOD_BOX, {**GOOD_BOX, "class": ""}), "INVALID_JSON", 'box 2: "class" is missing'),
        (box_document(GOOD_BOX, {**GOOD_BOX, "series_instance_uid": None}), "INVALID_JSON", "box 2: "),
        (box_document(GOOD_BOX, {**GOOD_BOX, "min": [0, 0, 0, 0]}), "INVALID_JSON", 'box 2: "min"'),
        (box_document(GOOD_BOX, {**GOOD_BOX, "max": [1, True]}), "INVALID_JSON", 'box 2: "max"'),
        (box_document(GOOD_BOX, {**GOOD_BOX, "max": [1, 1, 1]}), "INVALID_JSON", "box 2: "),
        (box_document(GOOD_BOX, {**GOOD_BOX, "class": "cat"}), "UNKNOWN_CLASS", "box 2: class 'cat' is not in"),
    ],
)
def test_boxes_json_problems_name_their_box(data: bytes, reason: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        read_boxes_json(data, SCHEMA)

    found, message = problem(error)
    assert found == reason
    assert fragment in message
    if message.startswith("box "):
        assert error.value.details["box"] == "2"


def test_boxes_json_reads_a_minimal_document_with_a_bom() -> None:
    data = b"\xef\xbb\xbf" + box_document(GOOD_BOX)

    assert read_boxes_json(data, SCHEMA) == [ImportedLabel("1.2", boxes=(Box("tumour", "1.2.1", "", (0, 0), (1, 1)),))]


# --- COCO ------------------------------------------------------------------------------------------------


def test_coco_loads_in_pycocotools(tmp_path: Path) -> None:
    first, second = case(1), case(2)
    series = first.series[0].series_instance_uid
    rows = [
        (
            first,
            "alice",
            AnnotationContent(
                boxes=(
                    Box("tumour", series, "sop-a", (3, 4), (13, 9)),
                    Box("normal", series, "sop-b", (0, 0), (40, 32)),
                    Box("tumour", series, "", (1, 1, 1), (2, 2, 2)),  # 3D: not COCO, skipped
                )
            ),
        ),
        (first, "bob", AnnotationContent(boxes=(Box("lesion, upper", series, "sop-a", (20, 10), (25, 30)),))),
        (second, "bob", AnnotationContent(boxes=(Box("tumour", "radiograph", "", (2.5, 3.5), (4.5, 5.5)),))),
    ]
    path = tmp_path / "coco.json"
    path.write_bytes(coco(rows, {"sop-a": (40, 32), "sop-b": (40, 32), "radiograph": (64, 48)}, SCHEMA))

    dataset = COCO(str(path))

    assert {c["id"]: c["name"] for c in dataset.loadCats(dataset.getCatIds())} == {
        1: "tumour",
        2: "lesion, upper",
        3: "normal",
    }
    images = {i["file_name"]: i for i in dataset.loadImgs(dataset.getImgIds())}
    assert sorted(images) == ["radiograph.dcm", "sop-a.dcm", "sop-b.dcm"]
    assert (images["radiograph.dcm"]["width"], images["radiograph.dcm"]["height"]) == (64, 48)
    on_a = dataset.loadAnns(dataset.getAnnIds(imgIds=[images["sop-a.dcm"]["id"]]))
    assert [(a["category_id"], a["bbox"], a["attributes"]) for a in on_a] == [
        (TUMOUR, [3, 4, 10, 5], {"annotator_id": "alice", "case_id": "case-1"}),
        (LESION, [20, 10, 5, 20], {"annotator_id": "bob", "case_id": "case-1"}),
    ]
    assert len(dataset.getAnnIds()) == 4  # the 3D box is skipped
    for annotation in dataset.loadAnns(dataset.getAnnIds()):
        x, y, w, h = annotation["bbox"]
        assert annotation["iscrowd"] == 0
        assert annotation["area"] == pytest.approx(w * h)
        pixels = dataset.annToMask(annotation)
        image = dataset.loadImgs(annotation["image_id"])[0]
        assert pixels.shape == (image["height"], image["width"])
        if all(float(v).is_integer() for v in (x, y, w, h)):
            assert pixels.sum() == w * h
            assert pixels[int(y) : int(y + h), int(x) : int(x + w)].all()  # the very pixels of the box
    assert dataset.loadAnns(dataset.getAnnIds(catIds=[NORMAL]))[0]["bbox"] == [0, 0, 40, 32]


def test_coco_needs_every_image_size() -> None:
    rows = [(case(1), "alice", AnnotationContent(boxes=(Box("tumour", "s", "sop-a", (0, 0), (1, 1)),)))]

    with pytest.raises(ValueError, match="sop-a"):
        coco(rows, {}, SCHEMA)


# --- RTSTRUCT --------------------------------------------------------------------------------------------

SHAPE = (12, 32, 40)  # z, y, x


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> list[Dataset]:
    out = tmp_path_factory.mktemp("ct") / "out"
    radscholar_phantoms.generate("ct", 1, 1, 11, out, shape=SHAPE)
    return [pydicom.dcmread(path) for path in sorted(out.rglob("*.dcm"))]


Contour = tuple[str, NDArray[np.float64]]  # (ContourGeometricType, points (n, 3) in LPS mm)


def item(**elements: object) -> Dataset:
    """A sequence item with these elements (``Dataset(**kwargs)`` does not set elements)."""
    dataset = Dataset()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    return dataset


def on_slice(geometry: Geometry, columns_rows: Sequence[tuple[float, float]], k: float) -> Contour:
    """A CLOSED_PLANAR contour through continuous (column, row) indices on slice position ``k``."""
    index = np.array([(c, r, k) for c, r in columns_rows], dtype=np.float64)
    return "CLOSED_PLANAR", geometry.index_to_physical(index)


def square(geometry: Geometry, low: tuple[float, float], high: tuple[float, float], k: float) -> Contour:
    (c0, r0), (c1, r1) = low, high
    return on_slice(geometry, [(c0, r0), (c1, r0), (c1, r1), (c0, r1)], k)


def rtstruct(
    source: Sequence[Dataset],
    rois: Sequence[tuple[str, Sequence[Contour]]],
    *,
    series_uid: str = "",
    frame_uid: str = "",
    sop_class: str = RTSTRUCT_STORAGE,
) -> bytes:
    """A minimal RT Structure Set over ``source``, one ROI per entry numbered from 1."""
    first = source[0]
    frame_uid = frame_uid or first.FrameOfReferenceUID
    rtstruct = Dataset()
    rtstruct.file_meta = FileMetaDataset()
    rtstruct.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    rtstruct.SOPInstanceUID = rtstruct.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    rtstruct.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    rtstruct.SOPClassUID = sop_class
    rtstruct.Modality = "RTSTRUCT"
    rtstruct.PatientID = first.PatientID
    rtstruct.StudyInstanceUID = first.StudyInstanceUID
    rtstruct.SeriesInstanceUID = generate_uid()
    rtstruct.StructureSetLabel = "test"
    images = [item(ReferencedSOPClassUID=ds.SOPClassUID, ReferencedSOPInstanceUID=ds.SOPInstanceUID) for ds in source]
    series = item(SeriesInstanceUID=series_uid or first.SeriesInstanceUID, ContourImageSequence=images)
    study = item(
        ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
        ReferencedSOPInstanceUID=first.StudyInstanceUID,
        RTReferencedSeriesSequence=[series],
    )
    rtstruct.ReferencedFrameOfReferenceSequence = [
        item(FrameOfReferenceUID=frame_uid, RTReferencedStudySequence=[study])
    ]
    rtstruct.StructureSetROISequence = [
        item(ROINumber=number, ReferencedFrameOfReferenceUID=frame_uid, ROIName=name, ROIGenerationAlgorithm="")
        for number, (name, _) in enumerate(rois, start=1)
    ]
    rtstruct.ROIContourSequence = [
        item(
            ReferencedROINumber=number,
            ROIDisplayColor=[255, 0, 0],
            ContourSequence=[
                item(
                    ContourGeometricType=kind,
                    NumberOfContourPoints=len(points),
                    ContourData=[f"{v:.4f}" for v in points.ravel()],
                )
                for kind, points in contours
            ],
        )
        for number, (_, contours) in enumerate(rois, start=1)
    ]
    buffer = io.BytesIO()
    rtstruct.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


DISC_CENTRE = (27.3, 15.6)  # (column, row): off the grid, so no voxel centre lies on the outline
DISC_RADIUS = 15.0  # mm; the pixels are 2.24 x 2.8 mm, so the disc is an ellipse in index space


def disc(geometry: Geometry, k: int, vertices: int = 90) -> Contour:
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    columns = DISC_CENTRE[0] + DISC_RADIUS * np.cos(angles) / geometry.spacing[0]
    rows = DISC_CENTRE[1] + DISC_RADIUS * np.sin(angles) / geometry.spacing[1]
    return on_slice(geometry, list(zip(columns, rows, strict=True)), k)


def structure_set(source: Sequence[Dataset]) -> list[tuple[str, Sequence[Contour]]]:
    geometry = geometry_of(source)
    return [
        ("Body", [square(geometry, (-0.5, -0.5), (39.5, 31.5), k) for k in range(12)]),  # not mapped: ignored
        # Corners on voxel edges: columns 5..14 and rows 6..13 exactly, on slices 2 and 3.
        ("GTV", [square(geometry, (4.5, 5.5), (14.5, 13.5), k) for k in (2, 3)]),
        ("Lesion", [disc(geometry, 6), disc(geometry, 7)]),
        # A 10 x 10 square with a 4 x 4 hole on slice 9 (the slice position a little off: 9.3).
        ("Ring", [square(geometry, (4.5, 4.5), (14.5, 14.5), 9.3), square(geometry, (7.5, 7.5), (11.5, 11.5), 9.3)]),
    ]


MAPPING = {"GTV": "tumour", "Lesion": "lesion, upper", "Ring": "normal"}


def test_rtstruct_contours_fill_the_series_grid(source: list[Dataset]) -> None:
    geometry = geometry_of(source)
    assert geometry.shape == SHAPE

    mask = read_rtstruct(rtstruct(source, structure_set(source)), source, MAPPING, SCHEMA)

    assert mask.shape == SHAPE and mask.dtype == np.uint8
    expected_square = np.zeros(SHAPE, dtype=bool)
    expected_square[2:4, 6:14, 5:15] = True
    assert np.array_equal(mask == TUMOUR, expected_square)
    expected_area = math.pi * DISC_RADIUS**2 / (geometry.spacing[0] * geometry.spacing[1])  # in voxels
    for k in (6, 7):
        disc_voxels = int((mask[k] == LESION).sum())
        assert abs(disc_voxels - expected_area) <= 4, (disc_voxels, expected_area)
        assert mask[k, 16, 27] == LESION
    assert set(np.flatnonzero((mask == LESION).any(axis=(1, 2)))) == {6, 7}
    expected_ring = np.zeros(SHAPE, dtype=bool)
    expected_ring[9, 5:15, 5:15] = True
    expected_ring[9, 8:12, 8:12] = False  # the hole
    assert np.array_equal(mask == NORMAL, expected_ring)
    assert int(expected_ring.sum()) == 100 - 16
    assert not mask[0].any()  # "Body" is not mapped


def test_rtstruct_does_not_depend_on_the_order_of_the_source(source: list[Dataset]) -> None:
    data = rtstruct(source, structure_set(source))

    assert np.array_equal(
        read_rtstruct(data, source[::-1], MAPPING, SCHEMA), read_rtstruct(data, source, MAPPING, SCHEMA)
    )


def test_rtstruct_overlapping_rois_take_the_highest_label(source: list[Dataset]) -> None:
    geometry = geometry_of(source)
    rois = [
        ("A", [square(geometry, (4.5, 4.5), (9.5, 9.5), 1)]),
        ("B", [square(geometry, (6.5, 6.5), (11.5, 11.5), 1)]),
    ]

    mask = read_rtstruct(rtstruct(source, rois), source, {"A": "normal", "B": "tumour"}, SCHEMA)

    assert mask[1, 7, 7] == NORMAL  # in both
    assert mask[1, 5, 5] == NORMAL and mask[1, 10, 10] == TUMOUR
    assert int((mask > 0).sum()) == 25 + 25 - 9


@pytest.mark.parametrize(
    ("change", "reason", "fragment"),
    [
        ({"series_uid": "1.2.826.0.1.999"}, "INVALID_RTSTRUCT", "references series 1.2.826.0.1.999"),
        ({"frame_uid": "1.2.826.0.1.998"}, "INVALID_RTSTRUCT", "frame of reference 1.2.826.0.1.998"),
        ({"sop_class": "1.2.840.10008.5.1.4.1.1.2"}, "INVALID_RTSTRUCT", "not RT Structure Set"),
    ],
)
def test_rtstruct_for_another_series_is_refused(
    source: list[Dataset], change: dict[str, str], reason: str, fragment: str
) -> None:
    data = rtstruct(source, structure_set(source), **change)

    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(data, source, MAPPING, SCHEMA)

    assert problem(error)[0] == reason
    assert fragment in problem(error)[1]


def test_rtstruct_that_is_not_dicom_is_refused(source: list[Dataset]) -> None:
    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(b"not a DICOM file", source, MAPPING, SCHEMA)

    assert problem(error)[0] == "INVALID_RTSTRUCT"


def test_rtstruct_mapping_must_name_rois_of_the_file(source: list[Dataset]) -> None:
    data = rtstruct(source, structure_set(source))

    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(data, source, {**MAPPING, "Liver": "normal"}, SCHEMA)

    reason, message = problem(error)
    assert reason == "UNKNOWN_ROI"
    assert "'Liver'" in message and "'GTV'" in message
    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(data, source, {"GTV": "cat"}, SCHEMA)
    reason, message = problem(error)
    assert reason == "UNKNOWN_CLASS"
    assert message.startswith("ROI 'GTV': class 'cat'")


@pytest.mark.parametrize("k", [-0.6, 11.6, 40.0])
def test_rtstruct_contour_off_every_slice_is_refused(source: list[Dataset], k: float) -> None:
    geometry = geometry_of(source)
    rois = [("GTV", [square(geometry, (4.5, 5.5), (14.5, 13.5), 2), square(geometry, (1, 1), (3, 3), k)])]

    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(rtstruct(source, rois), source, {"GTV": "tumour"}, SCHEMA)

    reason, message = problem(error)
    assert reason == "INVALID_RTSTRUCT"
    assert "ROI 'GTV' contour 2" in message


def test_rtstruct_contour_within_half_a_slice_lands_on_it(source: list[Dataset]) -> None:
    geometry = geometry_of(source)
    rois = [("GTV", [square(geometry, (0.5, 0.5), (2.5, 2.5), -0.4), square(geometry, (0.5, 0.5), (2.5, 2.5), 11.4)])]

    mask = read_rtstruct(rtstruct(source, rois), source, {"GTV": "tumour"}, SCHEMA)

    assert np.flatnonzero(mask.any(axis=(1, 2))).tolist() == [0, 11]


def test_rtstruct_mapped_roi_needs_closed_planar_contours(source: list[Dataset]) -> None:
    geometry = geometry_of(source)
    _, points = square(geometry, (1, 1), (3, 3), 2)
    rois = [("GTV", [("POINT", points[:1])]), ("Marker", [("POINT", points[:1])])]
    data = rtstruct(source, rois)

    assert not read_rtstruct(data, source, {}, SCHEMA).any()  # unmapped ROIs are not read
    with pytest.raises(InvalidArgument) as error:
        read_rtstruct(data, source, {"GTV": "tumour"}, SCHEMA)
    assert problem(error) == (
        "INVALID_RTSTRUCT",
        "ROI 'GTV' contour 1 is POINT; only CLOSED_PLANAR contours enclose voxels",
    )


def test_masks_are_read_from_a_zip_of_nifti_named_by_study_and_series_as_the_export_names_them() -> None:
    found = read_masks_zip(
        zipped(
            {
                "1.2.3/1.2.3.4.nii.gz": b"first",
                "1.2.3/1.2.3.5/rita.nii.gz": b"second",  # the export's layout: <study>/<series>/<annotator>
                "9.8/9.8.7.nii": b"third",
                "README.txt": b"ignored",
            }
        ),
        SCHEMA,
    )
    assert found == [
        ImportedLabel("1.2.3", masks=(("1.2.3.4", b"first"), ("1.2.3.5", b"second"))),
        ImportedLabel("9.8", masks=(("9.8.7", b"third"),)),
    ]
    for data, entry in (
        (zipped({"a/b/c/d.nii.gz": b"x"}), "a/b/c/d.nii.gz"),
        (zipped({"s/1.nii.gz": b"x", "s/1/other.nii.gz": b"y"}), "s/1/other.nii.gz"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            read_masks_zip(data, SCHEMA)
        assert refused.value.reason == "INVALID_ZIP" and refused.value.details["entry"] == entry
    with pytest.raises(InvalidArgument) as not_zip:
        read_masks_zip(b"not a zip", SCHEMA)
    assert not_zip.value.reason == "INVALID_ZIP"
