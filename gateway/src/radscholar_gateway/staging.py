"""Files a request brings, staged in the object store for the service that reads them, and removed after.

Bulk bytes never travel inside gRPC messages: the gateway stages them and passes object keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from typing import BinaryIO, TypeVar, cast

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
