"""Settings of the training service (environment prefix RADSCHOLAR_TRAINING_)."""

from pydantic_settings import SettingsConfigDict

from radscholar_core.settings import Port, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_TRAINING_")

    port: Port = 50053
