"""The object store interface, object metadata and the key rules every backend shares."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from radscholar_core.errors import InvalidArgument, NotFound

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file name on common filesystems
MAX_PRESIGNED_EXPIRY = timedelta(days=7)  # S3's limit
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object.

    ``etag`` changes whenever the content does: the SHA-256 hex digest on the filesystem, S3's ETag
    on S3. ``content_type`` is ``None`` in S3 listings, which do not carry it (``stat`` always does).
    """

    key: str
    size: int
    etag: str
    content_type: str | None
    modified: datetime


class ObjectStore(Protocol):
    """Blobs addressed by slash-separated keys. Writes are atomic: readers see the old or the new object."""

    def put(
        self, key: str, data: bytes | BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE, *, durable: bool = True
    ) -> ObjectInfo:
        """Stores ``data`` (bytes, or a binary stream read to its end) under ``key``, replacing any object.

        ``durable=False`` is for objects that live for one request (staged uploads): a store may then skip
        what only protects an object across a crash (the filesystem store's fsync and metadata file)."""
        ...

    def put_file(self, key: str, path: Path | str, content_type: str | None = None) -> ObjectInfo:
        """Stores a local file; the content type is guessed from the file name when not given."""
        ...

    def get(self, key: str) -> bytes:
        """Returns the whole object; use :meth:`open` or :meth:`get_file` for large ones."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Opens the object for streaming reads; close it (``with store.open(key) as f``)."""
        ...

    def get_file(self, key: str, path: Path | str) -> None:
        """Downloads the object to a local file, replacing it atomically."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's own file when the store keeps it on this machine's disk (read it, never change it);
        None for a remote store (use :meth:`get_file`). Raises NotFound for a missing object."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Metadata of the object; raises NotFound."""
        ...

    def delete(self, key: str) -> None:
        """Removes the object; removing a missing object is not an error (retries are safe, as on S3)."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a plain string prefix), sorted by key."""
        ...

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A URL a browser can GET the object from without credentials (FailedPrecondition if unsupported)."""
        ...

    def presigned_put_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A URL a browser can PUT the object to without credentials (FailedPrecondition if unsupported)."""
        ...


def validate_key(key: str) -> str:
    """Returns ``key`` if it is a safe object key, else raises InvalidArgument naming it and the rule."""
    problem = _key_problem(key)
    if problem:
        raise InvalidArgument(
            f"invalid object key {key!r}: {problem}", reason="INVALID_OBJECT_KEY", details={"key": key}
        )
    return key


def validate_prefix(prefix: str) -> str:
    """Returns ``prefix`` if some valid key could start with it (``""`` and ``"a/"`` both can)."""
    problem = _key_problem(prefix + "x") if prefix else None
    if problem:
        raise InvalidArgument(
            f"invalid object key prefix {prefix!r}: {problem}",
            reason="INVALID_OBJECT_KEY",
            details={"prefix": prefix},
        )
    return prefix


def _key_problem(key: str) -> str | None:
    if not isinstance(key, str) or not key:
        return "a key is a non-empty string"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if "\\" in key:
        return "backslashes are not allowed"
    if _CONTROL_CHARS.search(key):
        return "control characters are not allowed"
    if key.startswith("/"):
        return "a key must not start with '/'"
    for segment in key.split("/"):
        if not segment:
            return "empty path segments ('//' or a trailing '/') are not allowed"
        if segment in (".", ".."):
            return "'.' and '..' segments are not allowed"
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            return f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def check_expiry(expires: timedelta) -> timedelta:
    """Presigned URLs live between one second and seven days."""
    if not timedelta(seconds=1) <= expires <= MAX_PRESIGNED_EXPIRY:
        raise InvalidArgument(f"presigned URL expiry {expires} is outside 1 second to 7 days", reason="INVALID_EXPIRY")
    return expires


def object_not_found(key: str) -> NotFound:
    """The one NotFound every backend raises for a missing key."""
    return NotFound(f"object {key!r} not found", reason="OBJECT_NOT_FOUND", details={"key": key})


def guess_content_type(name: str) -> str:
    """The MIME type a file name suggests, else ``application/octet-stream``."""
    return mimetypes.guess_type(name)[0] or DEFAULT_CONTENT_TYPE
