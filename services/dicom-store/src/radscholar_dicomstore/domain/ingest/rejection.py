"""Why a file was not stored: a stable reason and a sentence naming the file and the problem."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    """The reasons the ingest checks give; the service may add its own (a ``Rejection.reason`` is a plain str)."""

    NOT_DICOM = "NOT_DICOM"
    TRUNCATED = "TRUNCATED"
    MISSING_UID = "MISSING_UID"
    INVALID_UID = "INVALID_UID"
    NOT_AN_INSTANCE = "NOT_AN_INSTANCE"
    UNKNOWN_TRANSFER_SYNTAX = "UNKNOWN_TRANSFER_SYNTAX"
    TOO_LARGE = "TOO_LARGE"
    UNSAFE_PATH = "UNSAFE_PATH"
    ENCRYPTED = "ENCRYPTED"
    NESTED_ARCHIVE = "NESTED_ARCHIVE"
    UNSUPPORTED_COMPRESSION = "UNSUPPORTED_COMPRESSION"
    ZIP_BOMB = "ZIP_BOMB"
    ARCHIVE_TOO_LARGE = "ARCHIVE_TOO_LARGE"
    TOO_MANY_ENTRIES = "TOO_MANY_ENTRIES"
    NOT_A_ZIP = "NOT_A_ZIP"
    CORRUPT_ARCHIVE = "CORRUPT_ARCHIVE"
    NOT_PROCESSED = "NOT_PROCESSED"


@dataclass(frozen=True)
class Rejection:
    """A file (or archive entry, or whole archive) that was not stored, and why.

    ``name`` is what the sender called it (``"scan.zip/dir/0001.dcm"`` for an archive entry); the UIDs are
    filled when the file got far enough to have them, else "".
    """

    name: str
    reason: str
    message: str
    sop_instance_uid: str = ""
    study_instance_uid: str = ""


def human_size(size: int) -> str:
    """A byte count for people: ``812 bytes``, ``1.5 KiB``, ``200.0 MiB``."""
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"
