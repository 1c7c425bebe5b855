"""A throw-away Orthanc with the local stack's strict configuration on free ports (tests and benchmarks)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from radscholar_core.testing import free_port
from radscholar_localstack.config import ORTHANC_AET, ORTHANC_USERNAME, Ports, StackConfig
from radscholar_localstack.credentials import ensure_secret
from radscholar_localstack.orthanc_config import write_orthanc_config


@dataclass(frozen=True)
class Orthanc:
    url: str
    username: str
    password: str
    dicom_port: int
    aet: str = ORTHANC_AET

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(self.username, self.password), timeout=60, **kwargs)

    def instance_count(self) -> int:
        with self.client() as client:
            answer = client.get("/statistics")
            answer.raise_for_status()
            return int(answer.json()["CountInstances"])


@contextlib.contextmanager
def running_orthanc(data_dir: Path) -> Iterator[Orthanc]:
    """A real Orthanc with fresh storage in `data_dir`, stopped when the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = StackConfig(
        data_dir=data_dir,
        ports=Ports().with_overrides({"orthanc_http": free_port(), "orthanc_dicom": free_port()}),
    )
    password = ensure_secret(config.orthanc_password_file)
    config_file = write_orthanc_config(config, password)
    log = (data_dir / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [str(config.orthanc_binary), str(config_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    server = Orthanc(config.orthanc_url, ORTHANC_USERNAME, password, config.ports.orthanc_dicom)
    try:
        with server.client() as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/system").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Orthanc did not start: {(data_dir / 'orthanc.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
