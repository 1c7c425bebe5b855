"""The single-machine runtime: `python -m radscholar_localstack up` brings the whole platform up on
free ports, answers, and leaves nothing behind after Ctrl-C; Orthanc alone runs with the strict config."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from radscholar_localstack import proctable, ray_head
from radscholar_localstack.cli import READY_PHRASE
from radscholar_localstack.components import orthanc_component
from radscholar_localstack.config import DEFAULT_ORTHANC_BINARY, Ports, StackConfig
from radscholar_localstack.console import StackConsole
from radscholar_localstack.credentials import ensure_secret
from radscholar_localstack.orthanc_config import write_orthanc_config
from radscholar_localstack.ports import port_problem
from radscholar_localstack.supervisor import Supervisor

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not DEFAULT_ORTHANC_BINARY.exists(), reason="Orthanc is not installed"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the local stack runs on Linux"),
]

READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 30

PORT_FLAGS = {
    "gateway": "--gateway-port",
    "orthanc_http": "--orthanc-http-port",
    "orthanc_dicom": "--orthanc-dicom-port",
    "mlflow": "--mlflow-port",
    "ray_gcs": "--ray-port",
    "ray_dashboard": "--ray-dashboard-port",
    "ray_client": "--ray-client-port",
    "ray_agent": "--ray-agent-port",
    "dicomstore": "--dicomstore-port",
    "labeling": "--labeling-port",
    "training": "--training-port",
    "radiomics": "--radiomics-port",
    "stats": "--stats-port",
}


def free_ports(count: int) -> list[int]:
    """Distinct ports free right now (all held open together while choosing)."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def lan_address() -> str | None:
    """This machine's non-loopback address, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class StackProcess:
    """`up` running in the background with its merged log collected line by line."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, phrase: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"`up` exited ({self.process.wait()}) before {phrase!r}:\n{self.log_tail()}")
            self.lines.append(line)
            if phrase in line:
                return line
        raise AssertionError(f"no {phrase!r} within {timeout_s} s:\n{self.log_tail()}")

    def drain_available(self) -> None:
        """Collect the lines written so far without waiting for the end."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put(None)  # keep the end marker for wait_for
                return
            self.lines.append(line)

    def drain(self) -> None:
        self._reader.join(timeout=10)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)

    def log_tail(self, count: int = 80) -> str:
        return "\n".join(self.lines[-count:])


def start_stack(tmp_path: Path, *options: str) -> tuple[StackProcess, dict[str, int], Path]:
    """`up` on free ports with its data under tmp_path/var."""
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    data_dir = tmp_path / "var"
    argv = [sys.executable, "-m", "radscholar_localstack", "up", "--data-dir", str(data_dir), *options]
    for name, flag in PORT_FLAGS.items():
        argv += [flag, str(ports[name])]
    return StackProcess(argv, cwd=tmp_path), ports, data_dir


def stop_stack(running: StackProcess, data_dir: Path) -> None:
    """Teardown: never leave a stack (or a Ray temp dir outside tmp_path) behind."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            running.process.kill()
    running.drain()
    ray_temp = ray_head.choose_temp_dir(data_dir / "ray")
    if ray_temp.fallback:
        shutil.rmtree(ray_temp.path, ignore_errors=True)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[StackProcess, dict[str, int], Path]]:
    running, ports, data_dir = start_stack(tmp_path, "--demo")
    yield running, ports, data_dir
    stop_stack(running, data_dir)


