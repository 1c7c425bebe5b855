"""Settings of the training service (environment prefix RADSCHOLAR_TRAINING_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_TRAINING_")

    port: Port = 50053
    database_url: str = Field(
        description="SQLAlchemy URL of the job records: sqlite:///var/training/training.db or postgresql+psycopg://..."
    )
    object_store: ObjectStoreSettings = Field(default_factory=ObjectStoreSettings)
    mlflow_tracking_uri: str = Field(description="MLflow's tracking server, e.g. http://127.0.0.1:5000")
    ray_address: str = Field("", description="Ray's Jobs API (dashboard) URL; empty: no training runs")
    labeling_address: str = Field("", description="host:port of the labeling service (dataset versions)")
    dicomstore_address: str = Field("", description="host:port of the DICOM store (series volumes)")
    job_poll_seconds: float = Field(0.5, gt=0, description="how often running jobs are brought up to date from Ray")
    max_failures: int = Field(3, ge=0, description="worker failures a run survives, resuming from its last checkpoint")
