"""`radscholar` sign-in, accounts, API keys and audit commands against the real platform.

Each test has its own config folder (XDG_CONFIG_HOME) and its own users: the platform is shared by
the whole session.
"""

from __future__ import annotations

import json
import re
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from radscholar import ApiError, Client, CredentialStore
from radscholar import cli as radscholar_cli
from radscholar.cli import app
from radscholar_core.testing import free_port

runner = CliRunner()
PASSWORD = "violet-harbour-lantern-42"
SECRET = re.compile(r"rsk_\S+")


@pytest.fixture
def url(platform: Any) -> str:
    return str(platform.gateway.base_url).rstrip("/")


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config folder; no credentials from the environment; wide output (no wrapped cells)."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 250)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 250)
    return home


def store_file(config_home: Path) -> Path:
    return config_home / "radscholar" / "credentials.json"


def radscholar(url: str, *args: str, input: str | None = None) -> Result:
    """Runs `radscholar ARGS --url URL`."""
    return runner.invoke(app, [*args, "--url", url], input=input)


def unique(prefix: str = "cli") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin(platform: Any, url: str) -> Iterator[Client]:
    """An SDK client signed in as the platform's first admin (kept in memory, not in the store)."""
    with Client(url) as client:
        client.login(platform.admin_username, platform.admin_password)
        yield client


def new_user(admin: Client, *roles: str) -> str:
    username = unique()
    admin.create_user(username, PASSWORD, list(roles) or ["researcher"], display_name=f"Dr {username}")
    return username


