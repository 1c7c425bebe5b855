"""What the DICOM store needs from the DICOM server behind it."""

from __future__ import annotations

from typing import Protocol

from radscholar_dicomstore.domain.ingest import IngestReport
from radscholar_dicomstore.domain.studies import SeriesSummary, StoreStatistics, StudyQuery, StudySummary


class StudyIndex(Protocol):
    async def statistics(self) -> StoreStatistics: ...
    async def find_studies(self, query: StudyQuery, offset: int, limit: int) -> tuple[list[StudySummary], int]: ...
    async def list_series(self, study_instance_uid: str) -> list[SeriesSummary]: ...


class Uploads(Protocol):
    async def ingest(self, object_key: str, file_name: str) -> IngestReport: ...
