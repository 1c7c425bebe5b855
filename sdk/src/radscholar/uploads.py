"""Uploading DICOM files and zip archives: finding the files, cutting them into batches, matching the
gateway's report lines to the files sent, and the resume journal. No HTTP here: see ``Client.upload``.

The gateway answers one report line per DICOM instance (a zip archive gives one per entry, named
``archive.zip/entry``), each ``stored``, ``already_present`` or ``rejected``. A file counts as *done*
when it got at least one line and none of its lines is ``rejected``; only done files go in the journal.

The resume journal of ``radscholar upload DIR`` lives in the user's cache folder, not in DIR:
``$XDG_CACHE_HOME/radscholar/uploads/<hash>.jsonl`` (``~/.cache`` by default), one journal per absolute
folder path and gateway URL (and site and project, when the upload names them). So a read-only or shared
data folder is never written to, copying the folder carries no stale state along, and uploading the same
folder to a second gateway, or into another site or project, sends everything there. It is JSON Lines,
appended after each batch (a crash loses at most the batches in flight): a header line
``{"journal": "radscholar-upload", "version": 1, "url": ..., "folder": ...}`` (with ``"site"`` and
``"project_id"`` when given), then a line ``{"name", "size", "mtime_ns", "status"}`` per done file; the
last line for a name wins, and a cut-off last line is ignored. A file is skipped on a re-run while its
size and modification time are unchanged.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

MiB = 1 << 20
DEFAULT_BATCH_FILES = 32
DEFAULT_BATCH_BYTES = 64 * MiB
JOURNAL_KIND = "radscholar-upload"
JOURNAL_VERSION = 1
# Reasons this SDK gives itself, for files the gateway never saw (the others are the gateway's).
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
UNREADABLE = "UNREADABLE"

Status = Literal["stored", "already_present", "rejected"]
FileStatus = Literal["stored", "already_present", "rejected", "empty"]


@dataclass(frozen=True)
class LocalFile:
    """A file to upload; ``name`` is what the gateway is told (a relative POSIX path, see :func:`wire_name`)."""

    path: Path
    name: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, name: str) -> LocalFile:
        info = path.stat()
        return cls(path, wire_name(name), info.st_size, info.st_mtime_ns)


@dataclass(frozen=True)
class IngestLine:
    """One line of the gateway's upload report: a DICOM instance, an archive entry, or a whole file."""

    name: str
    status: Status
    reason: str = ""
    message: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""

    @classmethod
    def from_json(cls, line: dict[str, Any]) -> IngestLine:
        return cls(
            name=str(line.get("name") or ""),
            status=line.get("status") or "rejected",
            reason=str(line.get("reason") or ""),
            message=str(line.get("message") or ""),
            sop_instance_uid=str(line.get("sop_instance_uid") or ""),
            study_instance_uid=str(line.get("study_instance_uid") or ""),
        )

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


@dataclass(frozen=True)
class FileResult:
    """What became of one file sent: its report lines (several for an archive)."""

    file: LocalFile
    lines: tuple[IngestLine, ...]

    @property
    def status(self) -> FileStatus:
        """``rejected`` if any line is, else ``stored`` if any instance was new, else ``already_present``;
        ``empty`` for a file the gateway reported nothing for (an archive of folders only)."""
        statuses = {line.status for line in self.lines}
        if not statuses:
            return "empty"
        if "rejected" in statuses:
            return "rejected"
        return "stored" if "stored" in statuses else "already_present"

    @property
    def done(self) -> bool:
        """Whether a re-run may skip it: everything in it is in the store now."""
        return self.status in ("stored", "already_present")


@dataclass
class UploadSummary:
    """Every file sent and every report line; the counts are of lines (instances), like the gateway's.

    ``deidentified`` and ``removed`` say what de-identification on ingest did (for a project that asks for
    it): data elements changed over all instances, by action, and the keywords of the elements removed.
    """

    files: list[FileResult] = field(default_factory=list)
    unmatched: list[IngestLine] = field(default_factory=list)  # lines naming no file sent (never seen so far)
    deidentified: dict[str, int] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)

    def add(
        self,
        results: Iterable[FileResult],
        unmatched: Iterable[IngestLine] = (),
        *,
        deidentified: Mapping[str, int] | None = None,
        removed: Iterable[str] = (),
    ) -> None:
        self.files += results
        self.unmatched += unmatched
        for action, count in (deidentified or {}).items():
            self.deidentified[action] = self.deidentified.get(action, 0) + count
        self.removed.update(removed)

    @property
    def lines(self) -> list[IngestLine]:
        return [line for result in self.files for line in result.lines] + self.unmatched

    def count(self, status: Status) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def stored(self) -> int:
        return self.count("stored")

    @property
    def already_present(self) -> int:
        return self.count("already_present")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def rejected_lines(self) -> list[IngestLine]:
        return [line for line in self.lines if line.status == "rejected"]

    @property
    def files_sent(self) -> int:
        return len(self.files)

    @property
    def bytes_sent(self) -> int:
        return sum(result.file.size for result in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "already_present": self.already_present,
            "rejected": self.rejected,
            "files_sent": self.files_sent,
            "bytes_sent": self.bytes_sent,
            "deidentified": dict(sorted(self.deidentified.items())),
            "removed": sorted(self.removed),
            "files": [line.to_json() for line in self.lines],
        }


