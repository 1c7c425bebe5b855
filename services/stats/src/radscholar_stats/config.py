"""Settings of the stats service (environment prefix RADSCHOLAR_STATS_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_STATS_")

    port: Port = 50055
    database_url: str = Field(
        description="SQLAlchemy URL of the job records: sqlite:///var/stats/stats.db or postgresql+psycopg://..."
    )
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    ray_address: str = Field("", description="Ray's Jobs API (dashboard) URL; empty: no analysis jobs")
    job_poll_seconds: float = Field(0.5, gt=0, description="how often running jobs are brought up to date from Ray")
