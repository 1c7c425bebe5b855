"""Ingesting one uploaded file (a DICOM instance or a zip of them) into the store, file by file."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Awaitable, Callable, Sequence
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

# Stores one checked instance: STORED, ALREADY_PRESENT, or a Rejection when the DICOM server refuses it.
StoreInstance = Callable[[CheckedInstance], Awaitable[IngestStatus | Rejection]]
# Turns a checked instance into the one to store (de-identification), or refuses it.
Prepare = Callable[[CheckedInstance], Awaitable[CheckedInstance | Rejection]]


async def ingest_file(
    path: Path,
    name: str,
    store: StoreInstance,
    *,
    max_instance_bytes: int,
    limits: ZipLimits,
    prepare: Prepare | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Checks (and prepares) and stores every instance in `path`; a bad file or entry is reported, never fatal."""
    report = report if report is not None else IngestReport()

    async def _store(checked: CheckedInstance | Rejection) -> None:
        if prepare is not None and not isinstance(checked, Rejection):
            checked = await prepare(checked)
        if isinstance(checked, Rejection):
            report.add(checked)
            return
        outcome = await store(checked)
        if isinstance(outcome, Rejection):
            report.add(outcome)
        else:
            report.add(checked, already_present=outcome is IngestStatus.ALREADY_PRESENT)

    if await asyncio.to_thread(zipfile.is_zipfile, path):
        with path.open("rb") as archive:
            entries = iter_zip_instances(archive, limits, archive_name=name)
            while (entry := await asyncio.to_thread(next, entries, None)) is not None:
                if isinstance(entry, Rejection):
                    report.add(entry)
                else:
                    checked = await asyncio.to_thread(
                        check_instance, entry.data, name=entry.name, max_bytes=max_instance_bytes
                    )
                    await _store(checked)
        return report
    await _store(await asyncio.to_thread(check_instance, path, name=name, max_bytes=max_instance_bytes))
    return report


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
        store: StoreInstance,
        catalog: IngestCatalog,
        indexed: Callable[[list[str]], Awaitable[None]],
        master_secret: bytes,
        *,
        max_instance_bytes: int,
        limits: ZipLimits,
        parallel_files: int = 4,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._indexed = indexed
        self._master = master_secret
        self._max_instance_bytes = max_instance_bytes
        self._limits = limits
        self._parallel_files = parallel_files  # files of one upload stored at once (Orthanc takes them in parallel)

    async def ingest(self, files: Sequence[tuple[Path, str]], *, site: str = "", project_id: str = "") -> IngestReport:
        """Every file (path, name) in order, into one report; what was stored is indexed once, at the end."""
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

        parallel = asyncio.Semaphore(self._parallel_files)

        async def one(path: Path, name: str) -> IngestReport:
            async with parallel:
                lines = IngestReport()
                await ingest_file(
                    path,
                    name,
                    self._store,
                    max_instance_bytes=self._max_instance_bytes,
                    limits=self._limits,
                    prepare=prepare,
                    report=lines,
                )
                return lines

        for lines in await asyncio.gather(*(one(path, name) for path, name in files)):
            report.files += lines.files  # in the order the files came
        if project_id and studies:
            await asyncio.to_thread(self._catalog.add_to_project, sorted(studies), project_id)
        await self._indexed(sorted(series))  # answered only once queries find what was stored
        return report
