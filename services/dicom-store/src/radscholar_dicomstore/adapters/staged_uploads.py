"""Uploads staged in the object store by the gateway, ingested into Orthanc file by file."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from radscholar_core.objectstore import ObjectStore, validate_key
from radscholar_dicomstore.domain.ingest import IngestReport
from radscholar_dicomstore.domain.uploads import Ingestion


class StagedUploads:
    def __init__(self, objects: ObjectStore, ingestion: Ingestion) -> None:
        self._objects = objects
        self._ingestion = ingestion

    async def ingest(self, object_key: str, file_name: str, *, site: str = "", project_id: str = "") -> IngestReport:
        """Copies the staged object to a local temporary file (zips need seeking), then ingests it."""
        validate_key(object_key)
        with tempfile.TemporaryDirectory(prefix="rs-upload-") as folder:
            local = Path(folder) / "upload"
            await asyncio.to_thread(self._objects.get_file, object_key, local)
            return await self._ingestion.ingest(local, file_name, site=site, project_id=project_id)
