"""Study queries become DICOM attribute matching; bad filters name the problem."""

from datetime import date

import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_dicomstore.domain.studies import StudyQuery, dicom_date


def test_empty_query_matches_everything() -> None:
    assert StudyQuery.parse().dicom_matching() == {}


def test_filters_become_dicom_matching_keys() -> None:
    query = StudyQuery.parse(
        patient_id=" MRN-1 ",
        modality="ct",
        study_date_from="2024-01-31",
        study_date_to="2024-12-01",
        description_contains="chest",
        institution="St. Example Hospital",
    )
    assert query.date_from == date(2024, 1, 31)
    assert query.dicom_matching() == {
        "PatientID": "MRN-1",
        "ModalitiesInStudy": "CT",
        "StudyDate": "20240131-20241201",
        "StudyDescription": "*chest*",
        "InstitutionName": "St. Example Hospital",
    }


def test_open_date_ranges() -> None:
    assert StudyQuery.parse(study_date_from="2024-05-01").dicom_matching() == {"StudyDate": "20240501-"}
    assert StudyQuery.parse(study_date_to="2024-05-01").dicom_matching() == {"StudyDate": "-20240501"}


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"study_date_from": "2024-13-01"}, "INVALID_DATE"),
        ({"study_date_from": "20240101"}, "INVALID_DATE"),
        ({"study_date_from": "2024-02-01", "study_date_to": "2024-01-01"}, "INVALID_DATE_RANGE"),
        ({"modality": "C T"}, "INVALID_MODALITY"),
        ({"patient_id": "MRN*"}, "INVALID_FILTER"),
        ({"description_contains": "a\\b"}, "INVALID_FILTER"),
    ],
)
def test_bad_filters_are_refused(filters: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        StudyQuery.parse(**filters)
    assert error.value.reason == reason


def test_dicom_dates() -> None:
    assert dicom_date("20240131") == "2024-01-31"
    assert dicom_date("") == ""
    assert dicom_date("2024") == ""
