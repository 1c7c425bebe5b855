"""Real servers for the cross-service tests: Orthanc (strict config), the five services, the gateway.

Everything binds to 127.0.0.1 on free ports and is torn down at the end of the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from radscholar_core.grpc_server import Server
from radscholar_core.identity import IdentityKeys, generate_key_pair, key_id_of
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.testing import free_port
from radscholar_dicomstore.config import Settings as DicomStoreSettings
from radscholar_dicomstore.server import build_server as build_dicomstore
from radscholar_gateway.app import create_app
from radscholar_gateway.config import Settings as GatewaySettings
from radscholar_labeling.config import Settings as LabelingSettings
from radscholar_labeling.server import build_server as build_labeling
from radscholar_localstack.mlflow_server import running_mlflow
from radscholar_localstack.ray_head import running_ray_head
from radscholar_localstack.scratch_orthanc import Orthanc, running_orthanc
from radscholar_radiomics.config import Settings as RadiomicsSettings
from radscholar_radiomics.server import build_server as build_radiomics
from radscholar_stats.config import Settings as StatsSettings
from radscholar_stats.server import build_server as build_stats
from radscholar_training.config import Settings as TrainingSettings
from radscholar_training.server import build_server as build_training

T = TypeVar("T")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


class BackgroundLoop:
    """An asyncio loop in a thread, so gRPC servers keep serving while a test blocks on HTTP."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


ADMIN_USERNAME = "ada.admin"
ADMIN_PASSWORD = "correct horse battery staple 42"


