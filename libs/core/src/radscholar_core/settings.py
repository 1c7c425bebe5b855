"""Settings base every service builds once at start-up (pydantic-settings).

Required values have no default, so a missing one stops the process at start with the variable's
name. Secrets are ``SecretStr``: never logged, and a placeholder ("changeme", "<secret>", ...) is
refused just like a missing value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from radscholar_core.identity import IdentityKeys

PLACEHOLDER = re.compile(
    r"^(|changeme|change-me|change_me|secret|password|todo|xxx+|<.*>|\$\{.*\}|default)$", re.IGNORECASE
)


def placeholder_secrets(model: BaseModel, prefix: str = "") -> list[str]:
    """Names of every SecretStr field (nested models included) whose value is a placeholder."""
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr) and PLACEHOLDER.match(value.get_secret_value().strip()):
            found.append(prefix + name)
        elif isinstance(value, BaseModel):
            found += placeholder_secrets(value, f"{prefix}{name}.")
    return found


Port = Annotated[int, Field(ge=0, le=65535, description="TCP port; 0 picks a free one")]


class ServiceSettings(BaseSettings):
    """What every gRPC service is configured with. Subclasses set ``env_prefix`` and ``port``."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="address the gRPC server binds")
    port: Port  # each service gives its default
    data_dir: Path = Field(Path("var"), description="where the service keeps its local state")
    log_level: str = Field(
        "INFO",
        validation_alias=AliasChoices("log_level", "RADSCHOLAR_LOG_LEVEL"),
        pattern="^(DEBUG|INFO|WARNING|ERROR)$",
    )
    grace_seconds: float = Field(5.0, ge=0, description="how long in-flight calls may finish on SIGTERM")
    identity: IdentityKeys = Field(description="the gateway's public keys: only calls it signed are served")

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Any:
        bad = placeholder_secrets(self)
        if bad:
            raise ValueError(f"placeholder or empty secret in setting(s): {', '.join(bad)}")
        return self