# -- finding files --------------------------------------------------------------------------------


def wire_name(name: str) -> str:
    """The name sent in the multipart header: characters that multipart quoting would alter
    (``"``, ``\\``, CR, LF, NUL) become ``_``, so the report lines can be matched to the file by name."""
    return name.translate({ord(c): "_" for c in '"\\\r\n\0'})


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def excluded(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a glob matches the relative POSIX path or its last part (a file or folder name)."""
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def walk(folder: Path, exclude: Sequence[str] = ()) -> list[LocalFile]:
    """Every regular file under ``folder``, sorted by relative path and named by it; hidden files and
    folders (a name starting with ".") and those matching an ``exclude`` glob are left out, as are
    symbolic links to folders (never followed)."""
    found: list[LocalFile] = []
    for root, directories, files in os.walk(folder):
        base = Path(root)
        prefix = base.relative_to(folder).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        directories[:] = sorted(d for d in directories if not is_hidden(d) and not excluded(prefix + d, exclude))
        for name in sorted(files):
            path = base / name
            if is_hidden(name) or excluded(prefix + name, exclude) or not path.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile
                found.append(LocalFile.of(path, prefix + name))
    found.sort(key=lambda f: f.name)
    return found


def local_files(paths: Iterable[Path | str]) -> list[LocalFile]:
    """The files named, and those in the folders named (see :func:`walk`), each once, named relative to
    the folder all of them share (a single file by its own name)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given).absolute()
        if path.is_dir():
            files += [f.path.absolute() for f in walk(path)]
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {given}")
    unique = list(dict.fromkeys(files))
    if not unique:
        return []
    common = Path(os.path.commonpath([p.parent for p in unique]))
    return [LocalFile.of(p, p.relative_to(common).as_posix()) for p in unique]


# -- batches --------------------------------------------------------------------------------------


