"""Study queries and the study/series records the store answers with."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from radscholar_core.errors import InvalidArgument

MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")


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


@dataclass(frozen=True)
class StudyQuery:
    """Filters on studies; they combine with AND and an empty one matches everything."""

    patient_id: str = ""
    modality: str = ""
    date_from: date | None = None
    date_to: date | None = None
    description_contains: str = ""
    institution: str = ""

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
        )
        if query.date_from and query.date_to and query.date_from > query.date_to:
            raise InvalidArgument("study_date_from is after study_date_to", reason="INVALID_DATE_RANGE")
        for name, text in (
            ("patient_id", query.patient_id),
            ("description_contains", query.description_contains),
            ("institution", query.institution),
        ):
            if any(c in text for c in "*?\\"):
                raise InvalidArgument(f"{name} must not contain wildcards or backslashes", reason="INVALID_FILTER")
        return query

    def dicom_matching(self) -> dict[str, str]:
        """The query as DICOM attribute matching (PS3.4 C.2.2.2): single value, wildcard, range."""
        keys: dict[str, str] = {}
        if self.patient_id:
            keys["PatientID"] = self.patient_id
        if self.modality:
            keys["ModalitiesInStudy"] = self.modality
        if self.date_from or self.date_to:
            low = self.date_from.strftime("%Y%m%d") if self.date_from else ""
            high = self.date_to.strftime("%Y%m%d") if self.date_to else ""
            keys["StudyDate"] = f"{low}-{high}"
        if self.description_contains:
            keys["StudyDescription"] = f"*{self.description_contains}*"
        if self.institution:
            keys["InstitutionName"] = self.institution
        return keys


@dataclass(frozen=True)
class SeriesSummary:
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    description: str
    series_number: int
    body_part: str
    instance_count: int


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


@dataclass(frozen=True)
class StoreStatistics:
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int
