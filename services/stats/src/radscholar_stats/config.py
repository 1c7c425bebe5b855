"""Settings of the stats service (environment prefix RADSCHOLAR_STATS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_STATS_")

    port: Port = 50055
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
