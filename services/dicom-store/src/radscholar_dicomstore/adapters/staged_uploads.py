"""Uploads staged in the object store by the gateway, ingested into Orthanc file by file."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore, validate_key
from radscholar_dicomstore.domain.ingest import IngestReport
from radscholar_dicomstore.domain.uploads import Ingestion

IN_MEMORY_BYTES = 64 << 20  # a file staged inside a larger object is read into memory up to this, else copied out
COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class StagedFile:
    key: str
    name: str
    byte_range: tuple[int, int] | None = None  # (offset, length) in the object; None: the whole object


class StagedUploads:
    def __init__(self, objects: ObjectStore, ingestion: Ingestion) -> None:
        self._objects = objects
        self._ingestion = ingestion

    async def ingest(self, files: Sequence[StagedFile], *, site: str = "", project_id: str = "") -> IngestReport:
        """Ingests the staged files: objects read in place on a local store, else from temporary copies (zips need
        seeking); a file staged inside a larger object is its bytes, or a copy of them when large."""
        if not files:
            raise InvalidArgument("an upload needs at least one file", reason="NO_FILES")
        for file in files:
            validate_key(file.key)
        with tempfile.TemporaryDirectory(prefix="rs-upload-") as folder:

            def local_files() -> list[tuple[Path | bytes, str]]:
                objects: dict[str, Path] = {}
                local: list[tuple[Path | bytes, str]] = []
                for index, file in enumerate(files):
                    path = objects.get(file.key) or self._objects.local_path(file.key)  # in place when on this disk
                    if path is None:
                        path = Path(folder) / f"{index:06d}"
                        self._objects.get_file(file.key, path)
                    objects[file.key] = path
                    if file.byte_range is None:
                        local.append((path, file.name))
                    else:
                        local.append((_part(path, file, Path(folder) / f"{index:06d}.part"), file.name))
                return local

            local = await asyncio.to_thread(local_files)  # one thread hop for the whole request
            return await self._ingestion.ingest(local, site=site, project_id=project_id)


def _part(path: Path, file: StagedFile, copy: Path) -> Path | bytes:
    """The bytes of `file` in the object at `path`, or a copy of them at `copy` when large."""
    assert file.byte_range is not None
    offset, length = file.byte_range
    with path.open("rb") as source:
        size = source.seek(0, 2)
        if offset + length > size:
            raise InvalidArgument(
                f"'{file.name}' is staged as bytes {offset} to {offset + length} of an object of {size} bytes",
                reason="BAD_BYTE_RANGE",
            )
        source.seek(offset)
        if length <= IN_MEMORY_BYTES:
            return source.read(length)
        with copy.open("wb") as sink:
            while length and (chunk := source.read(min(length, COPY_CHUNK))):  # stops if the object shrank
                sink.write(chunk)
                length -= len(chunk)
        return copy
