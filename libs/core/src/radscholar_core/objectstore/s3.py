"""Objects in an S3 bucket (MinIO in a cluster, moto's server in tests) through the ``minio`` client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from minio import Minio
from minio.error import S3Error

from radscholar_core.errors import NotFound
from radscholar_core.objectstore.base import (
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    check_expiry,
    guess_content_type,
    object_not_found,
    validate_key,
    validate_prefix,
)

PART_BYTES = 8 << 20  # multipart part size for streams of unknown length (S3's minimum is 5 MiB)
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})


class S3ObjectStore:
    """One bucket of an S3 endpoint, created on first use when missing.

    ``public_url`` (``https://s3.example.org``) is where browsers reach the same endpoint when it
    differs from ``endpoint`` (a cluster-internal ``minio:9000``); presigned URLs are signed for it.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str = "us-east-1",
        public_url: str | None = None,
    ) -> None:
        def client(netloc: str, secure: bool) -> Minio:
            return Minio(netloc, access_key=access_key, secret_key=secret_key, secure=secure, region=region)

        self._client = client(endpoint, secure)
        self._signer = self._client  # signs presigned URLs; knowing the region, it makes no request
        if public_url:
            parts = urlsplit(public_url)
            self._signer = client(parts.netloc, parts.scheme == "https")
        self.bucket = bucket
        self._region = region
        self._ensure_bucket()

    def put(
        self, key: str, data: bytes | BinaryIO, content_type: str = DEFAULT_CONTENT_TYPE, *, durable: bool = True
    ) -> ObjectInfo:
        validate_key(key)  # every S3 write is durable
        stream: BinaryIO
        if isinstance(data, bytes):
            stream, length, part_size = io.BytesIO(data), len(data), 0
        else:  # unknown length: minio uploads it in parts of PART_BYTES
            stream, length, part_size = data, -1, PART_BYTES
        self._client.put_object(
            bucket_name=self.bucket,
            object_name=key,
            data=stream,
            length=length,
            part_size=part_size,
            content_type=content_type,
        )
        return self.stat(key)

    def put_file(self, key: str, path: Path | str, content_type: str | None = None) -> ObjectInfo:
        self._client.fput_object(
            bucket_name=self.bucket,
            object_name=validate_key(key),
            file_path=str(path),
            content_type=content_type or guess_content_type(str(path)),
        )
        return self.stat(key)

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def open(self, key: str) -> BinaryIO:
        with self._translate(key):
            response = self._client.get_object(bucket_name=self.bucket, object_name=validate_key(key))
        return io.BufferedReader(_ResponseStream(response), buffer_size=1 << 20)

    def get_file(self, key: str, path: Path | str) -> None:
        with self._translate(key):
            self._client.fget_object(bucket_name=self.bucket, object_name=validate_key(key), file_path=str(path))

    def local_path(self, key: str) -> Path | None:
        self.stat(key)  # NotFound for a missing object, as every store
        return None

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except NotFound:
            return False
        return True

    def stat(self, key: str) -> ObjectInfo:
        with self._translate(key):
            found = self._client.stat_object(bucket_name=self.bucket, object_name=validate_key(key))
        return _info(found, key)

    def delete(self, key: str) -> None:
        self._client.remove_object(bucket_name=self.bucket, object_name=validate_key(key))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        listing = self._client.list_objects(
            bucket_name=self.bucket, prefix=validate_prefix(prefix) or None, recursive=True
        )
        for found in listing:
            yield _info(found, found.object_name)

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        return self._signer.presigned_get_object(
            bucket_name=self.bucket, object_name=validate_key(key), expires=check_expiry(expires)
        )

    def presigned_put_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        return self._signer.presigned_put_object(
            bucket_name=self.bucket, object_name=validate_key(key), expires=check_expiry(expires)
        )

    def _ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(bucket_name=self.bucket):
                self._client.make_bucket(bucket_name=self.bucket, location=self._region)
        except S3Error as error:
            if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    @contextmanager
    def _translate(self, key: str) -> Iterator[None]:
        """Turns S3's "no such key" into the store's NotFound."""
        try:
            yield
        except S3Error as error:
            if error.code in _MISSING_CODES:
                raise object_not_found(key) from None
            raise


class _ResponseStream(io.RawIOBase):
    """A streamed S3 response as a raw binary stream that hands its connection back on close."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return int(self._response.readinto(buffer))

    def close(self) -> None:
        if not self.closed:
            self._response.close()
            self._response.release_conn()
        super().close()


def _info(found: Any, key: str) -> ObjectInfo:
    modified = found.last_modified or datetime.now(UTC)
    return ObjectInfo(
        key=key,
        size=int(found.size or 0),
        etag=(found.etag or "").strip('"'),
        content_type=found.content_type,
        modified=modified.astimezone(UTC),
    )
