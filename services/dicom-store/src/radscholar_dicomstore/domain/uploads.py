"""Ingesting uploaded files (DICOM instances or zips of them) into the store, checked one by one, stored in batches."""

from __future__ import annotations

import asyncio
import io
import itertools
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from radscholar_core.errors import NotFound
from radscholar_dicomstore.domain.deidentified_copies import deidentify_instance, project_secret
from radscholar_dicomstore.domain.deidentify import DeidentificationAction, IngestProfile
from radscholar_dicomstore.domain.ingest import (
    CheckedInstance,
    IngestReport,
    IngestStatus,
    Rejection,
    ZipLimits,
    check_instance,
    iter_zip_instances,
)

# Stores checked instances: for each, STORED, ALREADY_PRESENT, or a Rejection when the DICOM server refuses it.
StoreInstances = Callable[[Sequence[CheckedInstance]], Awaitable[list[IngestStatus | Rejection]]]
Outcome = IngestStatus | Rejection
CHECK_COUNT, CHECK_BYTES = 16, 16 << 20  # files checked per thread hop, at most


def checked_instances(
    source: Path | bytes, name: str, *, max_instance_bytes: int, limits: ZipLimits
) -> Iterator[CheckedInstance | Rejection]:
    """Every instance in `source` (a file, or a small file's bytes), checked: the file itself, or each entry of a zip
    archive in turn."""
    with io.BytesIO(source) if isinstance(source, bytes) else source.open("rb") as file:
        if not zipfile.is_zipfile(file):
            yield check_instance(source, name=name, max_bytes=max_instance_bytes)
            return
        for entry in iter_zip_instances(file, limits, archive_name=name):
            if isinstance(entry, Rejection):
                yield entry
            else:
                yield check_instance(entry.data, name=entry.name, max_bytes=max_instance_bytes)


def _next_chunk(
    instances: Iterator[CheckedInstance | Rejection], count: int = CHECK_COUNT, size: int = CHECK_BYTES
) -> list[CheckedInstance | Rejection]:
    """The next checks, up to `count` instances or `size` bytes: one thread hop for several small files."""
    chunk: list[CheckedInstance | Rejection] = []
    held = 0
    for checked in instances:
        chunk.append(checked)
        held += 0 if isinstance(checked, Rejection) else checked.size
        if len(chunk) >= count or held >= size:
            break
    return chunk


