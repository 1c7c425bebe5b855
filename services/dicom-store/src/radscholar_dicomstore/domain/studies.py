"""Queries over the catalog and the patient/study/series records it answers with."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from radscholar_core.errors import InvalidArgument

MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")

#: Sort keys of each level; "-key" sorts descending. The first is the default (descending).
STUDY_SORTS = ("study_date", "received", "patient_id", "description", "instances", "size")
SERIES_SORTS = ("series_number", "modality", "body_part", "instances", "size", "study_date")
PATIENT_SORTS = ("latest_study_date", "patient_id", "studies")


def _date(name: str, value: str) -> date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date as YYYY-MM-DD, got '{value}'", reason="INVALID_DATE") from None


def dicom_date(value: str) -> str:
    """DICOM DA (YYYYMMDD) as ISO YYYY-MM-DD; "" when absent or malformed."""
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value or "") else ""


def parse_dicom_date(value: str) -> date | None:
    """DICOM DA as a date; None when absent or not a real date."""
    try:
        return date.fromisoformat(dicom_date(value)) if dicom_date(value) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @classmethod
    def parse(cls, text: str, allowed: Sequence[str], *, default_descending: bool = True) -> Sort:
        """'key' or '-key' among `allowed`; empty means the first allowed key."""
        text = text.strip()
        if not text:
            return cls(allowed[0], default_descending)
        key = text.removeprefix("-")
        if key not in allowed:
            raise InvalidArgument(
                f"cannot sort by '{key}'; choose one of {', '.join(allowed)} (prefix '-' for descending)",
                reason="INVALID_SORT",
            )
        return cls(key, text.startswith("-"))


@dataclass(frozen=True)
class StudyQuery:
    """Filters on studies (and the series and patients in them); they combine with AND, empty matches all."""

    patient_id: str = ""
    modality: str = ""
    date_from: date | None = None
    date_to: date | None = None
    description_contains: str = ""
    institution: str = ""
    body_part: str = ""
    site: str = ""
    project_id: str = ""
    study_instance_uid: str = ""

    @classmethod
    def parse(
        cls,
        *,
        patient_id: str = "",
        modality: str = "",
        study_date_from: str = "",
        study_date_to: str = "",
        description_contains: str = "",
        institution: str = "",
        body_part: str = "",
        site: str = "",
        project_id: str = "",
        study_instance_uid: str = "",
    ) -> StudyQuery:
        modality = modality.strip().upper()
        if modality and not MODALITY.match(modality):
            raise InvalidArgument(f"modality '{modality}' is not a DICOM modality code", reason="INVALID_MODALITY")
        query = cls(
            patient_id=patient_id.strip(),
            modality=modality,
            date_from=_date("study_date_from", study_date_from),
            date_to=_date("study_date_to", study_date_to),
            description_contains=description_contains.strip(),
            institution=institution.strip(),
            body_part=body_part.strip().upper(),
            site=site.strip(),
            project_id=project_id.strip(),
            study_instance_uid=study_instance_uid.strip(),
        )
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise InvalidArgument("study_date_from is after study_date_to", reason="INVALID_DATE_RANGE")
        for name, text in (
            ("patient_id", query.patient_id),
            ("description_contains", query.description_contains),
            ("institution", query.institution),
            ("body_part", query.body_part),
        ):
            if any(c in text for c in "*?\\%"):
                raise InvalidArgument(f"{name} must not contain wildcards or backslashes", reason="INVALID_FILTER")
        return query


@dataclass(frozen=True)
class SeriesSummary:
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    description: str
    series_number: int
    body_part: str
    instance_count: int
    size_bytes: int = 0
    rows: int = 0
    columns: int = 0
    slices: int = 0
    spacing: list[float] = field(default_factory=list)  # column, row, slice spacing in mm
    orientation: list[float] = field(default_factory=list)  # ImageOrientationPatient
    plane: str = ""  # axial, coronal, sagittal, oblique; "" when unknown


@dataclass(frozen=True)
class StudySummary:
    study_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    description: str
    accession_number: str
    institution: str
    modalities: list[str] = field(default_factory=list)
    series_count: int = 0
    instance_count: int = 0
    site: str = ""
    project_ids: list[str] = field(default_factory=list)
    size_bytes: int = 0
    body_parts: list[str] = field(default_factory=list)
    received_at: str = ""  # ISO 8601, UTC


@dataclass(frozen=True)
class PatientSummary:
    patient_id: str
    patient_name: str
    study_count: int
    series_count: int
    instance_count: int
    latest_study_date: str
    sites: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatisticsGroup:
    """Counts and storage of one modality, site or month."""

    key: str
    studies: int
    series: int
    instances: int
    size_bytes: int


@dataclass(frozen=True)
class StoreStatistics:
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int
    by_modality: list[StatisticsGroup] = field(default_factory=list)
    by_site: list[StatisticsGroup] = field(default_factory=list)
    by_month: list[StatisticsGroup] = field(default_factory=list)  # month of the study date, YYYY-MM


@dataclass(frozen=True)
class SliceGeometry:
    """What a series' instances say about their place in the patient (from Orthanc's main tags)."""

    orientation: list[float]  # ImageOrientationPatient of the first instance, or []
    positions: list[list[float]]  # ImagePositionPatient of each instance that has one
    frames: int  # frames over all instances


def _normal(orientation: Sequence[float]) -> tuple[float, float, float] | None:
    """The slice normal (row x column direction cosines); None without a usable orientation."""
    if len(orientation) != 6:
        return None
    row, column = orientation[:3], orientation[3:]
    normal = (
        row[1] * column[2] - row[2] * column[1],
        row[2] * column[0] - row[0] * column[2],
        row[0] * column[1] - row[1] * column[0],
    )
    return normal if math.hypot(*normal) > 1e-6 else None


def plane_of(orientation: Sequence[float]) -> str:
    """axial, coronal or sagittal when the slice normal is within 10 degrees of a patient axis, else oblique."""
    normal = _normal(orientation)
    if normal is None:
        return ""
    axis = max(range(3), key=lambda i: abs(normal[i]))
    if abs(normal[axis]) / math.hypot(*normal) < math.cos(math.radians(10)):
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def slice_spacing(geometry: SliceGeometry) -> float:
    """Median distance between neighbouring slice positions along the normal; 0 when it cannot be told."""
    normal = _normal(geometry.orientation)
    if normal is None or len(geometry.positions) < 2:
        return 0.0
    along = sorted(sum(p[i] * normal[i] for i in range(3)) for p in geometry.positions if len(p) == 3)
    gaps = sorted(b - a for a, b in itertools.pairwise(along) if b - a > 1e-4)
    return round(gaps[len(gaps) // 2], 4) if gaps else 0.0


@dataclass(frozen=True)
class StudyRecord:
    """A study as Orthanc describes it, for the catalog."""

    study_instance_uid: str
    orthanc_id: str
    patient_id: str
    patient_name: str
    study_date: date | None
    description: str
    accession_number: str
    institution: str


@dataclass(frozen=True)
class SeriesRecord:
    """A series as Orthanc describes it, with its study and who sent its first instance."""

    orthanc_id: str
    study: StudyRecord
    summary: SeriesSummary
    calling_ae: str  # RemoteAET of a C-STORE; "" for anything else
