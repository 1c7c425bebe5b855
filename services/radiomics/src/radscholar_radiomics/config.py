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
    ray_address: str = Field(
        "", description="Ray's Jobs API (dashboard) URL, e.g. http://127.0.0.1:8265; empty: no batch jobs"
    )
    labeling_address: str = Field("127.0.0.1:50052", description="host:port of the labeling service (datasets)")
    dicomstore_address: str = Field("127.0.0.1:50051", description="host:port of the DICOM store (series volumes)")
    region_cpus: float = Field(1.0, gt=0, description="Ray CPUs reserved by each region's extraction task")
    job_poll_seconds: float = Field(0.5, gt=0, description="how often running jobs are synchronised from Ray")
