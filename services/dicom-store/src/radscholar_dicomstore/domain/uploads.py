"""Ingesting one uploaded file (a DICOM instance or a zip of them) into the store, file by file."""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path

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


async def ingest_file(
    path: Path, name: str, store: StoreInstance, *, max_instance_bytes: int, limits: ZipLimits
) -> IngestReport:
    """Checks and stores every instance in `path`; a bad file or entry is reported, never fatal."""
    report = IngestReport()
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
                    await _store(report, checked, store)
        return report
    checked = await asyncio.to_thread(check_instance, path, name=name, max_bytes=max_instance_bytes)
    await _store(report, checked, store)
    return report


async def _store(report: IngestReport, checked: CheckedInstance | Rejection, store: StoreInstance) -> None:
    if isinstance(checked, Rejection):
        report.add(checked)
        return
    outcome = await store(checked)
    if isinstance(outcome, Rejection):
        report.add(outcome)
    else:
        report.add(checked, already_present=outcome is IngestStatus.ALREADY_PRESENT)