def plan_batches(
    files: Iterable[LocalFile], max_files: int = DEFAULT_BATCH_FILES, max_bytes: int = DEFAULT_BATCH_BYTES
) -> list[list[LocalFile]]:
    """Consecutive batches of at most ``max_files`` files and ``max_bytes`` bytes; a file larger than
    ``max_bytes`` goes in a batch of its own."""
    if max_files < 1 or max_bytes < 1:
        raise ValueError("a batch must allow at least one file and one byte")
    batches: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for file in files:
        if current and (len(current) >= max_files or size + file.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(file)
        size += file.size
    if current:
        batches.append(current)
    return batches


def attribute(files: Sequence[LocalFile], lines: Iterable[IngestLine]) -> tuple[list[FileResult], list[IngestLine]]:
    """Matches report lines to the files of a batch: a line named like a file is that file's, and a line
    ``NAME/entry`` is the entry of the archive sent as NAME (the longest such NAME). Lines matching no
    file come back apart. The results keep the order of ``files``."""
    by_name: dict[str, list[IngestLine]] = {f.name: [] for f in files}
    unmatched: list[IngestLine] = []
    for line in lines:
        owner = line.name if line.name in by_name else None
        parts = line.name.split("/")
        for end in range(len(parts) - 1, 0, -1):
            if owner is not None:
                break
            prefix = "/".join(parts[:end])
            if prefix in by_name:
                owner = prefix
        if owner is None:
            unmatched.append(line)
        else:
            by_name[owner].append(line)
    return [FileResult(f, tuple(by_name[f.name])) for f in files], unmatched


def rejected_whole(file: LocalFile, reason: str, message: str) -> FileResult:
    """A file the gateway never ingested (unreadable here, or over its size limit), as a rejected line."""
    return FileResult(file, (IngestLine(file.name, "rejected", reason, message),))


class CountingReader:
    """A file object for a multipart body that reports the bytes read as they go (``on_bytes(new)``).

    A body sent again (a retry rewinds the file) is not counted twice: only reading past the furthest
    point so far counts.
    """

    def __init__(self, handle: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> None:
        self._handle = handle
        self._on_bytes = on_bytes
        self.furthest = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        position = self._handle.tell()
        if position > self.furthest:
            new, self.furthest = position - self.furthest, position
            if self._on_bytes is not None:
                self._on_bytes(new)
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()


# -- the resume journal ---------------------------------------------------------------------------


class JournalError(Exception):
    """The journal file belongs to another folder, gateway, site or project, or is not a journal."""


def journal_path(
    folder: Path, url: str, cache_home: Path | None = None, *, site: str = "", project_id: str = ""
) -> Path:
    """``$XDG_CACHE_HOME/radscholar/uploads/<sha256 of URL and absolute folder (, site, project)>.jsonl``."""
    home = cache_home or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    identity = f"{url.rstrip('/')}\n{folder.absolute()}"
    if site or project_id:  # uploads without either keep the journal they always had
        identity += f"\nsite={site}\nproject={project_id}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return home / "radscholar" / "uploads" / f"{key}.jsonl"


def journal_header(folder: Path, url: str, site: str = "", project_id: str = "") -> dict[str, Any]:
    header = {"journal": JOURNAL_KIND, "version": JOURNAL_VERSION, "url": url.rstrip("/"), "folder": str(folder)}
    return header | {name: value for name, value in (("site", site), ("project_id", project_id)) if value}


def journal_target(header: Mapping[str, Any]) -> str:
    """Whose journal this is, in words: the folder, the gateway, and the site and project if any."""
    into = [f"{noun} {header[key]}" for noun, key in (("site", "site"), ("project", "project_id")) if header.get(key)]
    return f"{header.get('folder')} at {header.get('url')}" + (f" ({', '.join(into)})" if into else "")


def parse_journal(lines: Iterable[str], header: dict[str, Any]) -> tuple[dict[str, tuple[int, int]], int]:
    """{name: (size, mtime_ns)} of the done files in a journal's lines, and how many entry lines it has.

    An empty journal is fine; one whose header names another folder, gateway, site or project raises
    JournalError. Lines that do not parse (a line cut short by a crash) are ignored; the last line for a
    name wins.
    """
    entries: dict[str, tuple[int, int]] = {}
    count = 0
    lines = iter(lines)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        return entries, 0
    try:
        found = json.loads(first)
    except ValueError:
        found = None
    if not isinstance(found, dict) or found.get("journal") != JOURNAL_KIND:
        raise JournalError("not an upload journal")
    if found.get("version") != JOURNAL_VERSION:
        raise JournalError(f"upload journal version {found.get('version')} is not {JOURNAL_VERSION}")
    identity = ("url", "folder", "site", "project_id")
    if any(found.get(key, "") != header.get(key, "") for key in identity):
        raise JournalError(f"the upload journal of {journal_target(found)}")
    for line in lines:
        try:
            entry = json.loads(line)
            name, size, mtime_ns = entry["name"], entry["size"], entry["mtime_ns"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(name, str) and isinstance(size, int) and isinstance(mtime_ns, int):
            entries[name] = (size, mtime_ns)
            count += 1
    return entries, count


def journal_line(result: FileResult) -> str:
    file = result.file
    entry = {"name": file.name, "size": file.size, "mtime_ns": file.mtime_ns, "status": result.status}
    return json.dumps(entry, separators=(",", ":")) + "\n"


class Journal:
    """The files of one folder already uploaded to one gateway, into one site and project if the upload
    names them (see the module's documentation).

    :meth:`record` appends one write per batch, so a journal is always usable, whatever interrupts a run.
    Loading rewrites a journal that holds more than twice the lines it needs.
    """

    def __init__(self, path: Path, folder: Path, url: str, *, site: str = "", project_id: str = "") -> None:
        self.path = path
        self.header = journal_header(folder.absolute(), url, site, project_id)
        self._lock = threading.Lock()
        self.entries: dict[str, tuple[int, int]] = {}
        lines = 0
        with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8", errors="replace") as file:
            self.entries, lines = parse_journal(file, self.header)
        if lines > 2 * len(self.entries) + 100:
            self._rewrite()

    def __len__(self) -> int:
        return len(self.entries)

    def is_done(self, file: LocalFile) -> bool:
        """Whether the file was uploaded as it is now (same size and modification time)."""
        return self.entries.get(file.name) == (file.size, file.mtime_ns)

    def pending(self, files: Iterable[LocalFile]) -> tuple[list[LocalFile], list[LocalFile]]:
        """(to send, to skip)."""
        send: list[LocalFile] = []
        skip: list[LocalFile] = []
        for file in files:
            (skip if self.is_done(file) else send).append(file)
        return send, skip

    def record(self, results: Iterable[FileResult]) -> int:
        """Appends the done files among ``results``; how many."""
        done = [r for r in results if r.done]
        if not done:
            return 0
        with self._lock:
            if not self.path.exists():
                self._rewrite()
            with self.path.open("a", encoding="utf-8") as file:
                file.write("".join(journal_line(r) for r in done))
                file.flush()
            for result in done:
                self.entries[result.file.name] = (result.file.size, result.file.mtime_ns)
        return len(done)

    def forget(self) -> None:
        """Starts over: every file will be sent again."""
        with self._lock:
            self.entries.clear()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _rewrite(self) -> None:
        """Writes the header and the current entries to a sibling, then renames it over the journal."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as file:
                file.write(json.dumps(self.header) + "\n")
                for name, (size, mtime_ns) in self.entries.items():
                    file.write(json.dumps({"name": name, "size": size, "mtime_ns": mtime_ns}) + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
