"""Settings of the labeling service (environment prefix RADSCHOLAR_LABELING_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_LABELING_")

    port: Port = 50052
    database_url: str = Field(
        description="SQLAlchemy URL: sqlite:///var/labeling/labeling.db or postgresql+psycopg://..."
    )
