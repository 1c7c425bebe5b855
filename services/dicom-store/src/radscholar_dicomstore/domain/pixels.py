"""Pixel access for the other services: series as NIfTI volumes and PNG renders, cached in the object store.

A cache entry is keyed by the series and a fingerprint of its instances, so it is rebuilt as soon as an
instance is added or removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

import pydicom

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore
from radscholar_dicomstore.domain.rendering import PRESETS, render_png, thumbnail
from radscholar_dicomstore.domain.volumes import Volume, to_nifti_bytes, volume_from_instances

VIEWS = ("thumbnail", "axial", "coronal", "sagittal", "acquired")
FETCH_CONCURRENCY = 8


class SeriesSource(Protocol):
    async def series_instance_ids(self, series_instance_uid: str) -> list[str]: ...
    async def instance_file(self, instance_id: str) -> bytes: ...


@dataclass(frozen=True)
class ExportedVolume:
    object_key: str
    size: tuple[int, int, int]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]
    units: str
    modality: str
    size_bytes: int
    cached: bool = False


def parse_window(text: str) -> str | tuple[float, float]:
    """A preset name, "auto", or "CENTER/WIDTH" (e.g. "-600/1500")."""
    text = (text or "auto").strip().lower()
    if text == "auto" or text in PRESETS:
        return text
    if match := re.fullmatch(r"(-?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", text):
        return float(match[1]), float(match[2])
    raise InvalidArgument(
        f"window must be one of {', '.join(['auto', *PRESETS])} or CENTER/WIDTH, got '{text}'",
        reason="UNKNOWN_WINDOW_PRESET",
    )


class SeriesPixels:
    def __init__(self, source: SeriesSource, objects: ObjectStore) -> None:
        self._source = source
        self._objects = objects

    async def export_volume(self, series_instance_uid: str, *, stored_values: bool = False) -> ExportedVolume:
        ids, fingerprint = await self._instances(series_instance_uid)
        key = f"cache/volumes/{series_instance_uid}/{fingerprint}-{'stored' if stored_values else 'rescaled'}.nii.gz"
        sidecar = key.removesuffix(".nii.gz") + ".json"
        if await asyncio.to_thread(self._objects.exists, sidecar):
            described = json.loads(await asyncio.to_thread(self._objects.get, sidecar))
            return ExportedVolume(**{**described, "cached": True})
        volume = await self._volume(ids, apply_rescale=not stored_values)
        nifti = await asyncio.to_thread(to_nifti_bytes, volume)
        await asyncio.to_thread(self._objects.put, key, nifti, "application/gzip")
        exported = ExportedVolume(
            object_key=key,
            size=(volume.shape[2], volume.shape[1], volume.shape[0]),
            spacing=tuple(volume.spacing),
            origin=tuple(volume.origin),
            direction=tuple(volume.direction),
            units=volume.units,
            modality=volume.modality,
            size_bytes=len(nifti),
        )
        await asyncio.to_thread(self._objects.put, sidecar, json.dumps(asdict(exported)).encode(), "application/json")
        return exported

    async def export_headers(self, series_instance_uid: str) -> tuple[str, int]:
        """A zip of the series' instances without their pixel data (Part 10, one file per instance), for services
        that write objects referencing the series (DICOM SEG); its object key and the number of instances."""
        ids, fingerprint = await self._instances(series_instance_uid)
        key = f"cache/headers/{series_instance_uid}/{fingerprint}.zip"
        if not await asyncio.to_thread(self._objects.exists, key):
            limit = asyncio.Semaphore(FETCH_CONCURRENCY)

            async def fetch(instance_id: str) -> bytes:
                async with limit:
                    data = await self._source.instance_file(instance_id)
                return await asyncio.to_thread(_without_pixels, data)

            headers = await asyncio.gather(*(fetch(i) for i in ids))
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
                for instance_id, header in zip(ids, headers, strict=True):
                    out.writestr(f"{instance_id}.dcm", header)
            await asyncio.to_thread(self._objects.put, key, archive.getvalue(), "application/zip")
        return key, len(ids)

    async def render(self, series_instance_uid: str, view: str, index: int, window: str, size: int) -> tuple[str, bool]:
        """The object key of the PNG, and whether it was cached."""
        if view not in VIEWS:
            raise InvalidArgument(f"view must be one of {', '.join(VIEWS)}, got '{view}'", reason="UNKNOWN_VIEW")
        spec = parse_window(window)
        if size < 0 or size > 4096:
            raise InvalidArgument(f"size must be between 0 and 4096, got {size}", reason="INVALID_SIZE")
        ids, fingerprint = await self._instances(series_instance_uid)
        label = spec if isinstance(spec, str) else f"{spec[0]:g}_{spec[1]:g}"
        key = f"cache/renders/{series_instance_uid}/{fingerprint}-{view}-{index}-{label}-{size}.png"
        if await asyncio.to_thread(self._objects.exists, key):
            return key, True
        volume = await self._volume(ids, apply_rescale=True)
        if view == "thumbnail":
            png = await asyncio.to_thread(thumbnail, volume, size or 128, window=spec)
        else:
            png = await asyncio.to_thread(
                render_png,
                volume,
                index=None if index < 0 else index,
                axis=view,  # type: ignore[arg-type]
                window=spec,
                size=size or None,
            )
        await asyncio.to_thread(self._objects.put, key, png, "image/png")
        return key, False

    async def _instances(self, series_instance_uid: str) -> tuple[list[str], str]:
        if not series_instance_uid:
            raise InvalidArgument("series_instance_uid is required", reason="MISSING_SERIES_UID")
        ids = await self._source.series_instance_ids(series_instance_uid)
        fingerprint = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
        return ids, fingerprint

    async def _volume(self, instance_ids: Sequence[str], *, apply_rescale: bool) -> Volume:
        limit = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fetch(instance_id: str) -> pydicom.Dataset:
            async with limit:
                data = await self._source.instance_file(instance_id)
            return await asyncio.to_thread(pydicom.dcmread, io.BytesIO(data))

        datasets = await asyncio.gather(*(fetch(i) for i in instance_ids))
        return await asyncio.to_thread(volume_from_instances, datasets, apply_rescale=apply_rescale)


def _without_pixels(data: bytes) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()
