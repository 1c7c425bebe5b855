"""Real servers for the benchmarks: the platform (five services + gateway) on a scratch Orthanc.

Copied from tests/conftest.py (benchmarks never import tests). Everything binds to 127.0.0.1 on free
ports. `platform_process` runs the platform in a child Python process (``python -m bench._platform``)
so the benchmark's own client threads never compete with the gateway for the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from radscholar_core.grpc_server import Server
from radscholar_core.identity import IdentityKeys, generate_key_pair, key_id_of
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.testing import free_port
from radscholar_gateway.app import create_app
from radscholar_gateway.config import Settings as GatewaySettings
from radscholar_labeling.config import Settings as LabelingSettings
from radscholar_labeling.server import build_server as build_labeling
from radscholar_localstack.scratch_orthanc import Orthanc
from radscholar_stats.config import Settings as StatsSettings
from radscholar_stats.server import build_server as build_stats
from radscholar_training.config import Settings as TrainingSettings
from radscholar_training.server import build_server as build_training

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
ADMIN_USERNAME = "bench.admin"
ADMIN_PASSWORD = "correct horse battery staple 42"


class BackgroundLoop:
    """An asyncio loop in a thread, so the gRPC servers keep serving while the caller blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@dataclass(frozen=True)
class PlatformEndpoint:
    """Where the gateway listens and an admin access token for it."""

    url: str
    token: str

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=300, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)


@contextlib.contextmanager
def service_process(service: str, settings: dict[str, str], data_dir: Path) -> Iterator[str]:
    """One service in its own process, as deployed (it shares no interpreter lock with the gateway): ``service``
    is its package's suffix (``dicomstore``, ``radiomics``), ``settings`` its environment without the prefix."""
    port = free_port()
    prefix = f"RADSCHOLAR_{service.upper()}_"
    env = {**os.environ, **{prefix + name: value for name, value in settings.items()}}
    env |= {f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(port), f"{prefix}LOG_LEVEL": "WARNING"}
    log_path = data_dir / f"{service}.log"
    log = log_path.open("wb")
    child = subprocess.Popen([sys.executable, "-m", f"radscholar_{service}"], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {service} service did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


@contextlib.contextmanager
def running_platform(orthanc: Orthanc, data_dir: Path, ray_address: str = "") -> Iterator[PlatformEndpoint]:
    """The five services (real servers on free ports) behind the real gateway application: the DICOM store and the
    radiomics service in their own processes, the others in this one; batch jobs go to Ray at ``ray_address``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    objects = ObjectStoreSettings(root=data_dir / "objects")  # staged uploads: gateway -> DICOM store
    private_pem, public_pem = generate_key_pair()
    trusted = IdentityKeys(public_keys={key_id_of(public_pem): public_pem})
    builders = {
        "labeling": lambda: build_labeling(
            LabelingSettings(
                port=0,
                identity=trusted,
                database_url=f"sqlite:///{data_dir}/labeling.db",
                dicomstore_address=addresses["dicomstore_address"],
                object_store=objects,
            )
        ),
        "training": lambda: build_training(
            TrainingSettings(
                port=0,
                identity=trusted,
                object_store=objects,
                database_url=f"sqlite:///{data_dir}/training.db",
                mlflow_tracking_uri="http://127.0.0.1:9",  # these benchmarks train nothing (bench.predict does)
                ray_address=ray_address,
                labeling_address=addresses["labeling_address"],
                dicomstore_address=addresses["dicomstore_address"],
            )
        ),
        "stats": lambda: build_stats(
            StatsSettings(
                port=0,
                identity=trusted,
                object_store=objects,
                database_url=f"sqlite:///{data_dir}/stats.db",
                ray_address=ray_address,
            )
        ),
    }
    background = BackgroundLoop()

    async def start(build: Any) -> tuple[Server, int]:
        server = build()
        return server, await server.start("127.0.0.1", 0)

    shared = {
        "OBJECT_STORE__BACKEND": "filesystem",
        "OBJECT_STORE__ROOT": str(objects.root),
        "IDENTITY__PUBLIC_KEYS": json.dumps({key_id_of(public_pem): public_pem}),
    }
    processes = contextlib.ExitStack()
    dicomstore = {
        "ORTHANC_URL": orthanc.url,
        "ORTHANC_USERNAME": orthanc.username,
        "ORTHANC_PASSWORD": orthanc.password,
        "DEIDENTIFICATION_SECRET": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{data_dir}/dicomstore.db",
    }
    addresses = {  # first: the labeling service calls it
        "dicomstore_address": processes.enter_context(service_process("dicomstore", dicomstore | shared, data_dir))
    }
    servers = {}
    for name, build in builders.items():
        servers[name] = background.run(start(build))
        addresses[f"{name}_address"] = f"127.0.0.1:{servers[name][1]}"
    radiomics = {  # its own process too: extraction holds the interpreter for seconds
        "DATABASE_URL": f"sqlite:///{data_dir}/radiomics.db",
        "RAY_ADDRESS": ray_address,
        "LABELING_ADDRESS": addresses["labeling_address"],
        "DICOMSTORE_ADDRESS": addresses["dicomstore_address"],
        "JOB_POLL_SECONDS": "0.2",
    }
    addresses["radiomics_address"] = processes.enter_context(service_process("radiomics", radiomics | shared, data_dir))
    settings = GatewaySettings(
        **addresses,  # type: ignore[arg-type]
        database_url=f"sqlite:///{data_dir}/gateway.db",
        token_secret=secrets.token_urlsafe(32),  # type: ignore[arg-type]
        identity_private_key=private_pem,  # type: ignore[arg-type]
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        access_token_minutes=120,
        object_store=objects,
        orthanc_dicomweb_url=f"{orthanc.url}/dicom-web",
        orthanc_username=orthanc.username,
        orthanc_password=orthanc.password,  # type: ignore[arg-type]
    )
    try:
        with served(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as anonymous:
            login = anonymous.post("/api/v1/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
            login.raise_for_status()
            yield PlatformEndpoint(url, login.json()["access_token"])
    finally:
        for server, _ in servers.values():
            background.run(server.stop(0))
        background.close()
        processes.close()


@contextlib.contextmanager
def platform_process(orthanc: Orthanc, data_dir: Path, ray_address: str = "") -> Iterator[PlatformEndpoint]:
    """`running_platform` in a child process; it stops when its stdin closes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "platform.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "bench._platform", json.dumps(asdict(orthanc)), str(data_dir), ray_address],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = child.stdout.readline()
        if not line:
            child.wait(timeout=30)
            raise RuntimeError(f"the platform did not start: {(data_dir / 'platform.log').read_text()[-3000:]}")
        yield PlatformEndpoint(**json.loads(line))
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        log.close()


def _serve_child() -> None:
    parser = argparse.ArgumentParser(description="the platform for a benchmark, until stdin closes")
    parser.add_argument("orthanc", help="the Orthanc to use, as JSON (see Orthanc)")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("ray_address", nargs="?", default="", help="Ray's Jobs API, for batch jobs")
    args = parser.parse_args()
    orthanc = Orthanc(**json.loads(args.orthanc))
    with running_platform(orthanc, args.data_dir, args.ray_address) as endpoint:
        print(json.dumps(asdict(endpoint)), flush=True)
        sys.stdin.read()  # the parent closes our stdin when it is done


if __name__ == "__main__":
    _serve_child()
