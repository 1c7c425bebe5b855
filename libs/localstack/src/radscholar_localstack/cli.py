"""``python -m radscholar_localstack up``: the whole platform on this machine, stopped by Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import logging
import os
import signal
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.table import Table
from rich.text import Text

from radscholar_localstack import measure, ray_head
from radscholar_localstack.components import (
    TIER_GATEWAY,
    TIER_INFRASTRUCTURE,
    TIER_SERVICES,
    Component,
    build_components,
    data_directories,
)
from radscholar_localstack.config import (
    ADMIN_USERNAME,
    DEFAULT_DICOMWEB_PLUGIN,
    DEFAULT_ORTHANC_BINARY,
    LOOPBACK,
    SERVICES,
    Ports,
    StackConfig,
)
from radscholar_localstack.console import ConsoleLogHandler, StackConsole
from radscholar_localstack.credentials import StackSecrets, load_secrets
from radscholar_localstack.orthanc_config import write_orthanc_config
from radscholar_localstack.ports import port_conflicts
from radscholar_localstack.supervisor import ComponentFailed, Supervisor

log = logging.getLogger("radscholar_localstack")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_START = 2

#: Printed once everything answers; tests and scripts wait for this phrase.
READY_PHRASE = "RadScholar is ready at"

T = TypeVar("T")

PORT_OPTIONS: dict[str, str] = {
    "gateway": "gateway HTTP (default 8000)",
    "orthanc_http": "Orthanc REST/DICOMweb (default 8042)",
    "orthanc_dicom": "Orthanc DICOM (default 4242)",
    "mlflow": "MLflow tracking server (default 5000)",
    "ray_gcs": "Ray GCS (default 6380; 6379 is Redis's)",
    "ray_dashboard": "Ray dashboard and Jobs API (default 8265)",
    "ray_client": "Ray client server (default 10001)",
    "ray_agent": "Ray dashboard agent (default 52365)",
    **{name: f"{name} gRPC (default {getattr(Ports(), name)})" for name, _, _ in SERVICES},
}


@dataclasses.dataclass(frozen=True)
class UpOptions:
    """What ``up`` does besides running the stack."""

    demo: bool = False
    measure: bool = False
    measure_settle_s: float = 10.0
    exit_when_ready: bool = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m radscholar_localstack",
        description="Run RadScholar on this machine: Orthanc, MLflow, Ray, the services and the gateway.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser(
        "up",
        help="start everything, wait until ready, stop everything on Ctrl-C",
        description="Start every component as a child process, wait until all are ready, print the "
        "gateway URL, stream one merged log, and stop everything on Ctrl-C / SIGTERM.",
    )
    up.add_argument("--data-dir", type=Path, default=Path("var"), help="all state lives here (default ./var)")
    up.add_argument("--host", default=LOOPBACK, help="address the gateway binds (default 127.0.0.1)")
    up.add_argument("--demo", action="store_true", help="load synthetic CT studies and a demo project once")
    up.add_argument("--no-ray", dest="ray", action="store_false", help="do not start a Ray head")
    up.add_argument("--ray-num-cpus", type=int, default=2, help="CPUs the Ray head offers (default 2)")
    up.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for readiness")
    up.add_argument("--stop-timeout", type=float, default=10.0, help="seconds before SIGKILL on shutdown")
    up.add_argument("--orthanc-binary", type=Path, default=DEFAULT_ORTHANC_BINARY)
    up.add_argument("--dicomweb-plugin", type=Path, default=DEFAULT_DICOMWEB_PLUGIN)
    up.add_argument(
        "--measure",
        action="store_true",
        help="once ready and idle, print the time to ready and the resident memory of every child",
    )
    up.add_argument("--measure-settle", type=float, default=10.0, help="idle seconds before measuring")
    up.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop everything and exit 0 once ready (after --demo / --measure): a smoke test",
    )
    ports = up.add_argument_group("ports")
    ports.add_argument(
        "--port-base",
        type=int,
        help="consecutive ports from N: gateway N, orthanc http N+1, orthanc dicom N+2, mlflow N+3, "
        "ray gcs N+4, ray dashboard N+5, dicomstore..stats N+6..N+10, ray client N+11, ray agent N+12",
    )
    for name, help_text in PORT_OPTIONS.items():
        flag = "--" + name.replace("_", "-").replace("ray-gcs", "ray") + "-port"
        ports.add_argument(flag, dest=f"port_{name}", type=int, help=help_text)
    return parser


def config_from_args(args: argparse.Namespace) -> StackConfig:
    base = Ports.from_base(args.port_base) if args.port_base is not None else Ports()
    ports = base.with_overrides({name: getattr(args, f"port_{name}") for name in PORT_OPTIONS})
    return StackConfig(
        data_dir=Path(os.path.abspath(args.data_dir)),
        ports=ports,
        gateway_host=args.host,
        ray_enabled=args.ray,
        ray_num_cpus=args.ray_num_cpus,
        orthanc_binary=args.orthanc_binary,
        dicomweb_plugin=args.dicomweb_plugin,
        ready_timeout_s=args.ready_timeout,
        stop_grace_s=args.stop_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    options = UpOptions(
        demo=args.demo,
        measure=args.measure,
        measure_settle_s=args.measure_settle,
        exit_when_ready=args.exit_when_ready,
    )
    try:
        return asyncio.run(up(config, options))
    except KeyboardInterrupt:  # Ctrl-C before the supervisor took over the signal: nothing runs yet
        return EXIT_OK


def _setup_logging(stack_console: StackConsole) -> None:
    handler = ConsoleLogHandler(stack_console)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    level = os.environ.get("RADSCHOLAR_LOG_LEVEL", "INFO").upper()  # the services' setting, shared
    log.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
    log.propagate = False


def missing_prerequisites(config: StackConfig, components: Sequence[Component]) -> list[str]:
    """What is not installed, in words a person can act on."""
    problems = []
    if not config.orthanc_binary.exists():
        problems.append(f"Orthanc is not at {config.orthanc_binary} (apt-get install orthanc orthanc-dicomweb)")
    if not config.dicomweb_plugin.exists():
        problems.append(f"the DICOMweb plugin is not at {config.dicomweb_plugin} (apt-get install orthanc-dicomweb)")
    for component in components:
        if component.argv[1:2] == ("-m",) and importlib.util.find_spec(component.argv[2]) is None:
            problems.append(f"{component.argv[2]} is not installed in this Python ({component.argv[0]})")
    return problems


def admin_notice(config: StackConfig) -> str:
    """The line a first start prints: whom to sign in as and where the password is (never the password)."""
    return f"first start: sign in as {ADMIN_USERNAME!r} with the password in {config.admin_password_file}"


class OnceNotice:
    """A line shown once per run: with the ready banner, or when the run ends before that."""

    def __init__(self, text: str | None) -> None:
        self._text = text

    def take(self) -> str | None:
        text, self._text = self._text, None
        return text


def prepare(config: StackConfig, secrets: StackSecrets, ray_temp_dir: ray_head.RayTempDir) -> None:
    """Create the data directory tree, Orthanc's configuration and Ray's temp dir."""
    for directory in data_directories(config):
        directory.mkdir(parents=True, exist_ok=True)
    write_orthanc_config(config, secrets.orthanc_password)
    if config.ray_enabled:
        if ray_temp_dir.fallback:
            log.warning(
                "%s is too long for Ray's socket paths (at most %d characters); "
                "Ray keeps its session in %s instead (linked from there)",
                config.ray_dir,
                ray_head.MAX_TEMP_DIR_LEN,
                ray_temp_dir.path,
            )
        ray_head.prepare_temp_dir(ray_temp_dir, config.ray_dir)


async def up(config: StackConfig, options: UpOptions) -> int:
    """Run the stack until Ctrl-C / SIGTERM (exit 0) or until a component fails (exit 1)."""
    started = time.monotonic()
    names = ["orthanc", "mlflow", "ray", *(name for name, _, _ in SERVICES), "gateway"]
    stack_console = StackConsole(names)
    _setup_logging(stack_console)

    try:
        secrets = load_secrets(config)
    except (ValueError, OSError) as error:
        log.error("cannot start: %s", error)
        return EXIT_CANNOT_START
    # Created by this start: the operator learns where the admin password is, once.
    notice = OnceNotice(admin_notice(config) if secrets.admin_password_created else None)
    try:
        return await _run(config, options, stack_console, secrets, notice, started)
    finally:
        text = notice.take()
        if text is not None:
            log.warning(text)


async def _run(
    config: StackConfig,
    options: UpOptions,
    stack_console: StackConsole,
    secrets: StackSecrets,
    notice: OnceNotice,
    started: float,
) -> int:
    temp_dir = ray_head.choose_temp_dir(config.ray_dir)

    async def stop_ray_leftovers() -> None:
        await asyncio.to_thread(ray_head.stop_leftovers, temp_dir.path, config.stop_grace_s)

    components = build_components(config, secrets, temp_dir.path, stop_ray_leftovers)
    problems = missing_prerequisites(config, components)
    if problems:
        for problem in problems:
            log.error("cannot start: %s", problem)
        return EXIT_CANNOT_START
    conflicts = port_conflicts(claim for component in components for claim in component.ports)
    if conflicts:
        for conflict in conflicts:
            log.error("cannot start: %s", conflict.describe())
        log.error("stop what holds those ports, or choose others (--port-base N or --<component>-port)")
        return EXIT_CANNOT_START
    if config.ray_enabled and ray_head.ray_processes(temp_dir.path):
        log.error("cannot start: a Ray head from an earlier run still uses %s", temp_dir.path)
        return EXIT_CANNOT_START

    prepare(config, secrets, temp_dir)
    log.info("data directory %s", config.data_dir)
    supervisor = Supervisor(stack_console, config.logs_dir, config.stop_grace_s)
    stop_requested = asyncio.Event()
    _install_signal_handlers(stop_requested, supervisor)
    try:
        ready, _ = await _first_of(_bring_up(supervisor, components, config), stop_requested)
        if not ready:
            log.info("interrupted before the stack was ready")
            return EXIT_OK
        ready_s = time.monotonic() - started
        _show_ready(stack_console, config, supervisor, ready_s, notice.take())
        if options.demo:
            await _first_of(_load_demo(config, secrets), stop_requested, supervisor.failed)
        settled = False
        if options.measure:
            settled, _ = await _first_of(asyncio.sleep(options.measure_settle_s), stop_requested, supervisor.failed)
        if settled:
            _show_memory(stack_console, config, supervisor, temp_dir.path, ready_s)
        if not options.exit_when_ready:
            log.info("press Ctrl-C to stop")
            await _first_of(stop_requested.wait(), supervisor.failed)
        if supervisor.failure is not None:
            _report(stack_console, config, supervisor.failure)
            return EXIT_FAILED
        return EXIT_OK
    except ComponentFailed as failure:
        _report(stack_console, config, failure)
        return EXIT_FAILED
    finally:
        log.info("stopping the stack")
        await supervisor.stop()
        log.info("stopped")


async def _bring_up(supervisor: Supervisor, components: Sequence[Component], config: StackConfig) -> None:
    deadline = time.monotonic() + config.ready_timeout_s
    for tier in (TIER_INFRASTRUCTURE, TIER_SERVICES, TIER_GATEWAY):
        batch = [component for component in components if component.tier == tier]
        for component in batch:
            await supervisor.start(component)
        await supervisor.wait_ready(batch, deadline)


async def _first_of(work: Coroutine[Any, Any, T], *events: asyncio.Event) -> tuple[bool, T | None]:
    """Run ``work`` unless one of ``events`` is set first: (True, its result), or (False, None) if cut."""
    task = asyncio.ensure_future(work)
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait([task, *waiters], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False, None


def _install_signal_handlers(stop_requested: asyncio.Event, supervisor: Supervisor) -> None:
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        if stop_requested.is_set():
            log.warning("%s again: killing everything now", signum.name)
            supervisor.kill_now()
            return
        log.info("%s received", signum.name)
        stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)


def _show_ready(
    stack_console: StackConsole,
    config: StackConfig,
    supervisor: Supervisor,
    ready_s: float,
    notice: str | None = None,
) -> None:
    table = Table(title="Components", title_justify="left")
    table.add_column("component")
    table.add_column("address")
    table.add_column("pid", justify="right")
    table.add_column("ready after", justify="right")
    for child in supervisor.children:
        ready = f"{child.ready_after_s:.1f} s" if child.ready_after_s is not None else "-"
        table.add_row(child.component.name, child.component.endpoint, str(child.pid), ready)
    stack_console.show(table)
    stack_console.show(f"data: {config.data_dir}   logs: {config.logs_dir}   secrets: {config.secrets_dir}")
    if notice is not None:
        stack_console.show(Text(notice, style="bold yellow"), soft_wrap=True)
    stack_console.show(Text(f"{READY_PHRASE} {config.gateway_url} (started in {ready_s:.1f} s)", style="bold green"))


def _show_memory(
    stack_console: StackConsole, config: StackConfig, supervisor: Supervisor, ray_temp: Path, ready_s: float
) -> None:
    families: dict[str, list[int]] = {}
    for child in supervisor.children:
        pids = child.family()
        if child.component.name == "ray":
            pids += [pid for pid in ray_head.ray_processes(ray_temp) if pid not in pids]
        families[child.component.name] = pids
    rows = measure.measure(families)
    stack_console.show(measure.memory_table(rows, ready_s))
    summary = {
        "ready_s": round(ready_s, 1),
        "rss_mib": round(sum(row.rss for row in rows) / measure.MIB, 1),
        "pss_mib": round(sum(row.pss for row in rows) / measure.MIB, 1),
        "processes": sum(row.processes for row in rows),
        "components": {row.name: round(row.rss / measure.MIB, 1) for row in rows},
    }
    (config.logs_dir / "measure.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("measure: %s", json.dumps(summary))


async def _load_demo(config: StackConfig, secrets: StackSecrets) -> None:
    """Load the demo; a failure is reported and the stack keeps running."""
    from radscholar_localstack.demo import load_demo

    try:
        await load_demo(config, secrets)
    except Exception as error:
        log.error("demo could not be loaded: %s", error)
        log.debug("demo failure", exc_info=True)


def _report(stack_console: StackConsole, config: StackConfig, failure: ComponentFailed) -> None:
    log.error("%s %s", failure.name, failure.reason)
    if failure.tail:
        log.error("last %d lines of its log (%s):", len(failure.tail), config.logs_dir)
        for line in failure.tail:
            stack_console.line(failure.name.split(",")[0], line)