@dataclass
class Platform:
    """The real platform: `gateway` is signed in as the first admin; `client()` makes other callers."""

    url: str
    gateway: httpx.Client  # HTTP to the real gateway app (uvicorn on a free port), as the admin
    orthanc: Orthanc
    addresses: dict[str, str]  # service -> host:port
    settings: GatewaySettings
    ray_dashboard_port: int  # where the radiomics service looks for Ray; the `ray_head` fixture starts it there
    mlflow_port: int  # where the training service looks for MLflow; the `mlflow_server` fixture starts it there
    admin_username: str = ADMIN_USERNAME
    admin_password: str = ADMIN_PASSWORD

    def client(self, credential: str | None = None) -> httpx.Client:
        """A client of the gateway sending `credential` (access token or API key) as its bearer."""
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    def login(self, username: str, password: str) -> dict[str, Any]:
        with self.client() as anonymous:
            answer = anonymous.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def user(self, roles: list[str], projects: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
        """A new user with these roles (and project memberships); returns the user and an access token."""
        username = f"user-{uuid.uuid4().hex[:10]}"
        password = f"pw-{uuid.uuid4().hex}"
        created = self.gateway.post("/api/v1/users", json={"username": username, "password": password, "roles": roles})
        assert created.status_code == 201, created.text
        user = created.json()
        for project_id, role in (projects or {}).items():
            member = self.gateway.put(f"/api/v1/projects/{project_id}/members/{user['id']}", json={"role": role})
            assert member.status_code == 200, member.text
        return user, self.login(username, password)["access_token"]


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


@pytest.fixture(scope="session")
def platform(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(orthanc, tmp_path_factory.mktemp("platform")) as started:
        yield started


@pytest.fixture(scope="module")
def isolated_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform with its own Orthanc, for tests that count what the store holds."""
    with (
        running_orthanc(tmp_path_factory.mktemp("own-orthanc")) as own_orthanc,
        running_platform(own_orthanc, tmp_path_factory.mktemp("own-platform")) as started,
    ):
        yield started


@contextlib.contextmanager
def running_platform(orthanc: Orthanc, data_dir: Path) -> Iterator[Platform]:
    """The five services (real servers on free ports) behind the real gateway application."""
    objects = ObjectStoreSettings(root=data_dir / "objects")  # staged uploads: gateway -> DICOM store
    ray_dashboard_port = free_port()  # Ray starts only for the tests that ask for it (fixture `ray_head`)
    mlflow_port = free_port()  # MLflow too (fixture `mlflow_server`)
    private_pem, public_pem = generate_key_pair()
    trusted = IdentityKeys(public_keys={key_id_of(public_pem): public_pem})
    builders = {
        "dicomstore": lambda: build_dicomstore(
            DicomStoreSettings(
                port=0,
                orthanc_url=orthanc.url,
                orthanc_username=orthanc.username,
                orthanc_password=orthanc.password,
                deidentification_secret=secrets.token_urlsafe(32),
                identity=trusted,
                object_store=objects,
                database_url=f"sqlite:///{data_dir}/dicomstore.db",
                index_poll_seconds=0.2,
            )
        ),
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
                mlflow_tracking_uri=f"http://127.0.0.1:{mlflow_port}",
                ray_address=f"http://127.0.0.1:{ray_dashboard_port}",
                labeling_address=addresses["labeling_address"],
                dicomstore_address=addresses["dicomstore_address"],
                job_poll_seconds=0.2,
            )
        ),
        "radiomics": lambda: build_radiomics(
            RadiomicsSettings(
                port=0,
                identity=trusted,
                object_store=objects,
                database_url=f"sqlite:///{data_dir}/radiomics.db",
                ray_address=f"http://127.0.0.1:{ray_dashboard_port}",
                labeling_address=addresses["labeling_address"],
                dicomstore_address=addresses["dicomstore_address"],
                job_poll_seconds=0.2,
            )
        ),
        "stats": lambda: build_stats(
            StatsSettings(
                port=0,
                identity=trusted,
                object_store=objects,
                database_url=f"sqlite:///{data_dir}/stats.db",
                ray_address=f"http://127.0.0.1:{ray_dashboard_port}",
                job_poll_seconds=0.2,
            )
        ),
    }
    background = BackgroundLoop()

    async def start(build: Any) -> tuple[Server, int]:
        server = build()
        return server, await server.start("127.0.0.1", 0)

    servers: dict[str, tuple[Server, int]] = {}
    addresses: dict[str, str] = {}
    for name, build in builders.items():  # in order: the labeling service calls the DICOM store
        servers[name] = background.run(start(build))
        addresses[f"{name}_address"] = f"127.0.0.1:{servers[name][1]}"
    settings = GatewaySettings(
        **addresses,  # type: ignore[arg-type]
        database_url=f"sqlite:///{data_dir}/gateway.db",
        token_secret=secrets.token_urlsafe(32),
        identity_private_key=private_pem,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        object_store=objects,
        orthanc_dicomweb_url=f"{orthanc.url}/dicom-web",
        orthanc_username=orthanc.username,
        orthanc_password=orthanc.password,
        access_token_minutes=24 * 60,  # the admin client's token lasts the whole session (the suite runs > 15 min)
    )
    try:
        with served(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as anonymous:
            token = anonymous.post(
                "/api/v1/auth/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as admin:
                yield Platform(
                    url,
                    admin,
                    orthanc,
                    {name: f"127.0.0.1:{port}" for name, (_, port) in servers.items()},
                    settings,
                    ray_dashboard_port,
                    mlflow_port,
                )
    finally:
        for server, _ in servers.values():
            background.run(server.stop(0))
        background.close()


@pytest.fixture(scope="session")
def ct_phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic chest CT studies over two sites."""
    import radscholar_phantoms

    out = tmp_path_factory.mktemp("ct")
    radscholar_phantoms.generate("ct", 4, 2, 11, out)
    return out


@pytest.fixture(scope="session")
def ray_head(platform: Platform) -> Iterator[str]:
    """A real Ray head on 127.0.0.1 (2 CPUs) at the port the platform's radiomics service uses; its dashboard URL."""
    with running_ray_head(platform.ray_dashboard_port) as url:
        yield url


@pytest.fixture(scope="session")
def mlflow_server(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MLflow tracking server at the port the platform's training service uses; its URL."""
    with running_mlflow(tmp_path_factory.mktemp("mlflow"), platform.mlflow_port) as url:
        yield url
