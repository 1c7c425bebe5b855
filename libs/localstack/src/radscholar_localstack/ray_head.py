"""The local Ray head: where its temp directory goes and how it is stopped without touching other Rays.

``ray stop`` cannot be scoped (it kills every Ray process of the user on this machine, including
another stack's or a test's), so the head is stopped by signalling ``ray start --block`` (which
shuts its node down) and then every process that still names our temp directory on its command line.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

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


def ray_head_url(dashboard_port: int) -> str:
    """The Jobs API URL of a head whose dashboard listens on ``dashboard_port`` of this machine."""
    return f"http://127.0.0.1:{dashboard_port}"


@contextlib.contextmanager
def running_ray_head(dashboard_port: int, num_cpus: int = 2) -> Iterator[str]:
    """A throw-away Ray head on 127.0.0.1 without a token (tests and benchmarks); yields its Jobs API URL.

    Its other ports are free ones, its temp directory a short one under /tmp, removed with every process at the end.
    """
    from radscholar_core.testing import free_port

    temp_dir = Path(tempfile.mkdtemp(prefix="rs-ray-", dir="/tmp"))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # keeps the node and its listeners on loopback
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "DASHBOARD_METRIC_PORT": "0",
        "AUTOSCALER_METRIC_PORT": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Without this, a token that an earlier `ray.init()` left in ~/.ray/auth_token turns token auth on, and the
        # head answers 401 to everything here.
        "RAY_AUTH_MODE": "disabled",
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", os.defpath)]),  # job entrypoints' python
    }
    ports = {flag: free_port() for flag in ("--port", "--ray-client-server-port", "--dashboard-agent-listen-port")}
    argv = [str(bin_dir / "ray"), "start", "--head", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1"]
    argv += ["--dashboard-port", str(dashboard_port), "--include-dashboard", "true"]
    argv += [item for flag, port in ports.items() for item in (flag, str(port))]
    argv += ["--temp-dir", str(temp_dir), "--num-cpus", str(num_cpus), "--object-store-memory", str(256 << 20)]
    argv += ["--disable-usage-stats", "--block"]
    head = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = ray_head_url(dashboard_port)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/version", timeout=2).status_code == 200:
                    break
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Ray head did not start (exit code {head.poll()})")
            time.sleep(0.5)
        yield url
    finally:
        head.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        stop_leftovers(temp_dir, grace_s=10)
        shutil.rmtree(temp_dir, ignore_errors=True)
