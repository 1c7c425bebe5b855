"""Mask uploads that no save ever named: swept out of the object store once they are old enough."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from radscholar_core.objectstore import ObjectStore

log = logging.getLogger(__name__)

STAGED_MASKS = "staging/masks/"  # staging/masks/<task id>/<upload id>, deleted by the save that names it


def sweep_staged_masks(
    objects: ObjectStore, max_age: timedelta, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> int:
    """Deletes the mask uploads older than `max_age`; returns how many."""
    cutoff = now() - max_age
    stale = [info.key for info in objects.list(STAGED_MASKS) if info.modified < cutoff]
    for key in stale:
        objects.delete(key)
    return len(stale)


async def keep_sweeping(objects: ObjectStore, max_age: timedelta, every: timedelta) -> None:
    """Sweeps now and then every `every`, for the server's lifetime; a failing sweep is logged and retried."""
    while True:
        try:
            if swept := await asyncio.to_thread(sweep_staged_masks, objects, max_age):
                log.info("stale mask uploads deleted", extra={"count": swept})
        except Exception:
            log.exception("sweeping stale mask uploads failed; retrying")
        await asyncio.sleep(every.total_seconds())
