"""Reading an uploaded zip archive entry by entry, safely: bounded memory, no bombs, no path tricks.

The archive is a seekable file (the route spools the upload to disk). Entries come out one at a time,
each read in bounded chunks and never held beyond ``max_entry_bytes + 1`` bytes. Nothing is written to
disk, so a hostile path could do no harm here; such entries are still refused (UNSAFE_PATH) because an
archive that carries them is not an honest export.

Header sizes are used to refuse early (before anything is decompressed) but never trusted: the bytes
actually decompressed are counted against every limit as they come.
"""

from __future__ import annotations

import io
import itertools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from radscholar_dicomstore.domain.ingest.rejection import Rejection, RejectReason, human_size

_ENCRYPTED_FLAG = 0x1
_ARCHIVE_SUFFIXES = (".zip", ".zipx", ".7z", ".rar", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".zst")
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",  # zip
    b"PK\x05\x06",  # empty zip
    b"PK\x07\x08",  # spanned zip
    b"\x1f\x8b",  # gzip
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"Rar!\x1a\x07",  # RAR
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstd
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_END_RECORD = b"PK\x05\x06"
_END_RECORD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_RECORD = b"PK\x06\x06"


@dataclass(frozen=True)
class ZipLimits:
    """What one archive may hold. Every count is of bytes actually decompressed, not of header claims.

    ``max_ratio`` (decompressed / compressed) is judged only for entries above ``ratio_floor_bytes``:
    small files of zeros legitimately compress a thousandfold. ``max_entries`` counts every record of
    the archive, folders included; ``max_directory_bytes`` bounds the central directory read into memory.
    """

    max_entries: int = 10_000
    max_entry_bytes: int = 1 << 30
    max_total_bytes: int = 16 << 30
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 << 20
    max_directory_bytes: int = 64 << 20
    chunk_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name in (
            "max_entries",
            "max_entry_bytes",
            "max_total_bytes",
            "max_ratio",
            "ratio_floor_bytes",
            "max_directory_bytes",
            "chunk_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"ZipLimits.{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class ZipMember:
    """One entry's content: ``name`` for the report (``"upload.zip/dir/0001.dcm"``), ``path`` inside the archive."""

    name: str
    path: str
    data: bytes


ZipEntryResult = ZipMember | Rejection


@dataclass(frozen=True)
class _Planned:
    info: zipfile.ZipInfo
    name: str
    early: Rejection | None  # refused from the central directory alone
    bomb: bool = False


class _Abandon(Exception):
    """The archive must not be read further (a bomb, or over its total)."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


def iter_zip_instances(
    fileobj: BinaryIO, limits: ZipLimits, *, archive_name: str = "archive.zip"
) -> Iterator[ZipEntryResult]:
    """Yield each file entry's bytes (a ``ZipMember``) or why it was refused (a ``Rejection``).

    Folders, ``__MACOSX/`` and ``.DS_Store`` entries are skipped without a word. A problem with one entry
    (unsafe path, encryption, a nested archive, over the size limit, damage) refuses that entry only. A
    zip bomb stops the archive: the bomb is reported ZIP_BOMB and every entry not yet read NOT_PROCESSED.
    A problem with the archive as a whole (not a zip, too many entries, too large in total) is one
    rejection named after the archive, and nothing in it is read. Never raises for a bad archive.
    """
    archive_size = fileobj.seek(0, 2)
    directory = _central_directory(fileobj, archive_size)
    if directory is None:
        yield _archive_rejection(
            archive_name,
            RejectReason.NOT_A_ZIP,
            "is not a zip archive (or it was cut short: there is no zip directory at its end)",
        )
        return
    entries, directory_bytes = directory
    if entries > limits.max_entries:
        yield _too_many(archive_name, entries, limits)
        return
    if directory_bytes > limits.max_directory_bytes:
        yield _archive_rejection(
            archive_name,
            RejectReason.TOO_MANY_ENTRIES,
            f"has a {human_size(directory_bytes)} zip directory, "
            f"over the {human_size(limits.max_directory_bytes)} limit",
        )
        return
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError, struct.error) as exc:
        yield _archive_rejection(archive_name, RejectReason.CORRUPT_ARCHIVE, f"is a damaged zip archive ({exc})")
        return
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            yield _too_many(archive_name, len(infos), limits)
            return
        plan = [planned for info in infos if (planned := _plan(info, archive_name, limits, archive_size))]
        declared = sum(p.info.file_size for p in plan if p.early is None and not p.bomb)
        if declared > limits.max_total_bytes:
            yield _archive_rejection(
                archive_name,
                RejectReason.ARCHIVE_TOO_LARGE,
                f"expands to {human_size(declared)}, over the {human_size(limits.max_total_bytes)} limit for one "
                "archive; nothing in it was stored (split it into smaller archives)",
            )
            return
        overlap = _overlapping(plan)
        if overlap is not None:
            plan = [
                _Planned(p.info, p.name, _bomb(p.name, "shares its compressed data with another entry"), bomb=True)
                if p is overlap
                else p
                for p in plan
            ]
        first_bomb = next((p for p in plan if p.bomb), None)
        if first_bomb is not None:
            yield from _abandoned(plan, 0, first_bomb.name)
            return

        remaining_total = limits.max_total_bytes
        for index, planned in enumerate(plan):
            if planned.early is not None:
                yield planned.early
                continue
            try:
                result = _read_entry(archive, planned, limits, remaining_total, archive_size)
            except _Abandon as abandon:
                yield abandon.rejection
                yield from _abandoned(plan, index + 1, planned.name)
                return
            if isinstance(result, ZipMember):
                remaining_total -= len(result.data)
            yield result


def unsafe_path_problem(path: str) -> str:
    """Why an entry's path could escape the folder it is extracted into; "" when it cannot."""
    if "\0" in path:
        return "contains a NUL character"
    normal = path.replace("\\", "/")
    if normal.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(normal):
        return "starts with a drive letter"
    if ".." in normal.split("/"):
        return "climbs out of the archive with '..'"
    return ""


def _is_skipped(info: zipfile.ZipInfo) -> bool:
    """Folders and the litter of macOS: not files anyone sent on purpose."""
    normal = info.filename.replace("\\", "/")
    parts = normal.split("/")
    return info.is_dir() or normal.endswith("/") or "__MACOSX" in parts or parts[-1] == ".DS_Store"


def _plan(info: zipfile.ZipInfo, archive_name: str, limits: ZipLimits, archive_size: int) -> _Planned | None:
    """What the central directory alone says about an entry; None for one to skip silently."""
    name = f"{archive_name}/{info.filename}"
    problem = unsafe_path_problem(info.filename)
    if problem:
        refused = Rejection(name, RejectReason.UNSAFE_PATH, f"'{name}' was refused: its path {problem}")
        return _Planned(info, name, refused)
    if _is_skipped(info):
        return None
    if info.flag_bits & _ENCRYPTED_FLAG:
        return _Planned(
            info, name, Rejection(name, RejectReason.ENCRYPTED, f"'{name}' is encrypted; send it without a password")
        )
    if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
        return _Planned(info, name, _nested(name))
    ratio = info.file_size / _compressed_bytes(info, archive_size)
    if info.file_size > limits.max_entry_bytes:
        if ratio > limits.max_ratio:
            return _Planned(info, name, _bomb(name, f"claims {human_size(info.file_size)} at {ratio:.0f}x"), bomb=True)
        return _Planned(info, name, _entry_too_large(name, info.file_size, limits))
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        too_much = f"expands {ratio:.0f}x ({human_size(info.file_size)} from {human_size(info.compress_size)})"
        return _Planned(info, name, _bomb(name, too_much), bomb=True)
    return _Planned(info, name, None)


def _compressed_bytes(info: zipfile.ZipInfo, archive_size: int) -> int:
    """The entry's compressed size, as far as the archive can hold it (a header may claim more)."""
    return max(1, min(info.compress_size, archive_size - info.header_offset))


def _overlapping(plan: list[_Planned]) -> _Planned | None:
    """An entry whose compressed data overlaps another's: the mark of a non-recursive zip bomb."""
    ordered = sorted(plan, key=lambda p: p.info.header_offset)
    for before, after in itertools.pairwise(ordered):
        if after.info.header_offset < before.info.header_offset + max(before.info.compress_size, 1):
            return after
    return None


def _read_entry(
    archive: zipfile.ZipFile, planned: _Planned, limits: ZipLimits, remaining_total: int, archive_size: int
) -> ZipEntryResult:
    """Decompress one entry in chunks, counting real bytes against every limit."""
    info, name = planned.info, planned.name
    compressed = _compressed_bytes(info, archive_size)
    ratio_cap = max(limits.ratio_floor_bytes, limits.max_ratio * compressed)
    content = io.BytesIO()  # getvalue() hands over its buffer: the entry is held once, not twice
    count = 0
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(min(limits.chunk_bytes, limits.max_entry_bytes + 1 - count))
                if not chunk:
                    break
                if count == 0 and _is_archive(chunk):
                    return _nested(name)
                count += len(chunk)
                content.write(chunk)
                del chunk
                if count > limits.max_entry_bytes:
                    raise _Abandon(
                        _bomb(
                            name,
                            f"decompresses past the {human_size(limits.max_entry_bytes)} limit for one file "
                            f"although its header claims {human_size(info.file_size)}",
                        )
                    )
                if count > ratio_cap:
                    raise _Abandon(
                        _bomb(name, f"expands more than {limits.max_ratio:.0f}x, to {human_size(count)} so far")
                    )
                if count > remaining_total:
                    raise _Abandon(
                        Rejection(
                            name,
                            RejectReason.ARCHIVE_TOO_LARGE,
                            f"'{name}' takes the archive past its {human_size(limits.max_total_bytes)} limit; "
                            "the rest of the archive was not read",
                        )
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as exc:
        return Rejection(name, RejectReason.CORRUPT_ARCHIVE, f"'{name}' is damaged in the archive ({exc})")
    except NotImplementedError as exc:
        return Rejection(
            name, RejectReason.UNSUPPORTED_COMPRESSION, f"'{name}' uses a compression this service cannot read ({exc})"
        )
    except RuntimeError as exc:  # zipfile's "password required"
        return Rejection(name, RejectReason.ENCRYPTED, f"'{name}' is encrypted; send it without a password ({exc})")
    return ZipMember(name=name, path=info.filename, data=content.getvalue())


def _is_archive(head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return False  # a DICOM preamble may hold anything, even an archive signature
    return head.startswith(_ARCHIVE_MAGIC) or head[257:262] == b"ustar"


def _abandoned(plan: list[_Planned], start: int, culprit: str) -> Iterator[Rejection]:
    """Reports for entries left unread once an archive is given up."""
    for planned in plan[start:]:
        if planned.early is not None:
            yield planned.early
        else:
            yield Rejection(
                planned.name,
                RejectReason.NOT_PROCESSED,
                f"'{planned.name}' was not processed: the archive was given up because of '{culprit}'",
            )


def _central_directory(fileobj: BinaryIO, archive_size: int) -> tuple[int, int] | None:
    """(entries, directory bytes) from the end record, read before zipfile loads anything; None if there is none."""
    tail_size = min(archive_size, _END_RECORD_SIZE + 0xFFFF)
    fileobj.seek(archive_size - tail_size)
    tail = fileobj.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < _END_RECORD_SIZE:
        return None
    _, _, _, _, entries, directory_bytes, _, _ = struct.unpack_from("<4s4H2LH", tail, at)
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        end_record_offset = archive_size - tail_size + at
        zip64 = _zip64_directory(fileobj, end_record_offset)
        if zip64 is not None:
            return zip64
    return entries, directory_bytes


def _zip64_directory(fileobj: BinaryIO, end_record_offset: int) -> tuple[int, int] | None:
    if end_record_offset < 20:
        return None
    fileobj.seek(end_record_offset - 20)
    locator = fileobj.read(20)
    if len(locator) < 20 or not locator.startswith(_ZIP64_LOCATOR):
        return None
    record_offset = struct.unpack_from("<Q", locator, 8)[0]
    fileobj.seek(record_offset)
    record = fileobj.read(56)
    if len(record) < 56 or not record.startswith(_ZIP64_END_RECORD):
        return None
    entries, directory_bytes = struct.unpack_from("<2Q", record, 32)
    return entries, directory_bytes


def _archive_rejection(archive_name: str, reason: RejectReason, problem: str) -> Rejection:
    return Rejection(archive_name, reason, f"'{archive_name}' {problem}")


def _too_many(archive_name: str, entries: int, limits: ZipLimits) -> Rejection:
    return _archive_rejection(
        archive_name,
        RejectReason.TOO_MANY_ENTRIES,
        f"has {entries} entries, over the {limits.max_entries} limit for one archive; nothing in it was stored",
    )


def _bomb(name: str, what: str) -> Rejection:
    return Rejection(
        name,
        RejectReason.ZIP_BOMB,
        f"'{name}' {what}: treated as a zip bomb, and the rest of the archive was not read",
    )


def _nested(name: str) -> Rejection:
    return Rejection(
        name,
        RejectReason.NESTED_ARCHIVE,
        f"'{name}' is an archive inside the archive; archives are not expanded twice, upload it on its own",
    )


def _entry_too_large(name: str, size: int, limits: ZipLimits) -> Rejection:
    return Rejection(
        name,
        RejectReason.TOO_LARGE,
        f"'{name}' is {human_size(size)}, over the {human_size(limits.max_entry_bytes)} limit for one file",
    )
