"""Uploads staged in the object store by the gateway, ingested into Orthanc file by file."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore, validate_key
from radscholar_dicomstore.domain.ingest import IngestReport
from radscholar_dicomstore.domain.uploads import Ingestion


class StagedUploads:
    def __init__(self, objects: ObjectStore, ingestion: Ingestion) -> None:
        self._objects = objects
        self._ingestion = ingestion

    async def ingest(self, files: Sequence[tuple[str, str]], *, site: str = "", project_id: str = "") -> IngestReport:
        """Ingests the staged objects (key, name): in place on a local store, else from temporary copies (zips need
        seeking)."""
        if not files:
            raise InvalidArgument("an upload needs at least one file", reason="NO_FILES")
        for key, _ in files:
            validate_key(key)
        with tempfile.TemporaryDirectory(prefix="rs-upload-") as folder:

            def local_files() -> list[tuple[Path, str]]:
                local = []
                for index, (key, name) in enumerate(files):
                    path = self._objects.local_path(key)  # read in place when on this disk
                    if path is None:
                        path = Path(folder) / f"{index:06d}"
                        self._objects.get_file(key, path)
                    local.append((path, name))
                return local

            local = await asyncio.to_thread(local_files)  # one thread hop for the whole request
            return await self._ingestion.ingest(local, site=site, project_id=project_id)
