"""Object store: one small interface over a filesystem tree or an S3 bucket.

Services depend on :class:`ObjectStore` and build one with :func:`open_object_store` in their
composition root. Calls block: from ``async def`` run them with ``asyncio.to_thread``.
"""

from radscholar_core.objectstore.base import ObjectInfo, ObjectStore, validate_key, validate_prefix
from radscholar_core.objectstore.filesystem import FilesystemObjectStore
from radscholar_core.objectstore.s3 import S3ObjectStore
from radscholar_core.objectstore.settings import ObjectStoreSettings, open_object_store

__all__ = [
    "FilesystemObjectStore",
    "ObjectInfo",
    "ObjectStore",
    "ObjectStoreSettings",
    "S3ObjectStore",
    "open_object_store",
    "validate_key",
    "validate_prefix",
]
