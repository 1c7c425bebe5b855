"""The command line: options, and refusing to start when something is in the way."""

import asyncio
import io
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from radscholar_localstack.cli import (
    EXIT_CANNOT_START,
    _first_of,
    _show_ready,
    admin_notice,
    build_parser,
    config_from_args,
    main,
)
from radscholar_localstack.config import StackConfig
from radscholar_localstack.console import StackConsole


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def parse(*argv: str):  # type: ignore[no-untyped-def]
    return config_from_args(build_parser().parse_args(["up", *argv]))


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse()
    assert config.data_dir == tmp_path / "var"
    assert config.gateway_host == "127.0.0.1"
    assert config.ports.gateway == 8000
    assert config.ray_enabled


def test_every_port_has_an_option(tmp_path: Path) -> None:
    config = parse(
        "--data-dir", str(tmp_path),
        "--gateway-port", "1", "--orthanc-http-port", "2", "--orthanc-dicom-port", "3",
        "--mlflow-port", "4", "--ray-port", "5", "--ray-dashboard-port", "6", "--ray-client-port", "7",
        "--ray-agent-port", "8", "--dicomstore-port", "9", "--labeling-port", "10", "--training-port", "11",
        "--radiomics-port", "12", "--stats-port", "13",
    )  # fmt: skip
    assert list(vars(config.ports).values()) == [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 7, 8]


def test_port_base_with_an_override(tmp_path: Path) -> None:
    config = parse("--data-dir", str(tmp_path), "--port-base", "20000", "--mlflow-port", "25000", "--no-ray")
    assert config.ports.gateway == 20000
    assert config.ports.orthanc_http == 20001
    assert config.ports.mlflow == 25000
    assert not config.ray_enabled


def test_a_port_given_twice_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["up", "--data-dir", str(tmp_path), "--gateway-port", "8042"])
    assert exit_.value.code == 2
    assert "both 8042" in capsys.readouterr().err


def test_refuses_to_start_on_a_busy_port(tmp_path: Path, busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "up", "--data-dir", str(tmp_path), "--port-base", "47000", "--gateway-port", str(busy_port),
            "--orthanc-binary", sys.executable, "--dicomweb-plugin", sys.executable,
        ]
    )  # fmt: skip
    assert code == EXIT_CANNOT_START
    out = capsys.readouterr().out
    assert f"port {busy_port} on 127.0.0.1 (gateway: HTTP) is already in use" in out
    assert not (tmp_path / "logs").exists()  # nothing was started or prepared
    assert not (tmp_path / "orthanc").exists()


def test_refuses_to_start_without_orthanc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["up", "--data-dir", str(tmp_path), "--orthanc-binary", str(tmp_path / "Orthanc")])
    assert code == EXIT_CANNOT_START
    assert "Orthanc is not at" in capsys.readouterr().out


async def test_first_of_runs_work_to_completion() -> None:
    assert await _first_of(asyncio.sleep(0, result=5), asyncio.Event()) == (True, 5)


async def test_first_of_is_cut_short_by_an_event() -> None:
    stop = asyncio.Event()
    stop.set()
    assert await _first_of(asyncio.sleep(30), stop) == (False, None)


def test_the_first_start_says_once_where_the_admin_password_is(
    tmp_path: Path, busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "up", "--data-dir", str(tmp_path), "--port-base", "47000", "--gateway-port", str(busy_port),
        "--orthanc-binary", sys.executable, "--dicomweb-plugin", sys.executable,
    ]  # fmt: skip
    assert main(argv) == EXIT_CANNOT_START  # even a start that goes no further tells it
    out = capsys.readouterr().out
    password_file = tmp_path / "secrets" / "admin_password"
    notices = [line for line in out.splitlines() if "first start: sign in as 'admin'" in line]
    assert len(notices) == 1
    assert notices[0].endswith(f"with the password in {password_file}")  # one line, whole path
    password = password_file.read_text()
    assert password not in out
    assert main(argv) == EXIT_CANNOT_START
    assert "first start" not in capsys.readouterr().out
    assert password_file.read_text() == password


def test_an_unusable_secret_refuses_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "identity_private_key.pem").write_text("garbage")
    assert main(["up", "--data-dir", str(tmp_path)]) == EXIT_CANNOT_START
    out = " ".join(capsys.readouterr().out.split())
    assert "cannot start:" in out and "identity_private_key.pem is not an Ed25519 private key" in out


def test_the_ready_banner_keeps_the_admin_notice_on_one_line(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path / ("long-directory-name-" * 4))
    buffer = io.StringIO()
    stack_console = StackConsole(["gateway"], Console(file=buffer, width=40))
    supervisor = SimpleNamespace(children=[])
    _show_ready(stack_console, config, supervisor, 1.0, admin_notice(config))  # type: ignore[arg-type]
    lines = buffer.getvalue().splitlines()
    assert f"first start: sign in as 'admin' with the password in {config.admin_password_file}" in lines