def sign_in(url: str, username: str, password: str = PASSWORD) -> None:
    result = radscholar(url, "login", "--username", username, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.output
    assert f"as {username}" in result.output


def test_login_writes_a_private_file_and_whoami_works(platform: Any, url: str, config_home: Path) -> None:
    login = radscholar(url, "login", "--username", platform.admin_username, input=platform.admin_password + "\n")
    assert login.exit_code == 0, login.output
    assert platform.admin_password not in login.output  # the prompt does not echo
    path = store_file(config_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entry = json.loads(path.read_text())[url]
    assert entry["username"] == platform.admin_username
    assert entry["access_token"] not in login.output
    assert entry["refresh_token"] not in login.output

    whoami = radscholar(url, "whoami")
    assert whoami.exit_code == 0, whoami.output
    assert platform.admin_username in whoami.output
    assert "admin" in whoami.output
    assert "password session" in whoami.output
    assert entry["access_token"] not in whoami.output


def test_a_wrong_password_exits_1_with_invalid_credentials(admin: Client, url: str, config_home: Path) -> None:
    username = new_user(admin)
    result = radscholar(url, "login", "-u", username, "--password-stdin", input="not-the-password-at-all\n")
    assert result.exit_code == 1
    assert "error: INVALID_CREDENTIALS:" in result.output
    assert "Traceback" not in result.output
    assert not store_file(config_home).exists() or url not in json.loads(store_file(config_home).read_text())


def test_admin_creates_lists_and_manages_users(platform: Any, admin: Client, url: str) -> None:
    sign_in(url, platform.admin_username, platform.admin_password)
    username = unique()
    created = radscholar(
        url,
        "users",
        "create",
        username,
        "--role",
        "researcher",
        "--display-name",
        "Dr Ada Example",
        input=f"{PASSWORD}\n{PASSWORD}\n",  # asked twice
    )
    assert created.exit_code == 0, created.output
    assert f"created user {username}" in created.output

    listed = radscholar(url, "users", "list")
    assert listed.exit_code == 0, listed.output
    assert username in listed.output
    assert "Dr Ada Example" in listed.output
    assert platform.admin_username in listed.output

    roles = radscholar(url, "users", "set-roles", username, "researcher", "reviewer")
    assert roles.exit_code == 0, roles.output
    assert "researcher, reviewer" in roles.output
    shown = radscholar(url, "users", "show", username)
    assert shown.exit_code == 0, shown.output
    assert "researcher, reviewer" in shown.output

    assert radscholar(url, "users", "deactivate", username).exit_code == 0
    with Client(url) as other:
        with pytest.raises(ApiError) as refused:
            other.login(username, PASSWORD)
        assert refused.value.status == 401
    assert radscholar(url, "users", "activate", username).exit_code == 0

    new_password = PASSWORD + "-renewed"
    reset = radscholar(url, "users", "reset-password", username, "--password-stdin", input=new_password + "\n")
    assert reset.exit_code == 0, reset.output
    with Client(url) as other:
        assert other.login(username, new_password).username == username

    duplicate = radscholar(url, "users", "create", username, "-r", "researcher", "--password-stdin", input="x" * 20)
    assert duplicate.exit_code == 1
    assert "error: USER_EXISTS:" in duplicate.output
    missing = radscholar(url, "users", "show", unique("nobody"))
    assert missing.exit_code == 1
    assert "error: USER_NOT_FOUND:" in missing.output


def test_a_non_admin_is_refused_user_administration(admin: Client, url: str) -> None:
    sign_in(url, new_user(admin, "researcher"))
    result = radscholar(url, "users", "list")
    assert result.exit_code == 1
    assert "error: " in result.output
    assert "Traceback" not in result.output


def test_an_api_key_works_until_it_is_revoked(
    admin: Client, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = new_user(admin)
    sign_in(url, username)
    created = radscholar(url, "keys", "create", "nightly-export", "--expires-in-days", "7")
    assert created.exit_code == 0, created.output
    assert "not shown again" in created.output
    secret_match = SECRET.search(created.output)
    assert secret_match is not None, created.output
    secret = secret_match.group(0)
    key_id = re.search(r"\(id (\S+),", created.output)
    assert key_id is not None, created.output

    listed = radscholar(url, "keys", "list")
    assert listed.exit_code == 0, listed.output
    assert "nightly-export" in listed.output
    assert secret not in listed.output  # shown once only

    program_home = tmp_path / "program"  # a program: no stored sign-in, just the key
    with monkeypatch.context() as program:
        program.setenv("XDG_CONFIG_HOME", str(program_home))
        program.setenv("RADSCHOLAR_API_KEY", secret)
        whoami = radscholar(url, "whoami")
        assert whoami.exit_code == 0, whoami.output
        assert username in whoami.output
        assert "API key" in whoami.output

    revoked = radscholar(url, "keys", "revoke", key_id.group(1))
    assert revoked.exit_code == 0, revoked.output

    with monkeypatch.context() as program:
        program.setenv("XDG_CONFIG_HOME", str(program_home))
        program.setenv("RADSCHOLAR_API_KEY", secret)
        refused = radscholar(url, "whoami")
        assert refused.exit_code == 1
        assert "error: API_KEY_REVOKED:" in refused.output
        assert "Traceback" not in refused.output


def test_logout_ends_the_session(admin: Client, url: str, config_home: Path) -> None:
    sign_in(url, new_user(admin))
    stolen = store_file(config_home).read_text()  # a copy of the file, as a thief might have taken it
    result = radscholar(url, "logout")
    assert result.exit_code == 0, result.output
    assert "signed out" in result.output
    assert url not in json.loads(store_file(config_home).read_text())

    after = radscholar(url, "whoami")
    assert after.exit_code == 1
    assert "error: CREDENTIALS_MISSING:" in after.output
    assert "radscholar login" in after.output

    store_file(config_home).write_text(stolen)  # the ended session's tokens are dead at the gateway
    replayed = radscholar(url, "whoami")
    assert replayed.exit_code == 1, replayed.output
    assert "error: TOKEN_" in replayed.output

    again = radscholar(url, "logout")
    assert again.exit_code == 0, again.output


def test_audit_shows_the_login_and_the_chain_verifies(platform: Any, admin: Client, url: str) -> None:
    username = new_user(admin)
    sign_in(url, username)
    radscholar(url, "logout")
    sign_in(url, platform.admin_username, platform.admin_password)

    result = radscholar(url, "audit", "--user", username, "--since", "1h", "--limit", "20")
    assert result.exit_code == 0, result.output
    assert username in result.output
    assert "auth.login" in result.output
    assert "success" in result.output

    everything = radscholar(url, "audit", "--action", "auth.", "--limit", "5")
    assert everything.exit_code == 0, everything.output

    verify = radscholar(url, "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert "intact" in verify.output


def test_an_expired_access_token_is_refreshed_transparently(admin: Client, url: str, config_home: Path) -> None:
    username = new_user(admin)
    sign_in(url, username)
    store = CredentialStore(store_file(config_home))
    signed_in = store.get(url)
    assert signed_in is not None

    # Stated as expired: refreshed before the call.
    past = datetime.now(UTC) - timedelta(minutes=5)
    entry = json.loads(store.path.read_text())
    entry[url] |= {"access_token": "garbage", "access_expires_at": past.isoformat()}
    store.path.write_text(json.dumps(entry))
    whoami = radscholar(url, "whoami")
    assert whoami.exit_code == 0, whoami.output
    assert username in whoami.output
    refreshed = store.get(url)
    assert refreshed is not None
    assert refreshed.refresh_token != signed_in.refresh_token  # rotated and saved
    assert refreshed.access_expires_at > datetime.now(UTC)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600

    # Refused by the gateway although not yet due: refreshed after the 401, and the call retried.
    entry = json.loads(store.path.read_text())
    entry[url]["access_token"] = "garbage"
    store.path.write_text(json.dumps(entry))
    whoami = radscholar(url, "whoami")
    assert whoami.exit_code == 0, whoami.output
    again = store.get(url)
    assert again is not None
    assert again.refresh_token != refreshed.refresh_token


def test_status_needs_no_credentials(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADSCHOLAR_API_KEY", "rsk_not_a_key")
    result = radscholar(url, "status")
    assert result.exit_code == 0, result.output


def test_an_unreachable_gateway_is_reported_clearly() -> None:
    result = radscholar(f"http://127.0.0.1:{free_port()}", "whoami")
    assert result.exit_code == 1
    assert "not reachable" in result.output
    assert "Traceback" not in result.output
