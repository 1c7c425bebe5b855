"""Uploads staged in the object store by the gateway, ingested into Orthanc file by file."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from radscholar_core.objectstore import ObjectStore, validate_key
from radscholar_dicomstore.adapters.orthanc import OrthancStudyIndex
from radscholar_dicomstore.domain.ingest import IngestReport, ZipLimits
from radscholar_dicomstore.domain.uploads import ingest_file


class StagedUploads:
    def __init__(
        self, objects: ObjectStore, orthanc: OrthancStudyIndex, *, max_instance_bytes: int, limits: ZipLimits
    ) -> None:
        self._objects = objects
        self._orthanc = orthanc
        self._max_instance_bytes = max_instance_bytes
        self._limits = limits

    async def ingest(self, object_key: str, file_name: str) -> IngestReport:
        """Copies the staged object to a local temporary file (zips need seeking), then ingests it."""
        validate_key(object_key)
        with tempfile.TemporaryDirectory(prefix="rs-upload-") as folder:
            local = Path(folder) / "upload"
            await asyncio.to_thread(self._objects.get_file, object_key, local)
            return await ingest_file(
                local, file_name, self._orthanc.store, max_instance_bytes=self._max_instance_bytes, limits=self._limits
            )