def test_the_whole_stack_comes_up_answers_and_stops_cleanly(
    stack: tuple[StackProcess, dict[str, int], Path],
) -> None:
    running, ports, data_dir = stack
    started = time.monotonic()
    ready_line = running.wait_for(READY_PHRASE, READY_TIMEOUT_S)
    print(f"time to ready: {time.monotonic() - started:.1f} s ({ready_line.strip()})")
    assert f"http://127.0.0.1:{ports['gateway']}" in ready_line

    # Everything answers: the gateway checks every service, Orthanc wants its password.
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    assert httpx.get(f"{gateway}/readyz", timeout=10).status_code == 200  # unauthenticated
    orthanc = f"http://127.0.0.1:{ports['orthanc_http']}"
    assert httpx.get(f"{orthanc}/system", timeout=10).status_code == 401
    assert httpx.get(f"{orthanc}/system", auth=("radscholar", "wrong"), timeout=10).status_code == 401
    password = (data_dir / "secrets" / "orthanc_password").read_text().strip()
    assert httpx.get(f"{orthanc}/system", auth=("radscholar", password), timeout=10).status_code == 200

    # The gateway wants a signed-in user; the first admin's password is only in its file.
    secrets_dir = data_dir / "secrets"
    admin_password = (secrets_dir / "admin_password").read_text().strip()
    assert httpx.get(f"{gateway}/api/v1/projects", timeout=10).status_code == 401
    login = httpx.post(
        f"{gateway}/api/v1/auth/login", json={"username": "admin", "password": admin_password}, timeout=30
    )
    assert login.status_code == 200, login.text
    access_token = login.json()["access_token"]
    signed_in = {"Authorization": f"Bearer {access_token}"}
    me = httpx.get(f"{gateway}/api/v1/me", headers=signed_in, timeout=10)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "admin"

    # Secrets: owner-only files, never in the merged log; the first start says where the admin password is.
    output = "\n".join(running.lines)
    private_key = (secrets_dir / "identity_private_key.pem").read_text()
    key_material = [line for line in private_key.splitlines() if line and not line.startswith("-----")]
    secret_values = [
        password,
        admin_password,
        (secrets_dir / "ray_token").read_text().strip(),
        (secrets_dir / "token_secret").read_text().strip(),
        (secrets_dir / "deidentification_secret").read_text().strip(),
        *key_material,
        access_token,
    ]
    for secret in secret_values:
        assert secret not in output
    for name in (
        "orthanc_password",
        "ray_token",
        "token_secret",
        "deidentification_secret",
        "admin_password",
        "identity_private_key.pem",
        "identity_public_key.pem",
    ):
        assert (secrets_dir / name).stat().st_mode & 0o777 == 0o600, name
    notices = [line for line in running.lines if "first start: sign in as 'admin'" in line]
    assert len(notices) == 1, notices
    assert notices[0].rstrip().endswith(str(secrets_dir / "admin_password"))  # one line, whole path
    assert httpx.get(f"http://127.0.0.1:{ports['mlflow']}/health", timeout=10).status_code == 200
    ray_api = f"http://127.0.0.1:{ports['ray_dashboard']}/api/version"
    assert httpx.get(ray_api, timeout=10).status_code == 401  # token-protected Jobs API
    for name in ("orthanc", "mlflow", "ray", "dicomstore", "gateway"):
        assert (data_dir / "logs" / f"{name}.log").stat().st_size > 0

    # --demo: synthetic studies in Orthanc and a project, recorded so a restart does not load them again.
    demo_line = running.wait_for("demo loaded:", 120)
    print(demo_line.strip())
    studies = httpx.get(f"{orthanc}/studies", auth=("radscholar", password), timeout=10).json()
    assert len(studies) == 4
    loaded = json.loads((data_dir / "demo" / "loaded.json").read_text())
    assert loaded["project_id"], f"the demo project was not created:\n{running.log_tail()}"
    projects = httpx.get(f"{gateway}/api/v1/projects", headers=signed_in, timeout=10)
    assert projects.status_code == 200, projects.text
    assert "Demo chest CT nodules" in projects.text
    running.drain_available()
    output = "\n".join(running.lines)
    assert not [secret for secret in secret_values if secret in output]

    # Only Orthanc (which has no bind address option) listens beyond loopback.
    lan = lan_address()
    if lan is not None:
        for name in ("gateway", "mlflow", "ray_gcs", "ray_dashboard", "dicomstore", "stats"):
            assert not reachable(lan, ports[name]), f"{name} answers on {lan}:{ports[name]}"

    family = proctable.descendants(running.process.pid)
    ray_temp = ray_head.choose_temp_dir(data_dir / "ray").path
    assert ray_head.ray_processes(ray_temp), "no Ray processes found"
    assert len(family) >= 9

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=STOP_TIMEOUT_S) == 0
    running.drain()
    survivors = [(pid, proctable.cmdline(pid)[:3]) for pid in family if proctable.is_alive(pid)]
    assert survivors == [], f"left behind: {survivors}\n{running.log_tail()}"
    assert ray_head.ray_processes(ray_temp) == []
    busy = {name: port for name, port in ports.items() if port_problem("127.0.0.1", port) is not None}
    assert busy == {}


