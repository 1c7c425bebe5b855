"""Storing into a real Orthanc: several instances go in one zip, and each gets its own outcome back; instances
are stored in batches by StoreBatches, with outcomes in the order they were added."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from radscholar_core.errors import Unavailable
from radscholar_dicomstore.adapters.orthanc import OrthancStore, orthanc_instance_id
from radscholar_dicomstore.domain.ingest import CheckedInstance, IngestStatus, Rejection, check_instance
from radscholar_dicomstore.domain.uploads import StoreBatches
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc
from radscholar_phantoms import generate

STORED, PRESENT = IngestStatus.STORED, IngestStatus.ALREADY_PRESENT


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> list[CheckedInstance]:
    manifest = generate("ct", 1, 1, 5, tmp_path_factory.mktemp("ct"), shape=(8, 16, 16))
    assert manifest.root is not None
    checked = [check_instance(path) for path in sorted(manifest.root.rglob("*.dcm"))]
    assert all(isinstance(c, CheckedInstance) for c in checked)
    return checked  # type: ignore[return-value]


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path / "orthanc") as server:
        yield server


def store(orthanc: Orthanc, batch: Sequence[CheckedInstance]) -> list[IngestStatus | Rejection]:
    async def run() -> list[IngestStatus | Rejection]:
        return await OrthancStore(orthanc.url, orthanc.username, orthanc.password).store(batch)

    return asyncio.run(run())


def test_a_batch_is_stored_at_once_with_an_outcome_for_each(orthanc: Orthanc, instances: list[CheckedInstance]) -> None:
    first, rest = instances[0], instances[1:]
    assert store(orthanc, [first]) == [STORED]
    # One zip: the one already held, the others, and one of them twice.
    assert store(orthanc, [first, *rest, rest[0]]) == [PRESENT] + [STORED] * len(rest) + [PRESENT]
    assert orthanc.instance_count() == len(instances)
    with orthanc.client() as client:  # the ids the outcomes were matched by are Orthanc's own
        for instance in instances:
            assert client.get(f"/instances/{orthanc_instance_id(instance)}").status_code == 200


def test_what_the_zip_answer_does_not_name_is_stored_alone(orthanc: Orthanc, instances: list[CheckedInstance]) -> None:
    # An id that matches nothing (a patient id Orthanc would read otherwise) and a file Orthanc refuses.
    misnamed = dataclasses.replace(instances[0], patient_id="not the patient id in the file")
    refused = dataclasses.replace(instances[1], name="refused.dcm", data=b"DICM but not a data set" * 10)
    outcomes = store(orthanc, [misnamed, refused, instances[2]])
    assert outcomes[0] == STORED and outcomes[2] == STORED
    assert isinstance(outcomes[1], Rejection) and outcomes[1].reason == "STORE_REFUSED"
    assert "refused.dcm" in outcomes[1].message
    assert orthanc.instance_count() == 2


def test_an_unreachable_server_is_unavailable(instances: list[CheckedInstance]) -> None:
    async def run() -> None:
        await OrthancStore("http://127.0.0.1:9", "u", "p", timeout=2).store(instances[:2])

    with pytest.raises(Unavailable):
        asyncio.run(run())


def test_batches_respect_their_limits_and_keep_the_order(instances: list[CheckedInstance]) -> None:
    sent: list[list[str]] = []

    async def record(batch: Sequence[CheckedInstance]) -> list[IngestStatus | Rejection]:
        await asyncio.sleep(0.01 * (len(sent) % 2))  # batches finish out of order
        sent.append([i.sop_instance_uid for i in batch])
        return [STORED if i % 2 == 0 else PRESENT for i, _ in enumerate(batch)]

    async def run() -> list[IngestStatus | Rejection]:
        batches = StoreBatches(record, count=2, size=3 * instances[0].size, parallel=2)
        futures = [await batches.add(instance) for instance in instances]
        await batches.finish()
        return [future.result() for future in futures]

    outcomes = asyncio.run(run())
    assert outcomes == [STORED if i % 2 == 0 else PRESENT for i in range(len(instances))]
    assert sorted(uid for batch in sent for uid in batch) == sorted(i.sop_instance_uid for i in instances)
    assert all(len(batch) == 2 for batch in sent)


def test_a_batch_that_fails_fails_the_whole(instances: list[CheckedInstance]) -> None:
    async def failing(batch: Sequence[CheckedInstance]) -> list[IngestStatus | Rejection]:
        raise Unavailable("the DICOM server cannot be reached", reason="DICOM_SERVER_UNREACHABLE")

    async def run() -> None:
        batches = StoreBatches(failing, count=2, size=1 << 30, parallel=1)
        for instance in instances:
            await batches.add(instance)
        await batches.finish()

    with pytest.raises(Unavailable):
        asyncio.run(run())
