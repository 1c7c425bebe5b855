"""Settings of the labeling service (environment prefix RADSCHOLAR_LABELING_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_LABELING_")

    port: Port = 50052
    database_url: str = Field(
        description="SQLAlchemy URL: sqlite:///var/labeling/labeling.db or postgresql+psycopg://..."
    )
    dicomstore_address: str = Field(description="host:port of the DICOM store (masks are stored there as DICOM SEG)")
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    staged_upload_max_age_hours: float = Field(
        24.0, gt=0, description="mask uploads no save named are deleted once this old (checked every hour)"
    )
