"""Where sign-ins are kept between runs: one token pair per gateway URL, in a file only you can read.

The file is ``$XDG_CONFIG_HOME/radscholar/credentials.json`` (``~/.config/radscholar/`` by default),
mode 600 in a directory made with mode 700, and is always replaced whole (write a sibling, then
rename), so a crash never leaves half a file. Writers take an exclusive lock on a sibling ``.lock``
file: two runs that refresh the same sign-in at once would otherwise both spend the one-use refresh
token, and the gateway ends a session whose refresh token is used twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

try:  # POSIX; elsewhere writers are not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "credentials.json"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


@dataclass(frozen=True)
class Login:
    """A password sign-in at one gateway: the token pair and whose it is. Tokens never show in repr."""

    username: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime
    refresh_expires_at: datetime

    @classmethod
    def from_token_pair(cls, body: dict[str, Any], username: str) -> Login:
        """From the gateway's answer to login, refresh or a password change."""
        return cls(
            username=username,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            access_expires_at=_aware(body["access_expires_at"]),
            refresh_expires_at=_aware(body["refresh_expires_at"]),
        )

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Login:
        return cls.from_token_pair(entry, entry.get("username", ""))

    def to_json(self) -> dict[str, str]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at.isoformat(),
            "refresh_expires_at": self.refresh_expires_at.isoformat(),
            "username": self.username,
        }

    def access_expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        return self.access_expires_at <= (now or datetime.now(UTC)) + margin


def _aware(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def default_path() -> Path:
    """``$XDG_CONFIG_HOME/radscholar/credentials.json``, XDG_CONFIG_HOME defaulting to ``~/.config``."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "radscholar" / FILE_NAME


class CredentialStore:
    """Keeps {url: Login} in a JSON file; ``path`` defaults to :func:`default_path` (read when built)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._lock_fd: int | None = None

    def get(self, url: str) -> Login | None:
        return self.logins().get(_key(url))

    def logins(self) -> dict[str, Login]:
        """Every stored sign-in by URL; an unreadable file or entry counts as absent."""
        found: dict[str, Login] = {}
        for url, entry in self._read().items():
            try:
                found[url] = Login.from_json(entry)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        return found

    def save(self, url: str, login: Login) -> None:
        with self.locked():
            entries = self._read()
            entries[_key(url)] = login.to_json()
            self._write(entries)

    def remove(self, url: str) -> bool:
        """Forgets the sign-in at ``url``; whether there was one."""
        with self.locked():
            entries = self._read()
            if entries.pop(_key(url), None) is None:
                return False
            self._write(entries)
            return True

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the store for read-modify-write across threads and processes; re-entrant."""
        with self._thread_lock:
            if self._depth == 0 and fcntl is not None:
                self._ensure_directory()
                fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return {}
        return {url: entry for url, entry in data.items() if isinstance(entry, dict)} if isinstance(data, dict) else {}

    def _ensure_directory(self) -> None:
        """Creates the folder (mode 700) when absent; an existing folder is left as it is."""
        directory = self.path.parent
        if directory.is_dir():
            return
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, DIRECTORY_MODE)
            os.chmod(directory, DIRECTORY_MODE)  # the umask may have taken bits off

    def _write(self, entries: dict[str, Any]) -> None:
        self._ensure_directory()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), FILE_MODE)
                json.dump(entries, file, indent=2, sort_keys=True)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _fsync_directory(self.path.parent)


def _key(url: str) -> str:
    return url.rstrip("/")


def _fsync_directory(directory: Path) -> None:
    """Makes the rename durable; not possible on every platform, where it is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
