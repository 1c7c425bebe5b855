"""Ray's temp directory stays short enough for its Unix sockets; the throw-away head answers without a token."""

from pathlib import Path

import httpx
import pytest

from radscholar_core.testing import free_port
from radscholar_localstack.ray_head import (
    MAX_TEMP_DIR_LEN,
    RayTempDir,
    choose_temp_dir,
    prepare_temp_dir,
    running_ray_head,
)


def test_a_short_data_dir_keeps_ray_inside_it() -> None:
    chosen = choose_temp_dir(Path("/srv/rs/var/ray"))
    assert chosen.path == Path("/srv/rs/var/ray")
    assert not chosen.fallback


def test_a_long_data_dir_falls_back_to_a_short_stable_directory(tmp_path: Path) -> None:
    long_dir = Path("/home/someone/" + "deep/" * 10 + "var/ray")
    chosen = choose_temp_dir(long_dir, short_root=Path("/tmp"))
    assert chosen.fallback
    assert len(str(chosen.path)) <= MAX_TEMP_DIR_LEN
    assert chosen.path.name.startswith("rs-ray-")
    assert choose_temp_dir(long_dir, short_root=Path("/tmp")) == chosen
    assert choose_temp_dir(long_dir.with_name("ray2"), short_root=Path("/tmp")).path != chosen.path


def test_the_socket_budget_matches_linux() -> None:
    session = "/session_2026-11-25_21-21-50_015544_4194304/sockets/plasma_store"
    assert MAX_TEMP_DIR_LEN + len(session) <= 107


def test_a_fallback_is_linked_from_the_data_dir(tmp_path: Path) -> None:
    preferred = tmp_path / "var" / "ray"
    chosen = RayTempDir(path=tmp_path / "short" / "rs-ray-0123456789", fallback=True)
    prepare_temp_dir(chosen, preferred)
    assert chosen.path.is_dir()
    assert preferred.is_symlink() and preferred.resolve() == chosen.path.resolve()
    prepare_temp_dir(chosen, preferred)  # again: the link is replaced, not an error


def test_the_throw_away_head_ignores_a_token_left_by_an_earlier_ray_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray 2.60 turns token auth on for any head when ~/.ray/auth_token exists (`ray.init()` writes one)."""
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("0" * 64)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with running_ray_head(free_port(), num_cpus=1) as url:
        answer = httpx.get(f"{url}/api/jobs/", timeout=10)
    assert answer.status_code == 200, answer.text
