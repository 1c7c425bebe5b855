"""Secrets are generated once and kept in owner-only files."""

import dataclasses
import os
import stat
from pathlib import Path

import pytest

from radscholar_core.identity import IdentityKeys, IdentitySigner, generate_key_pair, key_id_of
from radscholar_localstack.config import StackConfig
from radscholar_localstack.credentials import (
    MIN_TOKEN_SECRET_LENGTH,
    ensure_identity_key_pair,
    ensure_secret,
    ensure_secret_file,
    generate_admin_password,
    load_secrets,
    public_key_of,
    write_private_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_is_generated_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "orthanc_password"
    first = ensure_secret(path)
    assert len(first) >= 32
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert ensure_secret(path) == first


def test_two_data_dirs_get_different_secrets(tmp_path: Path) -> None:
    assert ensure_secret(tmp_path / "a" / "s") != ensure_secret(tmp_path / "b" / "s")


def test_a_loosened_secret_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "s"
    value = ensure_secret(path)
    os.chmod(path, 0o644)
    assert ensure_secret(path) == value
    assert mode(path) == 0o600


def test_an_empty_secret_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("")
    with pytest.raises(ValueError, match="empty"):
        ensure_secret(path)


def test_private_file_is_written_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "orthanc.json"
    write_private_file(path, "{}")
    write_private_file(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["orthanc.json"]


def test_secret_file_reports_whether_it_was_created(tmp_path: Path) -> None:
    path = tmp_path / "s"
    value, created = ensure_secret_file(path, lambda: "first\n")
    assert (value, created) == ("first", True)
    assert ensure_secret_file(path, lambda: "second") == ("first", False)


def test_identity_key_pair_is_generated_once(tmp_path: Path) -> None:
    private, public = tmp_path / "secrets" / "id.pem", tmp_path / "secrets" / "id.pub.pem"
    private_pem, public_pem = ensure_identity_key_pair(private, public)
    assert "BEGIN PRIVATE KEY" in private_pem and "BEGIN PUBLIC KEY" in public_pem
    assert public_key_of(private_pem) == public_pem == public.read_text()
    assert mode(private) == mode(public) == 0o600
    assert ensure_identity_key_pair(private, public) == (private_pem.strip(), public_pem)
    signer = IdentitySigner(private_pem, key_id_of(public_pem))
    token = signer.sign(
        subject="u", username="admin", roles=["admin"], projects={}, via="password", client_address="::1"
    )
    verifier = IdentityKeys(public_keys={key_id_of(public_pem): public_pem}).verifier()
    assert verifier.verify(token).subject == "u"


def test_a_lost_or_foreign_public_key_is_rewritten_from_the_private_key(tmp_path: Path) -> None:
    private, public = tmp_path / "id.pem", tmp_path / "id.pub.pem"
    _, public_pem = ensure_identity_key_pair(private, public)
    public.unlink()
    assert ensure_identity_key_pair(private, public)[1] == public_pem
    public.write_text(generate_key_pair()[1])
    os.chmod(public, 0o644)
    assert ensure_identity_key_pair(private, public)[1] == public_pem
    assert public.read_text() == public_pem
    assert mode(public) == 0o600


def test_a_private_key_file_that_is_not_a_key_is_an_error(tmp_path: Path) -> None:
    private = tmp_path / "id.pem"
    private.write_text("not a key")
    with pytest.raises(ValueError, match="delete it"):
        ensure_identity_key_pair(private, tmp_path / "id.pub.pem")


def test_admin_password_satisfies_the_gateway_policy() -> None:
    for _ in range(50):
        password = generate_admin_password()
        assert len(password) >= 12
        assert "admin" not in password.lower()
    passwords = pytest.importorskip("radscholar_gateway.accounts.passwords")
    passwords.check_password(generate_admin_password(), "admin")


def test_all_stack_secrets_are_generated_once_with_mode_600(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path)
    first = load_secrets(config)
    assert first.admin_password_created
    assert len(first.token_secret) >= MIN_TOKEN_SECRET_LENGTH
    assert first.identity_key_id == key_id_of(first.identity_public_key)
    files = sorted(path.name for path in config.secrets_dir.iterdir())
    assert files == [
        "admin_password",
        "deidentification_secret",
        "identity_private_key.pem",
        "identity_public_key.pem",
        "orthanc_password",
        "ray_token",
        "token_secret",
    ]
    assert all(mode(config.secrets_dir / name) == 0o600 for name in files)
    assert mode(config.secrets_dir) == 0o700
    assert config.admin_password_file.read_text() == first.admin_password
    second = load_secrets(config)
    assert not second.admin_password_created
    assert second == dataclasses.replace(first, admin_password_created=False)
    for secret in (
        first.admin_password,
        first.token_secret,
        first.identity_private_key,
        first.ray_token,
        first.deidentification_secret,
    ):
        assert secret not in repr(first)


def test_a_too_short_token_secret_is_an_error(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path)
    config.secrets_dir.mkdir()
    config.token_secret_file.write_text("short")
    with pytest.raises(ValueError, match="fewer than 32"):
        load_secrets(config)
