"""A minimal view of the process table through Linux's /proc (no psutil dependency).

Used to find every process a child left behind (Ray spawns daemons), to stop processes that carry
our Ray temp directory on their command line, and to measure resident memory. On systems without
/proc the functions return nothing rather than fail.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessMemory:
    """Memory of one process in bytes: RSS (shared pages counted in full) and PSS (shared split)."""

    pid: int
    rss: int
    pss: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    return raw[raw.rfind(")") + 2 :].split()


def _pids() -> list[int]:
    try:
        return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]
    except OSError:
        return []


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` in the process tree (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for candidate in _pids():
        fields = _stat_fields(candidate)
        if fields is not None and fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(candidate)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.append(child)
                frontier.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _own_pids() -> list[int]:
    """Live processes of this user, other than this one."""
    uid = os.getuid()
    own = os.getpid()
    found = []
    for pid in _pids():
        if pid == own:
            continue
        try:
            if (PROC / str(pid)).stat().st_uid == uid:
                found.append(pid)
        except OSError:
            continue
    return found


def _uses_path(pid: int, root: str) -> bool:
    """True when ``pid`` runs in, or holds open a file under, ``root`` (a directory path)."""
    prefix = root.rstrip("/") + "/"
    try:
        if os.readlink(PROC / str(pid) / "cwd").startswith(prefix):
            return True
        for fd in os.listdir(PROC / str(pid) / "fd"):
            with contextlib.suppress(OSError):
                if os.readlink(PROC / str(pid) / "fd" / fd).startswith(prefix):
                    return True
    except OSError:
        return False
    return False


def find_by_cmdline(needle: str) -> list[int]:
    """Live processes of this user (other than this one) whose command line contains ``needle``."""
    return [pid for pid in _own_pids() if any(needle in part for part in cmdline(pid)) and is_alive(pid)]


def find_using_directory(directory: str) -> list[int]:
    """Live processes of this user that name ``directory`` on their command line, run in it, or hold a
    file under it open (processes that rewrite their title, such as Ray's agents, still hold their logs)."""
    return [
        pid
        for pid in _own_pids()
        if (any(directory in part for part in cmdline(pid)) or _uses_path(pid, directory)) and is_alive(pid)
    ]


def executable(pid: int) -> str:
    """The resolved path of the program ``pid`` runs, or "" when unknown."""
    try:
        return os.readlink(PROC / str(pid) / "exe").removesuffix(" (deleted)")
    except OSError:
        return ""


def _status_kib(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory(pid: int) -> ProcessMemory | None:
    """RSS and PSS of ``pid``, or None when it has gone."""
    base = PROC / str(pid)
    rss = _status_kib(base / "status", "VmRSS")
    if rss == 0 and not is_alive(pid):
        return None
    pss = _status_kib(base / "smaps_rollup", "Pss") or rss
    return ProcessMemory(pid=pid, rss=rss * 1024, pss=pss * 1024)


def signal_all(pids: Iterable[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def terminate(pids: Iterable[int], grace_s: float) -> list[int]:
    """SIGTERM ``pids``, wait up to ``grace_s`` for them to go, SIGKILL the rest; returns the killed ones.

    Blocking (it sleeps): call it from a thread in async code.
    """
    remaining = [pid for pid in pids if is_alive(pid)]
    signal_all(remaining, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [pid for pid in remaining if is_alive(pid)]
    signal_all(remaining, signal.SIGKILL)
    return remaining