class StoreBatches:
    """Checked instances stored in batches of at most `count` instances and `size` bytes, `parallel` batches at
    a time (the DICOM server stores a batch in one request). Each instance added gets the future of its outcome."""

    def __init__(self, store: StoreInstances, *, count: int, size: int, parallel: int) -> None:
        self._store = store
        self._count, self._size = count, size
        self._slots = asyncio.Semaphore(parallel)
        self._pending: list[tuple[CheckedInstance, asyncio.Future[Outcome]]] = []
        self._pending_bytes = 0
        self._running: list[asyncio.Task[None]] = []
        self._error: Exception | None = None  # the first batch that failed (the DICOM server unavailable)

    async def add(self, instance: CheckedInstance) -> asyncio.Future[Outcome]:
        """Waits only when `parallel` batches are already being stored."""
        if self._pending and self._pending_bytes + instance.size > self._size:
            await self._send()
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((instance, outcome))
        self._pending_bytes += instance.size
        if len(self._pending) >= self._count:
            await self._send()
        return outcome

    async def finish(self) -> None:
        """Stores what is left and waits for every batch; raises what made a batch fail."""
        if self._pending:
            await self._send()
        await asyncio.gather(*self._running)
        if self._error is not None:
            raise self._error

    async def _send(self) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        await self._slots.acquire()
        self._running.append(asyncio.create_task(self._stored(batch)))

    async def _stored(self, batch: list[tuple[CheckedInstance, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self._store([instance for instance, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                future.set_result(outcome)
        except Exception as exc:  # raised by finish(); the batch's outcomes stay unknown
            self._error = self._error or exc
        finally:
            self._slots.release()


class IngestCatalog(Protocol):
    def site_exists(self, site_id: str) -> bool: ...
    def ingest_profile(self, project_id: str) -> IngestProfile: ...
    def attribute(self, study_instance_uids: list[str], site: str, source: str) -> None: ...
    def add_to_project(self, study_instance_uids: list[str], project_id: str) -> None: ...


class Ingestion:
    """One upload into the store: attributed to the route's site, added to a project and, when the
    project asks for it, de-identified before anything is stored (the original is never kept).
    """

    def __init__(
        self,
        store: StoreInstances,
        catalog: IngestCatalog,
        indexed: Callable[[list[str]], Awaitable[None]],
        master_secret: bytes,
        *,
        max_instance_bytes: int,
        limits: ZipLimits,
        batch_count: int = 32,
        batch_bytes: int = 32 << 20,
        parallel: int = 4,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._indexed = indexed
        self._master = master_secret
        self._max_instance_bytes = max_instance_bytes
        self._limits = limits
        self._batch_count, self._batch_bytes = batch_count, batch_bytes
        self._parallel = parallel  # batches of one upload stored at once (Orthanc takes them in parallel)

    async def ingest(
        self, files: Sequence[tuple[Path | bytes, str]], *, site: str = "", project_id: str = ""
    ) -> IngestReport:
        """Every file (path or bytes, name) in order, into one report; what was stored is indexed once, at the end."""
        if site and not await asyncio.to_thread(self._catalog.site_exists, site):
            raise NotFound(f"site '{site}' is not registered", reason="SITE_NOT_FOUND")
        profile = await asyncio.to_thread(self._catalog.ingest_profile, project_id) if project_id else IngestProfile()
        policy = profile.policy(project_secret(self._master, project_id)) if project_id else None
        report = IngestReport()
        studies: set[str] = set()
        attributions: dict[str, asyncio.Future[None]] = {}  # study -> its attribution to the route's site
        series: set[str] = set()

        async def prepare(checked: CheckedInstance) -> CheckedInstance | Rejection:
            if policy is not None:
                deidentified, changes = await asyncio.to_thread(deidentify_instance, checked.data, policy, checked.name)
                report.deidentified.update(changes.summary())
                report.removed.update(c.keyword or c.tag for c in changes.with_action(DeidentificationAction.REMOVED))
                if isinstance(deidentified, Rejection):
                    return deidentified
                checked = deidentified
            uid = checked.study_instance_uid
            if site and uid not in attributions:  # attributed once, before any of its instances is stored
                attributions[uid] = asyncio.ensure_future(
                    asyncio.to_thread(self._catalog.attribute, [uid], site, "upload")
                )
            if site:
                await attributions[uid]
            studies.add(uid)
            series.add(checked.series_instance_uid)
            return checked

        batches = StoreBatches(self._store, count=self._batch_count, size=self._batch_bytes, parallel=self._parallel)
        # In the order received: a rejection, or an instance (without its bytes) and the future of its outcome.
        lines: list[Rejection | tuple[CheckedInstance, asyncio.Future[Outcome]]] = []
        instances = itertools.chain.from_iterable(
            checked_instances(path, name, max_instance_bytes=self._max_instance_bytes, limits=self._limits)
            for path, name in files
        )
        try:
            while chunk := await asyncio.to_thread(_next_chunk, instances):
                for checked in chunk:
                    prepared = checked if isinstance(checked, Rejection) else await prepare(checked)
                    if isinstance(prepared, Rejection):
                        lines.append(prepared)
                    else:
                        lines.append((replace(prepared, data=b""), await batches.add(prepared)))
        finally:
            await batches.finish()  # nothing is left being stored behind an error
        for line in lines:
            if isinstance(line, Rejection):
                report.add(line)
                continue
            checked, outcome = line
            stored = outcome.result()
            if isinstance(stored, Rejection):
                report.add(stored)
            else:
                report.add(checked, already_present=stored is IngestStatus.ALREADY_PRESENT)
        if project_id and studies:
            await asyncio.to_thread(self._catalog.add_to_project, sorted(studies), project_id)
        await self._indexed(sorted(series))  # answered only once queries find what was stored
        return report
