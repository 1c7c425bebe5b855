"""The upload logic without a gateway: finding files, batches, matching report lines to files, counting
streamed bytes, and the resume journal, on real files in tmp_path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from radscholar import Client
from radscholar.uploads import (
    UNREADABLE,
    CountingReader,
    FileResult,
    IngestLine,
    Journal,
    JournalError,
    LocalFile,
    UploadSummary,
    attribute,
    journal_header,
    journal_path,
    local_files,
    parse_journal,
    plan_batches,
    walk,
    wire_name,
)

URL = "http://gateway.test"


def write(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def fake(name: str, size: int = 10) -> LocalFile:
    return LocalFile(Path("/nowhere") / name, name, size, 1)


def line(name: str, status: str = "stored", reason: str = "") -> IngestLine:
    return IngestLine.from_json({"name": name, "status": status, "reason": reason, "message": f"{name} {status}"})


# -- finding files --------------------------------------------------------------------------------


def test_walk_skips_hidden_and_excluded_things_and_names_files_by_relative_path(tmp_path: Path) -> None:
    for name in ("b/2.dcm", "a/1.dcm", "a/deeper/3", "top.zip", ".DS_Store", ".git/objects/x", "a/.hidden.dcm"):
        write(tmp_path / name)
    for name in ("truth/mask.nii.gz", "a/notes.json"):
        write(tmp_path / name)
    outside = write(tmp_path.parent / f"{tmp_path.name}-outside" / "linked.dcm")
    (tmp_path / "link").symlink_to(outside.parent, target_is_directory=True)  # never followed
    (tmp_path / "a" / "file-link.dcm").symlink_to(outside)  # a link to a file is that file

    found = walk(tmp_path, exclude=["truth", "*.json"])
    assert [f.name for f in found] == ["a/1.dcm", "a/deeper/3", "a/file-link.dcm", "b/2.dcm", "top.zip"]
    first = found[0]
    assert (first.path, first.size, first.mtime_ns) == (tmp_path / "a/1.dcm", 10, first.path.stat().st_mtime_ns)
    by_path = walk(tmp_path, exclude=["a/deeper", "truth/*", "a/*.json"])
    assert [f.name for f in by_path] == ["a/1.dcm", "a/file-link.dcm", "b/2.dcm", "top.zip"]


def test_local_files_names_files_relative_to_the_folder_they_share(tmp_path: Path) -> None:
    one = write(tmp_path / "study" / "s1" / "1.dcm")
    two = write(tmp_path / "study" / "s2" / "1.dcm")
    write(tmp_path / "study" / "s3" / "a.dcm")
    write(tmp_path / "study" / "s3" / ".hidden")
    named = local_files([one, two, tmp_path / "study" / "s3", one])  # a file named twice is sent once
    assert [f.name for f in named] == ["s1/1.dcm", "s2/1.dcm", "s3/a.dcm"]
    assert [f.name for f in local_files([str(one)])] == ["1.dcm"]
    assert local_files([]) == []
    with pytest.raises(FileNotFoundError):
        local_files([tmp_path / "absent.dcm"])


def test_wire_names_avoid_what_multipart_quoting_would_change() -> None:
    assert wire_name('a "quoted"\\name\r\n.dcm') == "a _quoted__name__.dcm"
    assert wire_name("séries/ü 1.dcm") == "séries/ü 1.dcm"


# -- batches --------------------------------------------------------------------------------------


def test_batches_keep_the_order_and_both_limits() -> None:
    files = [fake(f"{i:02}", size) for i, size in enumerate([10, 10, 10, 10, 10, 50, 10, 200, 10])]
    batches = plan_batches(files, max_files=3, max_bytes=60)
    assert [[f.name for f in b] for b in batches] == [["00", "01", "02"], ["03", "04"], ["05", "06"], ["07"], ["08"]]
    assert [f for b in batches for f in b] == files
    assert all(len(b) <= 3 and (sum(f.size for f in b) <= 60 or len(b) == 1) for b in batches)
    assert plan_batches([], 3, 60) == []
    assert len(plan_batches([fake(str(i)) for i in range(100)])) == 4  # 32 files a batch by default
    with pytest.raises(ValueError):
        plan_batches(files, max_files=0)


# -- report lines ---------------------------------------------------------------------------------


def test_report_lines_are_matched_to_files_and_archives() -> None:
    files = [fake("a/1.dcm"), fake("a/scans.zip"), fake("a/scans"), fake("b/empty.zip"), fake("b/pic.png")]
    lines = [
        line("a/scans.zip/s1/1.dcm"),
        line("a/1.dcm", "already_present"),
        line("b/pic.png", "rejected", "NOT_DICOM"),
        line("a/scans.zip/s1/2.dcm", "rejected", "TRUNCATED"),
        line("a/scans/x.dcm"),  # a file named like a folder of another file sent: it is that file's entry
        line("elsewhere.dcm"),
    ]
    results, unmatched = attribute(files, lines)
    assert [r.file for r in results] == files
    by_name = {r.file.name: r for r in results}
    assert [entry.name for entry in by_name["a/scans.zip"].lines] == ["a/scans.zip/s1/1.dcm", "a/scans.zip/s1/2.dcm"]
    assert [entry.name for entry in by_name["a/scans"].lines] == ["a/scans/x.dcm"]
    assert [entry.name for entry in unmatched] == ["elsewhere.dcm"]
    assert {name: (r.status, r.done) for name, r in by_name.items()} == {
        "a/1.dcm": ("already_present", True),
        "a/scans.zip": ("rejected", False),  # partly stored: sent again next time, the stored part is present
        "a/scans": ("stored", True),
        "b/empty.zip": ("empty", False),
        "b/pic.png": ("rejected", False),
    }


def test_the_summary_counts_lines_like_the_gateway() -> None:
    summary = UploadSummary()
    results, unmatched = attribute(
        [fake("x.zip", 100), fake("y.dcm", 7)],
        [line("x.zip/1"), line("x.zip/2", "already_present"), line("y.dcm", "rejected", "NOT_DICOM"), line("?")],
    )
    summary.add(results, unmatched)
    summary.add([FileResult(fake("z.dcm", 3), (line("z.dcm"),))])
    assert (summary.stored, summary.already_present, summary.rejected) == (3, 1, 1)
    assert (summary.files_sent, summary.bytes_sent) == (3, 110)
    assert [entry.name for entry in summary.rejected_lines] == ["y.dcm"]
    document = json.loads(json.dumps(summary.to_json()))
    assert document["stored"] == 3 and len(document["files"]) == 5
    assert IngestLine.from_json({"name": "n", "status": "stored"}).to_json()["reason"] == ""


# -- streaming ------------------------------------------------------------------------------------


def test_files_are_streamed_and_their_bytes_counted_once(tmp_path: Path) -> None:
    path = write(tmp_path / "big.dcm", 300_000)
    counted: list[int] = []
    with path.open("rb") as handle:
        reader = CountingReader(handle, counted.append)
        request = httpx.Request("POST", URL, files=[("files", ("big.dcm", reader, "application/octet-stream"))])
        assert reader.furthest == 0  # nothing read to build the request: the body is a stream
        assert int(request.headers["content-length"]) > 300_000  # its length comes from the file's size
        body = b"".join(request.stream)  # type: ignore[union-attr]
        assert len(body) == int(request.headers["content-length"])
        assert sum(counted) == 300_000 and len(counted) > 1  # reported chunk by chunk
        b"".join(request.stream)  # type: ignore[union-attr]  # sent again (a retry): not counted again
        assert sum(counted) == 300_000


def test_an_unreadable_file_is_rejected_without_sending_anything(tmp_path: Path) -> None:
    gone = LocalFile(tmp_path / "gone.dcm", "gone.dcm", 10, 1)
    with Client("http://127.0.0.1:9", api_key="rsk_unused") as client:  # nothing listens there
        [result] = client.upload_batch([gone])
    assert (result.status, result.lines[0].reason) == ("rejected", UNREADABLE)
    assert "gone.dcm could not be read" in result.lines[0].message


# -- the journal ----------------------------------------------------------------------------------


def done(file: LocalFile, status: str = "stored") -> FileResult:
    return FileResult(file, (line(file.name, status),))


def test_the_journal_skips_files_uploaded_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    for name in ("a.dcm", "b.dcm", "c.png", "d.zip"):
        write(folder / name)
    a, b, c, d = walk(folder)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, folder, URL)
    assert journal.pending([a, b, c, d]) == ([a, b, c, d], [])
    assert journal.record([done(a), done(b, "already_present"), done(c, "rejected"), FileResult(d, ())]) == 2
    assert journal.record([]) == 0

    again = Journal(path, folder, URL + "/")  # the same gateway
    assert again.pending(walk(folder)) == ([c, d], [a, b])  # rejected and empty ones are sent again
    header, *entries = (json.loads(text) for text in path.read_text().splitlines())
    assert header == {"journal": "radscholar-upload", "version": 1, "url": URL, "folder": str(folder)}
    assert [e["name"] for e in entries] == ["a.dcm", "b.dcm"]

    write(folder / "a.dcm", 11)  # changed: a different size
    os.utime(folder / "b.dcm", ns=(b.mtime_ns, b.mtime_ns + 1))  # touched: a different time
    assert [f.name for f in Journal(path, folder, URL).pending(walk(folder))[0]] == ["a.dcm", "b.dcm", "c.png", "d.zip"]

    journal.forget()
    assert not path.exists() and len(journal) == 0
    assert journal.record([done(c)]) == 1  # a journal deleted meanwhile starts again with its header
    assert json.loads(path.read_text().splitlines()[0])["journal"] == "radscholar-upload"


def test_the_journal_survives_a_line_cut_short_and_refuses_anothers(tmp_path: Path) -> None:
    header = journal_header(tmp_path, URL)
    good = json.dumps({"name": "a.dcm", "size": 1, "mtime_ns": 2, "status": "stored"})
    newer = json.dumps({"name": "a.dcm", "size": 3, "mtime_ns": 4, "status": "stored"})
    entries, count = parse_journal([json.dumps(header), good, newer, '{"name": "b.dcm", "si'], header)
    assert (entries, count) == ({"a.dcm": (3, 4)}, 2)
    assert parse_journal([], header) == ({}, 0)
    with pytest.raises(JournalError, match="not an upload journal"):
        parse_journal(["{not json"], header)
    with pytest.raises(JournalError, match="the upload journal of /other at"):
        parse_journal([json.dumps({**header, "folder": "/other"})], header)
    with pytest.raises(JournalError, match="version 2"):
        parse_journal([json.dumps({**header, "version": 2})], header)
    path = tmp_path / "other.jsonl"
    path.write_text(json.dumps({**header, "url": "http://elsewhere"}) + "\n")
    with pytest.raises(JournalError):
        Journal(path, tmp_path, URL)


def test_a_journal_with_many_superseded_lines_is_compacted_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    lines = [json.dumps(journal_header(tmp_path, URL))]
    lines += [json.dumps({"name": "a.dcm", "size": i, "mtime_ns": i}) for i in range(300)]
    path.write_text("\n".join(lines) + "\n")
    journal = Journal(path, tmp_path, URL)
    assert journal.entries == {"a.dcm": (299, 299)}
    assert len(path.read_text().splitlines()) == 2
    assert Journal(path, tmp_path, URL).entries == {"a.dcm": (299, 299)}


def test_journals_live_in_the_cache_folder_one_per_folder_and_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = journal_path(tmp_path / "data", URL)
    assert path.parent == tmp_path / "cache" / "radscholar" / "uploads" and path.suffix == ".jsonl"
    assert journal_path(tmp_path / "data", URL + "/") == path
    assert journal_path(tmp_path / "other", URL) != path
    assert journal_path(tmp_path / "data", "http://elsewhere") != path
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert journal_path(tmp_path / "data", URL).is_relative_to(Path.home() / ".cache" / "radscholar")
