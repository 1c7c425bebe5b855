"""Object store settings that services embed, and the one place a backend is chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, SecretStr, model_validator

from radscholar_core.objectstore.base import ObjectStore
from radscholar_core.objectstore.filesystem import FilesystemObjectStore
from radscholar_core.objectstore.s3 import S3ObjectStore


class ObjectStoreSettings(BaseModel):
    """Where a service keeps its blobs: a local folder (one machine) or an S3 bucket (a cluster).

    Embed it as a field of a service's settings, e.g. ``object_store: ObjectStoreSettings``, and set
    it from the environment with a nested delimiter: ``RADSCHOLAR_RADIOMICS_OBJECT_STORE__BACKEND=s3``.
    """

    backend: Literal["filesystem", "s3"] = "filesystem"
    root: Path = Path("var/objects")
    s3_endpoint: str | None = None  # host:port, no scheme (``s3_secure`` picks https)
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "radscholar"
    s3_secure: bool = True
    s3_region: str = "us-east-1"
    s3_public_url: str | None = None  # where browsers reach the endpoint, for presigned URLs

    @model_validator(mode="after")
    def _s3_needs_an_endpoint_and_credentials(self) -> Self:
        if self.backend == "s3":
            required = ("s3_endpoint", "s3_access_key", "s3_secret_key")
            missing = [name for name in required if not getattr(self, name)]
            if missing:
                raise ValueError(f"the s3 object store needs {', '.join(missing)}")
            if "://" in (self.s3_endpoint or ""):
                raise ValueError("s3_endpoint is host:port without a scheme; s3_secure chooses https")
        return self


def open_object_store(settings: ObjectStoreSettings) -> ObjectStore:
    """Builds the configured backend (S3: creates the bucket when missing)."""
    if settings.backend == "filesystem":
        return FilesystemObjectStore(settings.root)
    assert settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key  # checked above
    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        settings.s3_bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        public_url=settings.s3_public_url,
    )
