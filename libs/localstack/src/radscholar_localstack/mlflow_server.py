"""A real MLflow tracking server on a free port of 127.0.0.1, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from radscholar_core.testing import free_port


@contextlib.contextmanager
def running_mlflow(root: Path, port: int | None = None, start_timeout_s: float = 90.0) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 (SQLite, artifacts uploaded through the server) under ``root``; yields its URL.

    Its log is ``root/mlflow.log``; the server and its uvicorn worker (one process group) stop at the end.
    """
    port = port or free_port()
    executable = Path(sys.executable).with_name("mlflow")
    launcher = [str(executable)] if executable.exists() else [sys.executable, "-m", "mlflow"]
    argv = [*launcher, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    argv += ["--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    argv += ["--serve-artifacts", "--artifacts-destination", str(root / "artifacts")]
    # Without this, MLflow 3 starts a job runner that costs ~1.3 GiB of memory.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log_path = root / "mlflow.log"
    with log_path.open("wb") as log_file:
        server = subprocess.Popen(
            argv, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _await_health(url, server, log_path, start_timeout_s)
        yield url
    finally:
        _stop(server)


def _await_health(url: str, server: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {server.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server did not answer /health within {timeout_s:.0f} s:\n{_tail(log_path)}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=wait_s)
            return


def _tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
