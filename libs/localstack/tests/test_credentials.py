"""Secrets are generated once and kept in owner-only files."""

import os
import stat
from pathlib import Path

import pytest

from radscholar_localstack.credentials import ensure_secret, write_private_file


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
