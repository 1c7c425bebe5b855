"""Runs Components as child processes: start, merged logging, readiness, failure watch, shutdown.

Each child runs in its own session (so its process group can be signalled as a whole and a
terminal's Ctrl-C reaches only the supervisor), asks the kernel for SIGTERM should the supervisor
die (Linux), and writes stdout+stderr into one pipe that is copied to DATA_DIR/logs/<name>.log and to
the merged console log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from radscholar_localstack import proctable
from radscholar_localstack.components import Component
from radscholar_localstack.console import StackConsole, strip_ansi

log = logging.getLogger(__name__)

TAIL_LINES = 40
POLL_INTERVAL_S = 0.25
READ_CHUNK = 65536


class ComponentFailed(Exception):
    """A component exited or did not become ready; carries the tail of its log."""

    def __init__(self, name: str, reason: str, tail: list[str]) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason
        self.tail = tail


@dataclass
class Child:
    """A started component and what the supervisor keeps about it."""

    component: Component
    process: asyncio.subprocess.Process
    log_file: IO[str]
    started_at: float
    exited: asyncio.Event
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    ready_after_s: float | None = None
    pump: asyncio.Task[None] | None = None
    watch: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def family(self) -> list[int]:
        """The child and every process below it that is still alive."""
        return [self.pid, *proctable.descendants(self.pid)]


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when the supervisor dies, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl  # resolved before fork, called after
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return hook


class Supervisor:
    """Owns the children of the stack; one instance per ``up``."""

    def __init__(self, console: StackConsole, logs_dir: Path, grace_s: float = 10.0) -> None:
        self._console = console
        self._logs_dir = logs_dir
        self._grace_s = grace_s
        self._children: dict[str, Child] = {}
        self._stopping = False
        self._preexec = _parent_death_signal()
        self.failure: ComponentFailed | None = None
        self.failed = asyncio.Event()

    @property
    def children(self) -> list[Child]:
        return list(self._children.values())

    def child(self, name: str) -> Child:
        return self._children[name]

    async def start(self, component: Component) -> Child:
        """Start one component; its output goes to the merged log and DATA_DIR/logs/<name>.log."""
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._logs_dir / f"{component.name}.log"
        if log_path.exists():
            log_path.replace(log_path.with_suffix(".previous.log"))
        log_file = log_path.open("w", encoding="utf-8", buffering=1)
        loop = asyncio.get_running_loop()
        try:
            # What asyncio.create_subprocess_exec does, with a protocol that also signals the exit.
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitSignallingProtocol(loop),
                *component.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, **component.env},
                cwd=component.cwd,
                start_new_session=True,
                preexec_fn=self._preexec,
            )
        except OSError as error:
            log_file.close()
            raise ComponentFailed(component.name, f"could not be started: {error}", []) from error
        process = asyncio.subprocess.Process(transport, protocol, loop)
        child = Child(
            component=component,
            process=process,
            log_file=log_file,
            started_at=time.monotonic(),
            exited=protocol.exited,
        )
        self._children[component.name] = child
        child.pump = asyncio.create_task(self._pump(child), name=f"pump-{component.name}")
        child.watch = asyncio.create_task(self._watch(child), name=f"watch-{component.name}")
        log.info("started %s (pid %d)", component.name, process.pid)
        return child

    async def _pump(self, child: Child) -> None:
        stream = child.process.stdout
        assert stream is not None
        pending = b""
        while chunk := await stream.read(READ_CHUNK):
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                self._emit(child, raw)
        if pending:
            self._emit(child, pending)

    def _emit(self, child: Child, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        plain = strip_ansi(text)
        child.tail.append(plain)
        with contextlib.suppress(ValueError):  # the file was closed during a forced stop
            child.log_file.write(plain + "\n")
        self._console.line(child.component.name, text)

    async def _watch(self, child: Child) -> None:
        await child.exited.wait()
        code = child.process.returncode
        if self._stopping:
            return
        if child.pump is not None:  # let the last lines arrive before quoting them
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(child.pump), timeout=1.0)
        if self.failure is None:
            self.failure = ComponentFailed(
                child.component.name, f"exited unexpectedly with {describe_exit(code)}", list(child.tail)
            )
        self.failed.set()

    async def wait_ready(self, components: Iterable[Component], deadline: float) -> None:
        """Poll every component's probe until all pass; raise ComponentFailed naming what did not."""
        pending = [self._children[component.name] for component in components]
        while pending:
            if self.failure is not None:
                raise self.failure
            for child in pending:
                if child.process.returncode is not None:
                    await asyncio.sleep(0.2)  # let the watcher collect the last lines
                    raise self.failure or ComponentFailed(
                        child.component.name,
                        f"exited with {describe_exit(child.process.returncode)} before becoming ready",
                        list(child.tail),
                    )
            results = await asyncio.gather(*(_safe_check(child) for child in pending))
            now = time.monotonic()
            for child, ready in zip(pending, results, strict=True):
                if ready:
                    child.ready_after_s = now - child.started_at
                    log.info("%s is ready (%.1f s)", child.component.name, child.ready_after_s)
            pending = [child for child, ready in zip(pending, results, strict=True) if not ready]
            if pending and now >= deadline:
                first = pending[0]
                names = ", ".join(child.component.name for child in pending)
                raise ComponentFailed(
                    first.component.name if len(pending) == 1 else names,
                    f"did not become ready in time (waiting for {first.component.probe.describe()})",
                    list(first.tail),
                )
            if pending:
                await asyncio.sleep(POLL_INTERVAL_S)

    async def stop(self) -> None:
        """Stop every child: SIGTERM to each process group, SIGKILL after the grace period,
        then whatever escaped its group and each component's stop hook."""
        self._stopping = True
        children = self.children
        if not children:
            return
        families = {child.component.name: child.family() for child in children}
        for child in reversed(children):
            if child.process.returncode is None:
                log.info("stopping %s", child.component.name)
                _signal_group(child.pid, signal.SIGTERM)
        await _all_exited(children, self._grace_s)
        for child in children:
            if child.process.returncode is None:
                log.warning("%s did not stop within %g s; killing it", child.component.name, self._grace_s)
                _signal_group(child.pid, signal.SIGKILL)
        await _all_exited(children, None)
        strays = [pid for pids in families.values() for pid in pids if proctable.is_alive(pid)]
        if strays:
            log.info("stopping %d process(es) left behind", len(strays))
            await asyncio.to_thread(proctable.terminate, strays, 3.0)
        for child in children:
            if child.component.stop_hook is not None:
                try:
                    await child.component.stop_hook()
                except Exception:
                    log.exception("stop hook of %s failed", child.component.name)
        await self._close_logs(children)

    def kill_now(self) -> None:
        """SIGKILL everything at once (a second Ctrl-C); stop() still runs to reap and close."""
        self._stopping = True
        for child in self.children:
            pids = child.family()
            _signal_group(child.pid, signal.SIGKILL)
            proctable.signal_all(pids, signal.SIGKILL)

    async def _close_logs(self, children: list[Child]) -> None:
        pumps = [child.pump for child in children if child.pump is not None]
        if pumps:
            _, unfinished = await asyncio.wait(pumps, timeout=2.0)
            for task in unfinished:  # a grandchild still holds the pipe open
                task.cancel()
        for child in children:
            if child.watch is not None:
                child.watch.cancel()
            child.log_file.close()


class _ExitSignallingProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Sets ``exited`` as soon as the child exits.

    ``Process.wait()`` is not enough: on Python 3.11 it also waits until every holder of the output
    pipe has closed it, and a grandchild (a Ray worker, say) may hold it long after the child has gone.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=READ_CHUNK, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


async def _all_exited(children: list[Child], within_s: float | None) -> None:
    """Return when every child has exited, or after ``within_s`` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await asyncio.gather(*(child.exited.wait() for child in children))


async def _safe_check(child: Child) -> bool:
    try:
        return await child.component.probe.check()
    except Exception as error:  # a probe bug must read as "not ready", not crash the stack
        log.debug("probe of %s raised %r", child.component.name, error)
        return False


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
