"""Settings of the gateway (environment prefix RADSCHOLAR_GATEWAY_)."""

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_GATEWAY_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("var/gateway")
    log_level: str = Field(
        "INFO",
        validation_alias=AliasChoices("log_level", "RADSCHOLAR_LOG_LEVEL"),
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
    )
    dicomstore_address: str = Field(description="host:port of the DICOM store service")
    labeling_address: str = Field(description="host:port of the labeling service")
    training_address: str = Field(description="host:port of the training service")
    radiomics_address: str = Field(description="host:port of the radiomics service")
    stats_address: str = Field(description="host:port of the stats service")
    upstream_timeout_seconds: float = Field(30.0, gt=0, description="deadline of a forwarded call")
    readiness_timeout_seconds: float = Field(2.0, gt=0, description="deadline of one upstream health check")

    def upstreams(self) -> dict[str, str]:
        return {
            "dicomstore": self.dicomstore_address,
            "labeling": self.labeling_address,
            "training": self.training_address,
            "radiomics": self.radiomics_address,
            "stats": self.stats_address,
        }
