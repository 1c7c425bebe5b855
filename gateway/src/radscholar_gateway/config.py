"""Settings of the gateway (environment prefix RADSCHOLAR_GATEWAY_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.settings import placeholder_secrets


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

    database_url: str = Field(description="the gateway's database: users, keys, memberships, audit trail")
    token_secret: SecretStr = Field(min_length=32, description="signs user access tokens (HS256)")
    identity_private_key: SecretStr = Field(description="Ed25519 PEM signing the identity sent to services")
    admin_username: str | None = Field(None, description="first admin, created only while no admin exists")
    admin_password: SecretStr | None = Field(None, description="that admin's password; no default")
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(7, ge=1, le=90)
    cors_origins: list[str] = Field(default_factory=list, description="browser origins allowed to call the API")
    max_request_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="larger request bodies get 413")
    max_upload_bytes: int = Field(4 << 30, ge=1024, description="the same for DICOM uploads")
    upload_timeout_seconds: float = Field(900.0, gt=0, description="deadline of ingesting one uploaded file")
    object_store: ObjectStoreSettings = Field(
        default_factory=ObjectStoreSettings, description="where uploads are staged for the DICOM store"
    )
    orthanc_dicomweb_url: str = Field(
        pattern="^https?://",
        description="the DICOM server's DICOMweb root, served at /dicom-web/ (Orthanc: DicomWeb.Root must be "
        "/dicom-web/); QIDO-RS and WADO-RS are proxied there",
    )
    public_url: str | None = Field(
        None,
        pattern="^https?://[^/]+/?$",
        description="the gateway's address as clients reach it (e.g. behind a TLS proxy), for the URLs DICOMweb "
        "answers carry; by default each request's own scheme and Host",
    )
    orthanc_username: str = Field(min_length=1, description="the DICOM server user the DICOMweb proxy signs in as")
    orthanc_password: SecretStr = Field(description="that user's password")

    @model_validator(mode="after")
    def _checked(self) -> Settings:
        bad = placeholder_secrets(self)
        if bad:
            raise ValueError(f"placeholder or empty secret in setting(s): {', '.join(bad)}")
        if (self.admin_username is None) != (self.admin_password is None):
            raise ValueError("admin_username and admin_password go together")
        if self.admin_password is not None and len(self.admin_password.get_secret_value()) < 12:
            raise ValueError("admin_password must have at least 12 characters")
        return self

    def upstreams(self) -> dict[str, str]:
        return {
            "dicomstore": self.dicomstore_address,
            "labeling": self.labeling_address,
            "training": self.training_address,
            "radiomics": self.radiomics_address,
            "stats": self.stats_address,
        }
