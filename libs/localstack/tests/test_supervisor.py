"""The supervisor starts children, sees them ready, reports failures with their log, and stops them."""

import asyncio
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from radscholar_localstack import proctable
from radscholar_localstack.components import Component
from radscholar_localstack.console import StackConsole
from radscholar_localstack.probes import GrpcHealthProbe, HttpProbe
from radscholar_localstack.supervisor import ComponentFailed, Supervisor


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def python(name: str, code: str, probe: HttpProbe | GrpcHealthProbe, tmp_path: Path) -> Component:
    return Component(
        name=name,
        argv=(sys.executable, "-c", textwrap.dedent(code)),
        env={"PYTHONUNBUFFERED": "1"},
        probe=probe,
        tier=0,
        endpoint="",
        cwd=tmp_path,
    )


def http_server(name: str, port: int, tmp_path: Path) -> Component:
    code = f"""
        import http.server
        print("serving on {port}")
        handler = http.server.SimpleHTTPRequestHandler
        http.server.ThreadingHTTPServer(("127.0.0.1", {port}), handler).serve_forever()
    """
    return python(name, code, HttpProbe(f"http://127.0.0.1:{port}/"), tmp_path)


@pytest.fixture
def output() -> Console:
    return Console(record=True, width=200, force_terminal=False)


def make_supervisor(tmp_path: Path, output: Console, grace_s: float = 5.0) -> Supervisor:
    return Supervisor(StackConsole(["web", "broken", "stubborn"], console=output), tmp_path / "logs", grace_s)


async def test_start_ready_log_and_stop(tmp_path: Path, output: Console) -> None:
    supervisor = make_supervisor(tmp_path, output)
    web = http_server("web", free_port(), tmp_path)
    child = await supervisor.start(web)
    await supervisor.wait_ready([web], deadline=time.monotonic() + 20)
    assert child.ready_after_s is not None
    await supervisor.stop()
    assert child.process.returncode is not None
    assert not proctable.is_alive(child.pid)
    assert "serving on" in (tmp_path / "logs" / "web.log").read_text()
    assert "web        | serving on" in output.export_text()
    assert supervisor.failure is None


async def test_a_child_that_exits_before_ready_is_reported_with_its_log(tmp_path: Path, output: Console) -> None:
    supervisor = make_supervisor(tmp_path, output)
    broken = python(
        "broken",
        "import sys; print('missing setting FOO'); sys.exit(3)",
        GrpcHealthProbe("127.0.0.1:1"),
        tmp_path,
    )
    await supervisor.start(broken)
    with pytest.raises(ComponentFailed) as failure:
        await supervisor.wait_ready([broken], deadline=time.monotonic() + 20)
    await supervisor.stop()
    assert failure.value.name == "broken"
    assert "exit code 3" in failure.value.reason
    assert failure.value.tail == ["missing setting FOO"]


async def test_a_child_that_never_gets_ready_times_out(tmp_path: Path, output: Console) -> None:
    supervisor = make_supervisor(tmp_path, output)
    idle = python(
        "stubborn",
        "import time; print('thinking'); time.sleep(60)",
        HttpProbe(f"http://127.0.0.1:{free_port()}/"),
        tmp_path,
    )
    await supervisor.start(idle)
    with pytest.raises(ComponentFailed, match="did not become ready"):
        await supervisor.wait_ready([idle], deadline=time.monotonic() + 1)
    await supervisor.stop()


async def test_an_unexpected_exit_after_ready_sets_failed(tmp_path: Path, output: Console) -> None:
    supervisor = make_supervisor(tmp_path, output)
    port = free_port()
    code = f"""
        import http.server, threading, os
        server = http.server.ThreadingHTTPServer(("127.0.0.1", {port}), http.server.SimpleHTTPRequestHandler)
        threading.Timer(1.0, lambda: (print("crashing"), os._exit(7))).start()
        server.serve_forever()
    """
    web = python("web", code, HttpProbe(f"http://127.0.0.1:{port}/"), tmp_path)
    await supervisor.start(web)
    await supervisor.wait_ready([web], deadline=time.monotonic() + 20)
    await asyncio.wait_for(supervisor.failed.wait(), timeout=20)
    assert supervisor.failure is not None
    assert supervisor.failure.name == "web"
    assert "exit code 7" in supervisor.failure.reason
    assert "crashing" in supervisor.failure.tail
    await supervisor.stop()


async def test_stop_kills_what_ignores_sigterm_and_what_left_the_group(
    tmp_path: Path, output: Console, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = make_supervisor(tmp_path, output, grace_s=0.5)
    port = free_port()
    code = f"""
        import http.server, signal, subprocess, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # a grandchild in a session of its own: signalling our process group does not reach it
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        handler = http.server.SimpleHTTPRequestHandler
        http.server.ThreadingHTTPServer(("127.0.0.1", {port}), handler).serve_forever()
    """
    stubborn = python("stubborn", code, HttpProbe(f"http://127.0.0.1:{port}/"), tmp_path)
    child = await supervisor.start(stubborn)
    await supervisor.wait_ready([stubborn], deadline=time.monotonic() + 20)
    family = child.family()
    assert len(family) == 2
    started = time.monotonic()
    await supervisor.stop()
    assert time.monotonic() - started < 10
    assert [pid for pid in family if proctable.is_alive(pid)] == []
    assert "stubborn did not stop within 0.5 s" in caplog.text


async def test_a_missing_program_cannot_start(tmp_path: Path, output: Console) -> None:
    supervisor = make_supervisor(tmp_path, output)
    missing = Component(
        name="broken",
        argv=(str(tmp_path / "nope"),),
        env={},
        probe=HttpProbe("http://x/"),
        tier=0,
        endpoint="",
    )
    with pytest.raises(ComponentFailed, match="could not be started"):
        await supervisor.start(missing)
    await supervisor.stop()
