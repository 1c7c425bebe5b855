"""The local Ray head: where its temp directory goes and how it is stopped without touching other Rays.

``ray stop`` cannot be scoped (it kills every Ray process of the user on this machine, including
another stack's or a test's), so the head is stopped by signalling ``ray start --block`` (which
shuts its node down) and then every process that still names our temp directory on its command line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from radscholar_localstack import proctable

log = logging.getLogger(__name__)

#: Linux limits a Unix socket path to 107 bytes. Ray puts its sockets at
#: <temp>/session_<YYYY-mm-dd_HH-MM-SS_ffffff>_<pid>/sockets/plasma_store (64 bytes past <temp>
#: with a 7-digit pid, plus ".N" when Ray numbers a second socket), so the temp directory itself must
#: stay within the difference.
UNIX_SOCKET_PATH_MAX = 107
RAY_SOCKET_SUFFIX_LEN = len("/session_2025-01-01_00-00-00_000000_4194304/sockets/plasma_store.9")
MAX_TEMP_DIR_LEN = UNIX_SOCKET_PATH_MAX - RAY_SOCKET_SUFFIX_LEN


@dataclass(frozen=True)
class RayTempDir:
    """Where Ray keeps its session; ``fallback`` when DATA_DIR/ray was too long for Ray's sockets."""

    path: Path
    fallback: bool


def choose_temp_dir(preferred: Path, short_root: Path | None = None) -> RayTempDir:
    """``preferred`` (absolute) when its socket paths fit, else a short per-data-dir /tmp/rs-ray-<hash>."""
    if len(str(preferred)) <= MAX_TEMP_DIR_LEN:
        return RayTempDir(path=preferred, fallback=False)
    digest = hashlib.sha256(str(preferred).encode("utf-8")).hexdigest()[:10]
    root = short_root or Path(tempfile.gettempdir())
    return RayTempDir(path=root / f"rs-ray-{digest}", fallback=True)


def prepare_temp_dir(temp_dir: RayTempDir, preferred: Path) -> None:
    """Create the directory; for a fallback, leave a symlink at ``preferred`` so the state is findable."""
    temp_dir.path.mkdir(parents=True, exist_ok=True)
    os.chmod(temp_dir.path, 0o700)
    if temp_dir.fallback and (preferred.is_symlink() or not preferred.exists()):
        if preferred.is_symlink():
            preferred.unlink()
        preferred.parent.mkdir(parents=True, exist_ok=True)
        preferred.symlink_to(temp_dir.path, target_is_directory=True)


def _is_ray_program(path: str) -> bool:
    """Ray's processes run this Python or one of the binaries shipped in the ray package."""
    if not path:
        return False
    if path == os.path.realpath(sys.executable):
        return True
    ray_spec = importlib.util.find_spec("ray")
    origin = ray_spec.origin if ray_spec is not None else None
    return origin is not None and path.startswith(os.path.dirname(os.path.realpath(origin)) + os.sep)


def ray_processes(temp_dir: Path) -> list[int]:
    """Processes of this user that belong to the Ray head using ``temp_dir``.

    Matched by the directory (on the command line, as working directory or an open file: Ray's agents
    rewrite their titles) and by program, so that a ``tail -f`` of a Ray log is left alone.
    """
    return [pid for pid in proctable.find_using_directory(str(temp_dir)) if _is_ray_program(proctable.executable(pid))]


def stop_leftovers(temp_dir: Path, grace_s: float) -> list[int]:
    """Stop Ray processes still running from ``temp_dir``; returns the pids that had to be killed.

    Blocking: run it in a thread from async code.
    """
    leftovers = ray_processes(temp_dir)
    if not leftovers:
        return []
    log.info("stopping %d Ray process(es) left from %s", len(leftovers), temp_dir)
    return proctable.terminate(leftovers, grace_s)
