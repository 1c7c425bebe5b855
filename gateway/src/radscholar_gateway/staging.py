"""Files a request brings, staged in the object store for the service that reads them, and removed after.

Bulk bytes never travel inside gRPC messages: the gateway stages them and passes object keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar, cast

from fastapi import Request
from pydantic import BaseModel, ValidationError

from radscholar_core.errors import InvalidArgument
from radscholar_core.objectstore import ObjectStore

M = TypeVar("M", bound=BaseModel)
SPOOL_BYTES = 8 << 20  # a request body is kept in memory up to this, then on disk


@contextlib.asynccontextmanager
async def staged(request: Request, files: list[BinaryIO], folder: str) -> AsyncIterator[list[str]]:
    """Puts each file under `folder/<uuid>` (in one worker thread: a file is small next to a thread hop) and
    yields their keys in order; every staged object is deleted when the block ends, whatever happened."""
    objects: ObjectStore = request.app.state.objects
    keys: list[str] = []

    def stage() -> None:
        for file in files:
            keys.append(f"{folder}/{uuid.uuid4().hex}")
            objects.put(keys[-1], file, durable=False)  # lives for this request only

    def unstage() -> None:
        for key in keys:
            objects.delete(key)

    try:
        await asyncio.to_thread(stage)
        yield keys
    finally:
        await asyncio.to_thread(unstage)


@contextlib.asynccontextmanager
async def staged_together(request: Request, files: list[BinaryIO], folder: str) -> AsyncIterator[StagedBytes]:
    """Puts the files one after another in a single object under `folder/<uuid>` (one write instead of one per
    file: many small DICOM files) and yields its key with each file's (offset, length); deleted when the block ends."""
    objects: ObjectStore = request.app.state.objects
    key = f"{folder}/{uuid.uuid4().hex}"
    lengths = [file.seek(0, io.SEEK_END) for file in files]
    for file in files:
        file.seek(0)
    try:
        await asyncio.to_thread(objects.put, key, io.BufferedReader(_Joined(files)), durable=False)
        yield StagedBytes(key, list(zip(itertools.accumulate(lengths, initial=0), lengths, strict=False)))
    finally:
        await asyncio.to_thread(objects.delete, key)


@dataclass(frozen=True)
class StagedBytes:
    key: str  # of the object holding the files
    ranges: list[tuple[int, int]]  # (offset, length) of each file, in order


class _Joined(io.RawIOBase):
    """Binary files read one after another, as one stream."""

    def __init__(self, files: list[BinaryIO]) -> None:
        self._files = iter(files)
        self._file = next(self._files, None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._file is not None:
            chunk = self._file.read(len(buffer))
            if chunk:
                buffer[: len(chunk)] = chunk
                return len(chunk)
            self._file = next(self._files, None)
        return 0


@contextlib.asynccontextmanager
async def spooled_body(request: Request, what: str) -> AsyncIterator[BinaryIO]:
    """The request body in a spooled temporary file (memory, then disk), rewound; an empty body is refused."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        if not spool.tell():
            raise InvalidArgument(f"the {what} is empty", reason="EMPTY_UPLOAD")
        spool.seek(0)
        yield cast(BinaryIO, spool)


def form_json(model: type[M], text: str, field: str, reason: str) -> M:
    """A JSON form field as its model; a bad one is INVALID_ARGUMENT naming the problem."""
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InvalidArgument(f"{field}: {problem['msg']} at {problem['loc']}", reason=reason) from None
