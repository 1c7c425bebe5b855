"""Settings of the DICOM store service (environment prefix RADSCHOLAR_DICOMSTORE_)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_DICOMSTORE_")

    port: Port = 50051
    orthanc_url: str = Field(description="Orthanc REST base URL, e.g. http://127.0.0.1:8042")
    orthanc_username: str = Field(description="Orthanc user the service signs in as")
    orthanc_password: SecretStr = Field(description="that user's password")
    orthanc_timeout_seconds: float = Field(30.0, gt=0)
    database_url: str = Field(
        description="the catalog: sqlite:///var/dicomstore/catalog.db or postgresql+psycopg://..."
    )
    index_poll_seconds: float = Field(0.5, gt=0, description="how often Orthanc's change log is read")
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings, description="staged uploads")
    max_instance_bytes: int = Field(1 << 30, gt=0, description="larger instances are rejected TOO_LARGE")
    max_archive_entries: int = Field(10_000, gt=0, description="zips with more entries are rejected")
    deidentification_secret: SecretStr = Field(
        min_length=32, description="master key of per-project pseudonyms, UIDs and date shifts; keep it forever"
    )
    max_archive_bytes: int = Field(16 << 30, gt=0, description="zips expanding beyond this are rejected")
