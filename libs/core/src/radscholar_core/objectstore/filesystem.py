"""Objects as files in a local directory: the embedded default of a one-machine install."""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from radscholar_core.errors import FailedPrecondition, NotFound
from radscholar_core.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    guess_content_type,
    object_not_found,
    validate_key,
    validate_prefix,
)

CHUNK_BYTES = 1 << 20
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class FilesystemObjectStore:
    """Each object at ``root/data/<key>``, its metadata at ``root/meta/<key>``; writes go via ``root/tmp``.

    A write goes to a temp file on the same filesystem and is moved into place with ``os.replace``,
    so a reader sees the old or the new object, never part of one. The metadata names the inode it
    describes; when it does not match (an object copied in by hand, a crash between the two renames)
    ``stat`` recomputes it from the bytes. A key cannot name both an object and a "folder" of others
    (``a`` and ``a/b``): the second write raises FailedPrecondition. There are no presigned URLs:
    the gateway serves these objects itself.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._data, self._meta, self._tmp = (self.root / name for name in ("data", "meta", "tmp"))
        for folder in (self._data, self._meta, self._tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def put(
        self, key: str, data: bytes | BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE, *, durable: bool = True
    ) -> ObjectInfo:
        chunks = [data] if isinstance(data, bytes) else _chunks(data)
        return self._write(validate_key(key), chunks, content_type, durable=durable)

    def put_file(self, key: str, path: Path | str, content_type: str | None = None) -> ObjectInfo:
        validate_key(key)
        with Path(path).open("rb") as source:
            return self._write(key, _chunks(source), content_type or guess_content_type(str(path)))

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except _MISSING:
            raise object_not_found(key) from None

    def get_file(self, key: str, path: Path | str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as source, _temp_file(target.parent) as temp:
            with temp.open("wb") as sink:
                for chunk in _chunks(source):
                    sink.write(chunk)
            os.replace(temp, target)

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        if not path.is_file():
            raise object_not_found(key)
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            file_stat = path.stat()
        except _MISSING:
            raise object_not_found(key) from None
        if not stat_module.S_ISREG(file_stat.st_mode):
            raise object_not_found(key)
        meta: dict[str, Any] = self._read_meta(key, file_stat) or {
            "sha256": _sha256_of(path),
            "content_type": guess_content_type(key),
        }
        return ObjectInfo(key, file_stat.st_size, meta["sha256"], meta["content_type"], _modified(file_stat))

    def delete(self, key: str) -> None:
        validate_key(key)
        for tree in (self._data, self._meta):
            path = tree / key
            try:
                path.unlink()
            except _MISSING:
                continue
            _prune_empty_folders(path.parent, tree)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        start = self._data / validate_prefix(prefix).rpartition("/")[0]
        for key in sorted(key for key in self._keys_under(start) if key.startswith(prefix)):
            try:
                yield self.stat(key)
            except NotFound:
                continue  # deleted while listing

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        raise _no_presigned_urls(key)

    def presigned_put_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        raise _no_presigned_urls(key)

    def _path(self, key: str) -> Path:
        return self._data / validate_key(key)

    def _write(self, key: str, chunks: Iterable[bytes], content_type: str, *, durable: bool = True) -> ObjectInfo:
        """Without ``durable``: no fsync and no metadata file (``stat`` then recomputes it from the bytes)."""
        digest = hashlib.sha256()
        with _temp_file(self._tmp) as temp:
            with temp.open("wb") as sink:
                for chunk in chunks:
                    sink.write(chunk)
                    digest.update(chunk)
                sink.flush()
                if durable:
                    os.fsync(sink.fileno())
                file_stat = os.fstat(sink.fileno())
            sha256 = digest.hexdigest()
            if durable:  # else an older object's metadata names another inode, so stat ignores it
                self._write_meta(key, {"sha256": sha256, "content_type": content_type, **_identity(file_stat)})
            self._install(temp, self._data / key, key)
        return ObjectInfo(key, file_stat.st_size, sha256, content_type, _modified(file_stat))

    def _write_meta(self, key: str, meta: dict[str, Any]) -> None:
        with _temp_file(self._tmp) as temp:
            temp.write_text(json.dumps(meta))
            self._install(temp, self._meta / key, key)

    def _read_meta(self, key: str, file_stat: os.stat_result) -> dict[str, Any] | None:
        try:
            meta = json.loads((self._meta / key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in _identity(file_stat).items()):
            return None
        return meta

    def _install(self, temp: Path, target: Path, key: str) -> None:
        """Moves a finished temp file into place, creating its folders."""
        for attempt in range(3):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, target)
                return
            except FileNotFoundError:
                if attempt == 2:  # a concurrent delete kept pruning the folder we need
                    raise
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                raise FailedPrecondition(
                    f"object key {key!r} collides with an existing object or key prefix",
                    reason="OBJECT_KEY_CONFLICT",
                    details={"key": key},
                ) from None

    def _keys_under(self, start: Path) -> Iterator[str]:
        for folder, _, names in os.walk(start):
            for name in names:
                yield Path(folder, name).relative_to(self._data).as_posix()


@contextmanager
def _temp_file(folder: Path) -> Iterator[Path]:
    """A fresh temp file in ``folder``, removed on exit unless it was moved into place."""
    descriptor, name = tempfile.mkstemp(dir=folder, prefix=".radscholar-", suffix=".tmp")
    os.close(descriptor)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    return iter(partial(stream.read, CHUNK_BYTES), b"")


def _sha256_of(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def _identity(file_stat: os.stat_result) -> dict[str, int]:
    """What ties a metadata record to one version of a data file."""
    return {"inode": file_stat.st_ino, "size": file_stat.st_size, "mtime_ns": file_stat.st_mtime_ns}


def _modified(file_stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(file_stat.st_mtime, UTC)


def _prune_empty_folders(folder: Path, tree: Path) -> None:
    while folder != tree:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _no_presigned_urls(key: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"the filesystem object store has no presigned URLs (object {key!r}); serve it through the gateway",
        reason="PRESIGNED_URL_UNSUPPORTED",
        details={"key": key},
    )