def test_a_component_that_dies_stops_the_stack_with_its_log(tmp_path: Path) -> None:
    running, _, data_dir = start_stack(tmp_path, "--no-ray")
    try:
        running.wait_for(READY_PHRASE, READY_TIMEOUT_S)
        stats_pid = next(
            pid
            for pid in proctable.descendants(running.process.pid)
            if proctable.cmdline(pid)[1:3] == ["-m", "radscholar_stats"]
        )
        family = proctable.descendants(running.process.pid)
        os.kill(stats_pid, signal.SIGKILL)
        assert running.process.wait(timeout=STOP_TIMEOUT_S) == 1
        running.drain()
        output = "\n".join(running.lines)
        assert "stats exited unexpectedly with signal SIGKILL" in output
        assert "last " in output and "lines of its log" in output
        assert [pid for pid in family if proctable.is_alive(pid)] == []
    finally:
        stop_stack(running, data_dir)


# --- Orthanc alone -----------------------------------------------------------------------------------


def _ae(title: str) -> bytes:
    return title.encode("ascii").ljust(16)


def _item(kind: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(payload)) + payload


def associate(port: int, calling: str, called: str) -> int:
    """Send a DICOM A-ASSOCIATE-RQ for C-ECHO; returns the reply's PDU type (2 accept, 3 reject)."""
    context = _item(0x30, b"1.2.840.10008.1.1") + _item(0x40, b"1.2.840.10008.1.2")
    variable = (
        _item(0x10, b"1.2.840.10008.3.1.1.1")
        + _item(0x20, bytes([1, 0, 0, 0]) + context)
        + _item(0x50, _item(0x51, struct.pack(">I", 16384)))
    )
    body = struct.pack(">HH", 1, 0) + _ae(called) + _ae(calling) + bytes(32) + variable
    pdu = struct.pack(">BBI", 0x01, 0, len(body)) + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(pdu)
        reply = connection.recv(1)
    return reply[0] if reply else -1


@pytest.fixture
async def orthanc_alone(tmp_path: Path):  # type: ignore[no-untyped-def]
    http_port, dicom_port = free_ports(2)
    config = StackConfig(
        data_dir=tmp_path,
        ports=Ports().with_overrides({"orthanc_http": http_port, "orthanc_dicom": dicom_port}),
    )
    password = ensure_secret(config.orthanc_password_file)
    write_orthanc_config(config, password)
    component = orthanc_component(config, password)
    supervisor = Supervisor(StackConsole(["orthanc"]), config.logs_dir)
    child = await supervisor.start(component)
    try:
        await supervisor.wait_ready([component], deadline=time.monotonic() + 60)
        yield config, password
    finally:
        await supervisor.stop()
    assert not proctable.is_alive(child.pid)


async def test_orthanc_runs_with_the_strict_configuration(orthanc_alone) -> None:  # type: ignore[no-untyped-def]
    config, password = orthanc_alone
    base = config.orthanc_url
    async with httpx.AsyncClient(base_url=base, timeout=10) as anonymous:
        assert (await anonymous.get("/system")).status_code == 401
        assert (await anonymous.get("/dicom-web/studies")).status_code == 401
    async with httpx.AsyncClient(base_url=base, auth=("radscholar", password), timeout=10) as client:
        system = (await client.get("/system")).json()
        assert system["DicomAet"] == "RADSCHOLAR"
        assert system["DicomPort"] == config.ports.orthanc_dicom
        assert "dicom-web" in (await client.get("/plugins")).json()
        assert (await client.get("/dicom-web/studies")).status_code == 200
        assert (await client.get("/modalities")).json() == []

        dicom = config.ports.orthanc_dicom
        assert associate(dicom, "STRANGER", "RADSCHOLAR") == 0x03, "an unknown AE title was accepted"

        # A modality registered through the API may associate, and only under Orthanc's own AE title.
        registered = await client.put("/modalities/TESTSCU", json={"AET": "TESTSCU", "Host": "127.0.0.1", "Port": 1})
        assert registered.status_code == 200
        assert associate(dicom, "TESTSCU", "RADSCHOLAR") == 0x02
        assert associate(dicom, "TESTSCU", "ANY-SCP") == 0x03, "the called AE title was not checked"
