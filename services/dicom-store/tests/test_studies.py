"""Query filters, sorting and series geometry; bad filters name the problem."""

from datetime import date

import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_dicomstore.domain.studies import (
    STUDY_SORTS,
    SliceGeometry,
    Sort,
    StudyQuery,
    dicom_date,
    parse_dicom_date,
    plane_of,
    slice_spacing,
)


def test_empty_query_matches_everything() -> None:
    assert StudyQuery.parse() == StudyQuery()


def test_filters_are_normalised() -> None:
    query = StudyQuery.parse(
        patient_id=" MRN-1 ",
        modality="ct",
        study_date_from="2024-01-31",
        study_date_to="2024-12-01",
        description_contains=" chest ",
        body_part="chest",
        site=" st-mary ",
    )
    assert query == StudyQuery(
        patient_id="MRN-1",
        modality="CT",
        date_from=date(2024, 1, 31),
        date_to=date(2024, 12, 1),
        description_contains="chest",
        body_part="CHEST",
        site="st-mary",
    )


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"study_date_from": "2024-13-01"}, "INVALID_DATE"),
        ({"study_date_from": "20240101"}, "INVALID_DATE"),
        ({"study_date_from": "2024-02-01", "study_date_to": "2024-01-01"}, "INVALID_DATE_RANGE"),
        ({"modality": "C T"}, "INVALID_MODALITY"),
        ({"patient_id": "MRN*"}, "INVALID_FILTER"),
        ({"description_contains": "a\\b"}, "INVALID_FILTER"),
        ({"description_contains": "100%"}, "INVALID_FILTER"),
    ],
)
def test_bad_filters_are_refused(filters: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        StudyQuery.parse(**filters)
    assert error.value.reason == reason


def test_sorting() -> None:
    assert Sort.parse("", STUDY_SORTS) == Sort("study_date", True)
    assert Sort.parse("patient_id", STUDY_SORTS) == Sort("patient_id", False)
    assert Sort.parse("-size", STUDY_SORTS) == Sort("size", True)
    with pytest.raises(InvalidArgument, match="cannot sort by 'name'") as error:
        Sort.parse("name", STUDY_SORTS)
    assert error.value.reason == "INVALID_SORT"


def test_dicom_dates() -> None:
    assert dicom_date("20240131") == "2024-01-31"
    assert dicom_date("") == ""
    assert dicom_date("2024") == ""
    assert parse_dicom_date("20240131") == date(2024, 1, 31)
    assert parse_dicom_date("20240231") is None


@pytest.mark.parametrize(
    ("orientation", "plane"),
    [
        ([1, 0, 0, 0, 1, 0], "axial"),
        ([1, 0, 0, 0, 0, -1], "coronal"),
        ([0, 1, 0, 0, 0, -1], "sagittal"),
        ([1, 0, 0, 0, 0.7071, 0.7071], "oblique"),
        ([0.9962, 0.0872, 0, -0.0872, 0.9962, 0], "axial"),  # rotated in plane: still axial
        ([], ""),
    ],
)
def test_plane_of_the_slices(orientation: list[float], plane: str) -> None:
    assert plane_of(orientation) == plane


def test_slice_spacing_is_the_median_gap_along_the_normal() -> None:
    positions = [[-100.0, -100.0, z] for z in (10.0, 12.5, 15.0, 17.5, 22.5)]  # one slice missing
    geometry = SliceGeometry([1, 0, 0, 0, 1, 0], positions[::-1], frames=5)
    assert slice_spacing(geometry) == 2.5
    coronal = SliceGeometry([1, 0, 0, 0, 0, -1], [[0.0, y, 0.0] for y in (0.0, 3.0, 6.0)], frames=3)
    assert slice_spacing(coronal) == 3.0
    assert slice_spacing(SliceGeometry([], positions, frames=5)) == 0.0
    assert slice_spacing(SliceGeometry([1, 0, 0, 0, 1, 0], positions[:1], frames=1)) == 0.0
