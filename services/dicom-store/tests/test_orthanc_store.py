"""Storing into a real Orthanc: several instances go in one zip, and each gets its own outcome back; instances
are stored in batches by StoreBatches, with outcomes in the order they were added."""

from __future__ import annotations

import asyncio
import dataclasses
import socketserver
import threading
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


class ClosesKeptAliveConnections(socketserver.ThreadingTCPServer):
    """An HTTP server on 127.0.0.1 that answers the first request of each connection and closes the connection on
    the next one without answering: what a request meets when Orthanc's keep-alive timer ends just as it goes out
    (a race real Orthanc only shows now and then, under load). It records every request it reads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers, self.seen = answers, []

        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for served in range(2):
                    request_line = self.rfile.readline().decode()
                    if not request_line:
                        return
                    headers = {}
                    while (line := self.rfile.readline().decode().strip()) != "":
                        name, _, value = line.partition(":")
                        headers[name.lower()] = value.strip()
                    self.rfile.read(int(headers.get("content-length", 0)))
                    method, path, _ = request_line.split(" ", 2)
                    server.seen.append(f"{method} {path}")
                    if served == 1:
                        return  # closed without an answer
                    body = server.answers.get(f"{method} {path}", b"{}")
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                    self.wfile.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    self.wfile.flush()

        super().__init__(("127.0.0.1", 0), Handler)


def test_a_request_on_a_connection_closed_under_it_is_sent_again_when_that_is_safe(
    instances: list[CheckedInstance],
) -> None:
    answers = {
        "GET /series/s/statistics": b'{"CountInstances": 3, "DicomUncompressedSize": 10}',
        "POST /instances": b'{"ID": "x", "Status": "Success"}',
    }
    with ClosesKeptAliveConnections(answers) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"

        async def run() -> None:
            orthanc = OrthancStore(url, "u", "p", timeout=5)
            for _ in range(3):  # each read after the first goes out on a connection that closes under it
                assert await orthanc.series_counts("s") == (3, 10)
            for _ in range(3):
                assert await orthanc.store(instances[:1]) == [STORED]
            with pytest.raises(Unavailable):  # a DELETE is not repeated: it may have been done
                await orthanc.unregister_modality("MODALITY")

        asyncio.run(run())
        server.shutdown()
    assert server.seen.count("GET /series/s/statistics") == 5  # 3 answered, 2 closed under them and sent again
    assert server.seen.count("POST /instances") == 5
    assert server.seen.count("DELETE /modalities/MODALITY") == 1
