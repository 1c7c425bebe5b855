import pytest
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from radscholar_core.settings import Port, ServiceSettings
from radscholar_core.testing import gateway_keys

KEYS = gateway_keys().keys


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RADSCHOLAR_DEMO_")

    port: Port = 50999
    token: SecretStr = Field(description="a required secret")


def test_required_secret_missing_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RADSCHOLAR_DEMO_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="token"):
        DemoSettings()


@pytest.mark.parametrize("placeholder", ["", "changeme", "CHANGE-ME", "<secret>", "${TOKEN}", "password"])
def test_placeholder_secret_is_refused(placeholder: str) -> None:
    with pytest.raises(ValidationError, match="placeholder or empty secret in setting\\(s\\): token"):
        DemoSettings(token=placeholder, identity=KEYS)


def test_values_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADSCHOLAR_DEMO_TOKEN", "s3cr3t-value-9f2")
    monkeypatch.setenv("RADSCHOLAR_DEMO_PORT", "6001")
    monkeypatch.setenv("RADSCHOLAR_DEMO_IDENTITY__PUBLIC_KEYS", KEYS.model_dump_json(include={"public_keys"})[15:-1])
    monkeypatch.setenv("RADSCHOLAR_LOG_LEVEL", "DEBUG")
    settings = DemoSettings()
    assert settings.port == 6001
    assert settings.log_level == "DEBUG"
    assert settings.host == "127.0.0.1"
    assert "s3cr3t" not in repr(settings)


def test_bad_port_is_refused() -> None:
    with pytest.raises(ValidationError, match="port"):
        DemoSettings(token="fine-secret-123", port=70000, identity=KEYS)


def test_a_service_without_gateway_keys_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADSCHOLAR_DEMO_TOKEN", "s3cr3t-value-9f2")
    with pytest.raises(ValidationError, match="identity"):
        DemoSettings()
