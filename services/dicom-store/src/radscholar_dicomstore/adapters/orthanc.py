"""The study index on Orthanc's REST API (pyorthanc's async client)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from pyorthanc import AsyncOrthanc

from radscholar_core.errors import NotFound, Unavailable
from radscholar_dicomstore.domain.ingest import CheckedInstance, IngestStatus, Rejection
from radscholar_dicomstore.domain.studies import (
    SeriesSummary,
    StoreStatistics,
    StudyQuery,
    StudySummary,
    dicom_date,
)

T = TypeVar("T")


async def _call(request: Awaitable[T]) -> T:
    """Orthanc being down or refusing us is UNAVAILABLE for our callers, never INTERNAL."""
    try:
        return await request
    except httpx.HTTPStatusError as exc:
        raise Unavailable(
            f"the DICOM server answered {exc.response.status_code}", reason="DICOM_SERVER_ERROR"
        ) from None
    except httpx.TransportError as exc:
        raise Unavailable(f"the DICOM server cannot be reached: {exc}", reason="DICOM_SERVER_UNREACHABLE") from None


def _series(item: dict[str, Any], study_uid: str) -> SeriesSummary:
    tags = item.get("MainDicomTags", {})
    number = tags.get("SeriesNumber", "")
    return SeriesSummary(
        series_instance_uid=tags.get("SeriesInstanceUID", ""),
        study_instance_uid=study_uid,
        modality=tags.get("Modality", ""),
        description=tags.get("SeriesDescription", ""),
        series_number=int(number) if number.strip().lstrip("-").isdigit() else 0,
        body_part=tags.get("BodyPartExamined", ""),
        instance_count=len(item.get("Instances", [])),
    )


class OrthancStudyIndex:
    """Queries and stores through Orthanc's REST API; the only place that knows Orthanc."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self._orthanc = AsyncOrthanc(url, username=username, password=password, timeout=timeout)

    async def statistics(self) -> StoreStatistics:
        stats: dict[str, Any] = await _call(self._orthanc.get_statistics())  # type: ignore[assignment]
        return StoreStatistics(
            patients=int(stats["CountPatients"]),
            studies=int(stats["CountStudies"]),
            series=int(stats["CountSeries"]),
            instances=int(stats["CountInstances"]),
            disk_size_bytes=int(stats["TotalDiskSize"]),
        )

    async def find_studies(self, query: StudyQuery, offset: int, limit: int) -> tuple[list[StudySummary], int]:
        # Orthanc 1.10 cannot sort a find, so the matches are sorted here (newest study date first).
        found: list[dict[str, Any]] = await _call(
            self._orthanc.post_tools_find(
                json={
                    "Level": "Study",
                    "Query": query.dicom_matching(),
                    "Expand": True,
                    "CaseSensitive": False,
                }
            )
        )  # type: ignore[assignment]
        found.sort(key=lambda s: s["MainDicomTags"].get("StudyInstanceUID", ""))
        found.sort(key=lambda s: s["MainDicomTags"].get("StudyDate", ""), reverse=True)
        page = found[offset : offset + limit]
        series = await asyncio.gather(
            *(self._series_of(study["ID"], study["MainDicomTags"].get("StudyInstanceUID", "")) for study in page)
        )
        return [self._study(study, study_series) for study, study_series in zip(page, series, strict=True)], len(found)

    async def list_series(self, study_instance_uid: str) -> list[SeriesSummary]:
        ids: list[str] = await _call(
            self._orthanc.post_tools_find(json={"Level": "Study", "Query": {"StudyInstanceUID": study_instance_uid}})
        )  # type: ignore[assignment]
        if not ids:
            raise NotFound(f"study '{study_instance_uid}' is not in the store", reason="STUDY_NOT_FOUND")
        series = await self._series_of(ids[0], study_instance_uid)
        return sorted(series, key=lambda s: (s.series_number, s.series_instance_uid))

    async def _series_of(self, orthanc_study_id: str, study_uid: str) -> list[SeriesSummary]:
        items: list[dict[str, Any]] = await _call(self._orthanc.get_studies_id_series(orthanc_study_id))  # type: ignore[assignment]
        return [_series(item, study_uid) for item in items]

    @staticmethod
    def _study(study: dict[str, Any], series: list[SeriesSummary]) -> StudySummary:
        tags, patient = study.get("MainDicomTags", {}), study.get("PatientMainDicomTags", {})
        return StudySummary(
            study_instance_uid=tags.get("StudyInstanceUID", ""),
            patient_id=patient.get("PatientID", ""),
            patient_name=patient.get("PatientName", ""),
            study_date=dicom_date(tags.get("StudyDate", "")),
            description=tags.get("StudyDescription", ""),
            accession_number=tags.get("AccessionNumber", ""),
            institution=tags.get("InstitutionName", ""),
            modalities=sorted({s.modality for s in series if s.modality}),
            series_count=len(series),
            instance_count=sum(s.instance_count for s in series),
        )

    async def store(self, instance: CheckedInstance) -> IngestStatus | Rejection:
        """POST /instances; Orthanc answers AlreadyStored for a SOP Instance UID it holds."""
        try:
            answer = await self._orthanc.post_instances(content=instance.data)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (400, 415):
                return Rejection(
                    instance.name,
                    "STORE_REFUSED",
                    f"the DICOM server refused {instance.name}: {exc.response.text[:200]}",
                )
            raise Unavailable(
                f"the DICOM server answered {exc.response.status_code}", reason="DICOM_SERVER_ERROR"
            ) from None
        except httpx.TransportError as exc:
            raise Unavailable(f"the DICOM server cannot be reached: {exc}", reason="DICOM_SERVER_UNREACHABLE") from None
        status = answer.get("Status") if isinstance(answer, dict) else None
        return IngestStatus.ALREADY_PRESENT if status == "AlreadyStored" else IngestStatus.STORED

    async def series_instance_ids(self, series_instance_uid: str) -> list[str]:
        """Orthanc ids of a series' instances; NOT_FOUND for an unknown series."""
        found: list[str] = await _call(
            self._orthanc.post_tools_find(json={"Level": "Series", "Query": {"SeriesInstanceUID": series_instance_uid}})
        )  # type: ignore[assignment]
        if not found:
            raise NotFound(f"series '{series_instance_uid}' is not in the store", reason="SERIES_NOT_FOUND")
        series: dict[str, Any] = await _call(self._orthanc.get_series_id(found[0]))  # type: ignore[assignment]
        return list(series["Instances"])

    async def instance_file(self, instance_id: str) -> bytes:
        return await _call(self._orthanc.get_instances_id_file(instance_id))  # type: ignore[return-value]

    async def study_instance_ids(self, study_instance_uid: str) -> list[str]:
        """Orthanc ids of a study's instances; NOT_FOUND for an unknown study."""
        found: list[str] = await _call(
            self._orthanc.post_tools_find(json={"Level": "Study", "Query": {"StudyInstanceUID": study_instance_uid}})
        )  # type: ignore[assignment]
        if not found:
            raise NotFound(f"study '{study_instance_uid}' is not in the store", reason="STUDY_NOT_FOUND")
        instances: list[dict[str, Any]] = await _call(self._orthanc.get_studies_id_instances(found[0]))  # type: ignore[assignment]
        return [instance["ID"] for instance in instances]
