"""Settings of the radiomics service (environment prefix RADSCHOLAR_RADIOMICS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_RADIOMICS_")

    port: Port = 50054
    database_url: str = Field(
        description="SQLAlchemy URL: sqlite:///var/radiomics/radiomics.db or postgresql+psycopg://..."
    )
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
