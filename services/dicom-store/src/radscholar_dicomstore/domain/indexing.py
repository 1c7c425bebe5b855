"""Keeps the catalog in step with Orthanc by following its change log, whatever path the images came by.

A series is indexed when it appears (NewSeries: its site is known from its first instance; a series the
catalog already holds, because an upload indexed it, only gets its counts) and again in full when Orthanc
finds it stable (StableSeries, StableAge seconds after its last instance), so C-STORE is
complete in the catalog within StableAge plus a poll interval. Uploads, STOW-RS and de-identified copies
go through the service, which indexes the series it stored before answering, so a query right after an
upload finds all of it. Reading the log costs nothing per instance, so indexing keeps up with any ingest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from radscholar_dicomstore.domain.ingest import normalise_institution
from radscholar_dicomstore.domain.studies import SeriesRecord, SeriesSummary

log = logging.getLogger(__name__)

# Changes after which a series is read again (Orthanc 1.10 logs no NewChildInstance; later versions do).
SERIES_CHANGES = frozenset({"NewSeries", "NewChildInstance", "StableSeries", "UpdatedAttachment", "UpdatedMetadata"})
# Of those, the ones that only say the series grew: a series the catalog holds then needs only its counts.
GROWTH_CHANGES = frozenset({"NewSeries", "NewChildInstance"})


class ChangeLog(Protocol):
    async def changes(self, since: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int, bool]: ...
    async def series_record(self, orthanc_id: str, known: SeriesSummary | None) -> SeriesRecord | None: ...
    async def series_ids(self, series_instance_uids: Iterable[str]) -> list[str]: ...
    async def series_counts(self, orthanc_id: str) -> tuple[int, int] | None: ...


class CatalogWriter(Protocol):
    def cursor(self) -> int: ...
    def save_cursor(self, last_seq: int) -> None: ...
    def series_geometry(self, orthanc_id: str) -> SeriesSummary | None: ...
    def study_has_site(self, study_instance_uid: str) -> bool: ...
    def site_of_ae(self, ae_title: str) -> str | None: ...
    def site_for_institution(self, institution: str) -> str | None: ...
    def upsert_series(self, record: SeriesRecord, site: str | None, site_source: str) -> None: ...
    def forget(self, resource_type: str, orthanc_id: str) -> None: ...
    def update_counts(self, orthanc_id: str, instances: int, size_bytes: int) -> None: ...


class CatalogIndexer:
    def __init__(self, log_: ChangeLog, catalog: CatalogWriter, *, poll_seconds: float = 0.5, batch: int = 1000):
        self._log = log_
        self._catalog = catalog
        self._poll = poll_seconds
        self._batch = batch
        self._lock = asyncio.Lock()

    async def catch_up(self) -> int:
        """Indexes every change Orthanc has logged so far; returns the last sequence number indexed."""
        async with self._lock:
            cursor = await asyncio.to_thread(self._catalog.cursor)
            while True:
                changes, last, done = await self._log.changes(cursor, self._batch)
                if last < cursor:  # a new Orthanc database: read its log from the start
                    log.warning("orthanc change log restarted", extra={"cursor": cursor, "last": last})
                    cursor = 0
                    continue
                await self._apply(changes)
                cursor = max(cursor, last)
                await asyncio.to_thread(self._catalog.save_cursor, cursor)
                if done or not changes:
                    return cursor

    async def run(self) -> None:
        """Follows the change log until cancelled; a failing pass is logged and retried."""
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("indexing the DICOM server's changes failed; retrying")
                await asyncio.sleep(5 * self._poll)
            await asyncio.sleep(self._poll)

    async def _apply(self, changes: list[dict[str, Any]]) -> None:
        dirty: dict[str, bool] = {}  # series id -> whether to read it in full, in first-seen order
        for change in changes:
            kind, resource, orthanc_id = change.get("ChangeType"), change.get("ResourceType"), change.get("ID", "")
            if kind == "Deleted" and resource in ("Series", "Study"):
                dirty.pop(orthanc_id, None)
                await asyncio.to_thread(self._catalog.forget, resource, orthanc_id)
            elif resource == "Series" and kind in SERIES_CHANGES:
                dirty[orthanc_id] = dirty.get(orthanc_id, False) or kind not in GROWTH_CHANGES
        await self._update(dirty)

    async def refresh(self, series_instance_uids: Iterable[str]) -> None:
        """Brings these series up to date now (the service stored them and is about to answer)."""
        ids = await self._log.series_ids(series_instance_uids)
        async with self._lock:
            await self._update(dict.fromkeys(ids, False))

    async def _update(self, series: dict[str, bool]) -> None:
        """A series the catalog holds that only grew gets its counts (its geometry follows when Orthanc finds it
        stable); any other is read in full."""
        full = []
        for orthanc_id, whole in series.items():
            if whole or await asyncio.to_thread(self._catalog.series_geometry, orthanc_id) is None:
                full.append(orthanc_id)
            elif counts := await self._log.series_counts(orthanc_id):
                await asyncio.to_thread(self._catalog.update_counts, orthanc_id, *counts)
        await self._index(full)

    async def _index(self, series_ids: list[str]) -> None:
        limit = asyncio.Semaphore(8)

        async def index(orthanc_id: str) -> None:
            async with limit:
                known = await asyncio.to_thread(self._catalog.series_geometry, orthanc_id)
                record = await self._log.series_record(orthanc_id, known)
                if record is not None:
                    await self._store(record)

        await asyncio.gather(*(index(orthanc_id) for orthanc_id in series_ids))

    async def _store(self, record: SeriesRecord) -> None:
        site, source = None, ""
        if not await asyncio.to_thread(self._catalog.study_has_site, record.study.study_instance_uid):
            site, source = await asyncio.to_thread(self._site_of, record)
        await asyncio.to_thread(self._catalog.upsert_series, record, site, source)

    def _site_of(self, record: SeriesRecord) -> tuple[str | None, str]:
        """The C-STORE caller's registered site, else the site registered for the institution, else the
        institution name itself (a site that is not registered yet); uploads were attributed before storing.
        """
        if record.calling_ae and (site := self._catalog.site_of_ae(record.calling_ae)):
            return site, "c-store"
        institution = normalise_institution(record.study.institution)
        if institution:
            return self._catalog.site_for_institution(institution) or institution, "institution"
        return None, ""
