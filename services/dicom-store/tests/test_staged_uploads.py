"""Staged uploads into a real Orthanc: whole objects, and files staged side by side in one object by byte range."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore.filesystem import FilesystemObjectStore
from radscholar_core.testing import zipped
from radscholar_dicomstore.adapters import staged_uploads
from radscholar_dicomstore.adapters.orthanc import OrthancStore
from radscholar_dicomstore.adapters.staged_uploads import StagedFile, StagedUploads
from radscholar_dicomstore.domain.deidentify import IngestProfile
from radscholar_dicomstore.domain.ingest import IngestReport, ZipLimits
from radscholar_dicomstore.domain.uploads import Ingestion
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc
from radscholar_phantoms import generate


class NoCatalog:
    """Uploads without a site or a project never reach the catalog."""

    def site_exists(self, site_id: str) -> bool:
        raise AssertionError("no site was named")

    def ingest_profile(self, project_id: str) -> IngestProfile:
        raise AssertionError("no project was named")

    def attribute(self, study_instance_uids: list[str], site: str, source: str) -> None:
        raise AssertionError("no site was named")

    def add_to_project(self, study_instance_uids: list[str], project_id: str) -> None:
        raise AssertionError("no project was named")


@pytest.fixture(scope="module")
def ct_files(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    manifest = generate("ct", 1, 1, 9, tmp_path_factory.mktemp("ct"), shape=(8, 16, 16))
    assert manifest.root is not None
    return [path.read_bytes() for path in sorted(manifest.root.rglob("*.dcm"))]


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path / "orthanc") as server:
        yield server


def ingest(orthanc: Orthanc, objects: FilesystemObjectStore, files: list[StagedFile]) -> IngestReport:
    async def run() -> IngestReport:
        store = OrthancStore(orthanc.url, orthanc.username, orthanc.password)

        async def indexed(series: list[str]) -> None:
            return None

        ingestion = Ingestion(
            store.store, NoCatalog(), indexed, b"k" * 32, max_instance_bytes=1 << 20, limits=ZipLimits()
        )
        return await StagedUploads(objects, ingestion).ingest(files)

    return asyncio.run(run())


def side_by_side(objects: FilesystemObjectStore, key: str, files: dict[str, bytes]) -> list[StagedFile]:
    """The files staged as one object, as the gateway stages an upload."""
    objects.put(key, b"".join(files.values()), durable=False)
    staged, offset = [], 0
    for name, data in files.items():
        staged.append(StagedFile(key, name, (offset, len(data))))
        offset += len(data)
    return staged


@pytest.mark.parametrize("in_memory_bytes", [64 << 20, 0], ids=["read", "copied-out"])
def test_files_staged_side_by_side_are_each_checked_and_stored(
    orthanc: Orthanc,
    ct_files: list[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    in_memory_bytes: int,
) -> None:
    monkeypatch.setattr(staged_uploads, "IN_MEMORY_BYTES", in_memory_bytes)  # 0: every part copied to a file
    objects = FilesystemObjectStore(tmp_path / "objects")
    files = {
        "first.dcm": ct_files[0],
        "note.txt": b"not an image",
        "pair.zip": zipped({"a.dcm": ct_files[1], "b.dcm": ct_files[2]}),
        "empty.dcm": b"",
    }
    staged = side_by_side(objects, "staging/uploads/bundle", files)
    objects.put("staging/uploads/alone", ct_files[3], durable=False)

    report = ingest(orthanc, objects, [*staged, StagedFile("staging/uploads/alone", "alone.dcm")])

    assert [(f.name, f.status, f.reason) for f in report.files] == [
        ("first.dcm", "stored", ""),
        ("note.txt", "rejected", "NOT_DICOM"),
        ("pair.zip/a.dcm", "stored", ""),
        ("pair.zip/b.dcm", "stored", ""),
        ("empty.dcm", "rejected", "NOT_DICOM"),
        ("alone.dcm", "stored", ""),
    ]
    with orthanc.client() as client:
        assert len(client.get("/instances").json()) == 4


def test_a_range_beyond_its_object_is_refused_before_anything_is_stored(
    orthanc: Orthanc, ct_files: list[bytes], tmp_path: Path
) -> None:
    objects = FilesystemObjectStore(tmp_path / "objects")
    good, bad = side_by_side(objects, "staging/uploads/bundle", {"good.dcm": ct_files[0], "bad.dcm": ct_files[1]})
    beyond = StagedFile(bad.key, bad.name, (bad.byte_range[0], bad.byte_range[1] + 1))  # type: ignore[index]

    with pytest.raises(InvalidArgument) as refused:
        ingest(orthanc, objects, [good, beyond])

    assert refused.value.reason == "BAD_BYTE_RANGE" and "'bad.dcm'" in str(refused.value)
    with orthanc.client() as client:
        assert client.get("/instances").json() == []
