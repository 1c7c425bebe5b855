"""Secrets generated once per data directory and kept in owner-only files (never logged)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

SECRET_FILE_MODE = 0o600
SECRET_DIR_MODE = 0o700


def ensure_secret(path: Path, nbytes: int = 32) -> str:
    """The secret stored at ``path``, generating it (``secrets.token_urlsafe``) on first use.

    The file is created with mode 600 in a directory with mode 700, and its mode is tightened again
    if someone loosened it; an empty or unreadable file is an error rather than silently replaced,
    because other stores (Orthanc's users) were configured with the old value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, SECRET_DIR_MODE)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != SECRET_FILE_MODE:
            os.chmod(path, SECRET_FILE_MODE)
        existing = path.read_text(encoding="utf-8").strip()
        if not existing:
            raise ValueError(f"secret file {path} is empty; delete it to generate a new one") from None
        return existing
    try:
        os.write(fd, value.encode("utf-8"))
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)
    return value


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 600 (the file holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
