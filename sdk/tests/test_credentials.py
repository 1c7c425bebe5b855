"""The credential store: private file and folder, atomic replacement, one entry per gateway URL."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from radscholar.credentials import CredentialStore, Login, default_path

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def login(username: str = "ada", access: str = "access-1", refresh: str = "refresh-1") -> Login:
    return Login(username, access, refresh, NOW + timedelta(minutes=15), NOW + timedelta(days=14))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_path_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_path() == tmp_path / "radscholar" / "credentials.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / ".config" / "radscholar" / "credentials.json"


def test_file_is_mode_600_in_a_folder_of_mode_700(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual permissive umask must not leak into the modes
    try:
        store = CredentialStore(tmp_path / "config" / "radscholar" / "credentials.json")
        store.save("http://gw:8000", login())
    finally:
        os.umask(old_umask)
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert mode(store.path.with_name("credentials.json.lock")) == 0o600
    store.save("http://gw:8000", login(access="access-2"))
    assert mode(store.path) == 0o600


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    CredentialStore(tmp_path / "credentials.json").save("http://gw", login())
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "credentials.json") == 0o600


def test_round_trip_and_per_url_entries(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "radscholar" / "credentials.json")
    assert store.get("http://a") is None
    store.save("http://a/", login("ada", "a1", "ra1"))  # a trailing slash names the same gateway
    store.save("http://b", login("bob", "b1", "rb1"))
    assert store.get("http://a") == login("ada", "a1", "ra1")
    assert store.get("http://b/") == login("bob", "b1", "rb1")
    store.save("http://a", login("ada", "a2", "ra2"))
    assert store.get("http://a") == login("ada", "a2", "ra2")
    assert store.get("http://b") == login("bob", "b1", "rb1")
    on_disk = json.loads(store.path.read_text())
    assert set(on_disk) == {"http://a", "http://b"}
    assert on_disk["http://a"] == {
        "access_token": "a2",
        "refresh_token": "ra2",
        "access_expires_at": "2030-01-02T03:19:05+00:00",
        "refresh_expires_at": "2030-01-16T03:04:05+00:00",
        "username": "ada",
    }
    assert store.remove("http://a") is True
    assert store.remove("http://a") is False
    assert store.get("http://a") is None
    assert store.get("http://b") is not None


def test_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way leaves the previous file whole and no temporary file behind."""
    store = CredentialStore(tmp_path / "radscholar" / "credentials.json")
    store.save("http://a", login("ada", "a1", "ra1"))
    before = store.path.read_bytes()

    def broken_dump(*_: object, **__: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("radscholar.credentials.json.dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        store.save("http://b", login("bob", "b1", "rb1"))
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "credentials.json",
        "credentials.json.lock",
    ]


def test_replaces_the_file_instead_of_writing_into_it(tmp_path: Path) -> None:
    """A reader that opened the old file keeps reading the old, whole content."""
    store = CredentialStore(tmp_path / "radscholar" / "credentials.json")
    store.save("http://a", login("ada", "a1", "ra1"))
    with store.path.open() as old:
        store.save("http://a", login("ada", "a2", "ra2"))
        assert json.load(old)["http://a"]["access_token"] == "a1"
    assert store.get("http://a") == login("ada", "a2", "ra2")


def test_concurrent_writers_lose_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "radscholar" / "credentials.json"

    def write(i: int) -> None:
        CredentialStore(path).save(f"http://gw{i}", login(f"user{i}", f"a{i}", f"r{i}"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(CredentialStore(path).logins()) == {f"http://gw{i}" for i in range(16)}


def test_a_damaged_file_reads_as_empty(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.path.write_text("{not json")
    assert store.get("http://a") is None
    store.path.write_text(json.dumps({"http://a": {"username": "x"}, "http://b": login().to_json()}))
    assert set(store.logins()) == {"http://b"}
    store.save("http://c", login())
    assert set(store.logins()) == {"http://b", "http://c"}


def test_tokens_never_show_in_repr() -> None:
    text = repr(login(access="secret-access", refresh="secret-refresh"))
    assert "secret" not in text
    assert "ada" in text


def test_lock_is_reentrant(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    with store.locked(), store.locked():
        store.save("http://a", login())
    assert store.get("http://a") is not None
