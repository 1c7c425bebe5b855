"""`radscholar upload`, `studies`, `series` and `stats` (and the SDK's upload) against a real platform of
their own: a fresh Orthanc and gateway for this module, so the store's counts are this module's alone.

Each test has its own config and cache folders (XDG_CONFIG_HOME, XDG_CACHE_HOME): its own sign-in and
its own resume journals.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from typer.testing import CliRunner, Result

from radscholar import Client
from radscholar import cli as radscholar_cli
from radscholar.cli import app
from radscholar.uploads import journal_path
from radscholar_gateway.app import create_app
from radscholar_localstack.scratch_orthanc import running_orthanc
from tests.conftest import Platform, running_platform, served

runner = CliRunner()
PASSWORD = "amber-lighthouse-quarry-77"
EXCLUDE = ("--exclude", "ground_truth", "--exclude", "manifest.json")  # the phantoms' truth, not DICOM


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own, so counts here do not depend on other tests."""
    with (
        running_orthanc(tmp_path_factory.mktemp("upload-orthanc")) as orthanc,
        running_platform(orthanc, tmp_path_factory.mktemp("upload-platform")) as started,
    ):
        yield started


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config and cache folders; no credentials from the environment; wide output."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 250)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 250)
    return tmp_path


def new_user(site: Platform, *roles: str) -> str:
    username = f"up-{uuid.uuid4().hex[:10]}"
    created = site.gateway.post("/api/v1/users", json={"username": username, "password": PASSWORD, "roles": roles})
    assert created.status_code == 201, created.text
    return username


def radscholar(site: Platform, *args: str, input: str | None = None) -> Result:
    """Runs `radscholar ARGS --url URL`."""
    return runner.invoke(app, [*args, "--url", site.url], input=input)


def sign_in(site: Platform, *roles: str) -> str:
    """Signs in a new user with these roles (a researcher by default) through `radscholar login`."""
    username = new_user(site, *(roles or ("researcher",)))
    result = radscholar(site, "login", "--username", username, "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    return username


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="PNG")
    return buffer.getvalue()


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.dcm") if not any(part.startswith(".") for part in p.parts))


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dx/ (4 radiographs), ct/ (one 16-slice CT), extra/archive.zip (one CT), bad/ (a PNG and a cut
    file), and hidden things that must never be sent; plus each phantom's ground truth (excluded)."""
    import radscholar_phantoms

    folder = tmp_path_factory.mktemp("phantoms") / "upload"
    radscholar_phantoms.generate("dx", 4, 2, 31, folder / "dx")
    radscholar_phantoms.generate("ct", 1, 1, 32, folder / "ct", shape=(16, 64, 64))
    ct_small = Path(get_testdata_file("CT_small.dcm"))
    (folder / "extra").mkdir()
    with zipfile.ZipFile(folder / "extra" / "archive.zip", "w") as zipped:
        zipped.write(ct_small, "series/CT_small.dcm")
    (folder / "bad").mkdir()
    (folder / "bad" / "picture.png").write_bytes(png_bytes())
    (folder / "bad" / "cut.dcm").write_bytes(ct_small.read_bytes()[:-2000])
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / ".hidden").mkdir()
    shutil.copy(ct_small, folder / ".hidden" / "copy.dcm")  # would be "already_present" if it were sent
    return folder


def statistics(site: Platform) -> dict[str, Any]:
    answer = site.gateway.get("/api/v1/dicom/statistics")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def ingest_audit(site: Platform) -> list[dict[str, Any]]:
    """The gateway's audit records of uploads (one per request), oldest first."""
    answer = site.gateway.get("/api/v1/audit", params={"action": "dicom.ingest", "page_size": 1000})
    assert answer.status_code == 200, answer.text
    return sorted(answer.json()["records"], key=lambda r: r["seq"])


def test_upload_resumes_from_its_journal_and_never_duplicates(site: Platform, phantoms: Path, tmp_path: Path) -> None:
    folder = tmp_path / "upload"
    shutil.copytree(phantoms, folder)
    instances = len(dicom_files(folder / "dx")) + len(dicom_files(folder / "ct")) + 1  # + the zip's entry
    assert instances == 4 + 16 + 1
    sign_in(site)
    before = statistics(site)["instances"]
    requests_before = len(ingest_audit(site))

    # First run: every DICOM stored, the PNG and the cut file rejected and listed; exit 1.
    report = tmp_path / "report.json"
    first = radscholar(
        site, "upload", str(folder), "--workers", "3", "--batch-files", "4", "--report", str(report), *EXCLUDE
    )
    assert first.exit_code == 1, first.output
    assert f"uploading {instances + 2} files" in first.output
    assert f"stored {instances}, already present 0, rejected 2" in first.output
    assert "bad/picture.png" in first.output and "NOT_DICOM" in first.output
    assert "bad/cut.dcm" in first.output and "TRUNCATED" in first.output
    assert "error: 2 rejected (files or archive entries, listed above)" in first.output
    assert "copy.dcm" not in first.output and "DS_Store" not in first.output
    assert statistics(site)["instances"] == before + instances
    document = json.loads(report.read_text())
    assert (document["stored"], document["rejected"], document["files_sent"]) == (instances, 2, instances + 2)
    assert {line["name"] for line in document["files"]} >= {"bad/picture.png", "extra/archive.zip/series/CT_small.dcm"}
    sent = ingest_audit(site)[requests_before:]
    assert sum(int(r["details"]["stored"]) for r in sent) == instances
    assert len(sent) == 6  # 23 files in batches of 4

    journal = journal_path(folder, site.url)
    assert journal.is_relative_to(tmp_path / "cache" / "radscholar" / "uploads")
    assert not list(folder.glob(".radscholar*"))  # the data folder is never written to
    lines = journal.read_text().splitlines()
    assert json.loads(lines[0])["folder"] == str(folder)
    assert len(lines) == 1 + instances  # the header, then every file but the two rejected

    # Re-run: only the two rejected files are sent again (rejected again: exit 1); nothing else travels.
    requests_before = len(ingest_audit(site))
    again = radscholar(site, "upload", str(folder), *EXCLUDE)
    assert again.exit_code == 1, again.output
    assert "uploading 2 files" in again.output and f"skipping {instances} uploaded before" in again.output
    assert "stored 0, already present 0, rejected 2" in again.output
    [request] = ingest_audit(site)[requests_before:]
    assert request["details"] == {"stored": "0", "already_present": "0", "rejected": "2"}

    # A file touched since is sent again, and answered already_present.
    touched = dicom_files(folder / "dx")[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    shutil.rmtree(folder / "bad")
    changed = radscholar(site, "upload", str(folder), *EXCLUDE)
    assert changed.exit_code == 0, changed.output
    assert "uploading 1 file " in changed.output and "stored 0, already present 1, rejected 0" in changed.output

    # Without the journal, everything is sent again: all already present, no second copy of anything.
    journal.unlink()
    (folder / "bad").mkdir()
    (folder / "bad" / "picture.png").write_bytes(png_bytes())
    fresh = radscholar(site, "upload", str(folder), "--workers", "4", *EXCLUDE)
    assert fresh.exit_code == 1, fresh.output
    assert f"stored 0, already present {instances}, rejected 1" in fresh.output
    assert statistics(site)["instances"] == before + instances

    # Nothing left to do once the bad file is gone.
    (folder / "bad" / "picture.png").unlink()
    done = radscholar(site, "upload", str(folder), *EXCLUDE)
    assert done.exit_code == 0, done.output
    assert f"nothing to upload: all {instances} files were uploaded before" in done.output


def test_an_interrupted_upload_sends_only_the_rest_next_time(
    site: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import radscholar_phantoms

    folder = tmp_path / "dx"
    radscholar_phantoms.generate("dx", 4, 1, 41, folder)
    files = dicom_files(folder)
    sign_in(site)
    before = statistics(site)["instances"]

    real = Client.upload_batch
    calls: list[int] = []

    def interrupted_after_two(self: Client, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived during the third batch
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Client, "upload_batch", interrupted_after_two)
    stopped = radscholar(site, "upload", str(folder), "--workers", "1", "--batch-files", "1", *EXCLUDE)
    assert stopped.exit_code == 130, stopped.output
    assert "interrupted: 2 of 4 files sent" in stopped.output
    assert statistics(site)["instances"] == before + 2

    monkeypatch.setattr(Client, "upload_batch", real)
    rest = radscholar(site, "upload", str(folder), *EXCLUDE)
    assert rest.exit_code == 0, rest.output
    assert "uploading 2 files" in rest.output and "skipping 2 uploaded before" in rest.output
    assert "stored 2, already present 0, rejected 0" in rest.output
    assert statistics(site)["instances"] == before + len(files)


def test_upload_needs_the_ingest_permission(site: Platform, phantoms: Path) -> None:
    sign_in(site, "annotator")
    refused = radscholar(site, "upload", str(phantoms / "ct"), *EXCLUDE)
    assert refused.exit_code == 1, refused.output
    assert "error: MISSING_PERMISSION:" in refused.output
    assert "Traceback" not in refused.output


def test_upload_usage_errors_exit_2(site: Platform, tmp_path: Path) -> None:
    assert radscholar(site, "upload", str(tmp_path / "absent")).exit_code == 2
    assert radscholar(site, "upload", str(tmp_path), "--workers", "0").exit_code == 2
    other = tmp_path / "other.jsonl"
    other.write_text('{"journal": "radscholar-upload", "version": 1, "url": "http://elsewhere", "folder": "/x"}\n')
    sign_in(site)
    mismatch = radscholar(site, "upload", str(tmp_path), "--journal", str(other))
    assert mismatch.exit_code == 2, mismatch.output
    assert "the upload journal of /x at http://elsewhere" in mismatch.output


def test_studies_series_and_stats(site: Platform, phantoms: Path, tmp_path: Path) -> None:
    sign_in(site)
    folder = tmp_path / "upload"
    shutil.copytree(phantoms, folder)
    shutil.rmtree(folder / "bad")
    assert radscholar(site, "upload", str(folder), *EXCLUDE).exit_code == 0
    dx = [pydicom.dcmread(p, stop_before_pixels=True) for p in dicom_files(phantoms / "dx")]
    ct = pydicom.dcmread(dicom_files(phantoms / "ct")[0], stop_before_pixels=True)

    listed = radscholar(site, "studies", "--modality", "DX")
    assert listed.exit_code == 0, listed.output
    for header in dx:
        assert header.PatientID in listed.output and header.StudyInstanceUID in listed.output
    assert ct.StudyInstanceUID not in listed.output

    one = radscholar(site, "studies", "--patient-id", dx[0].PatientID)
    assert one.exit_code == 0, one.output
    assert "studies (1)" in one.output and "DX" in one.output

    limited = radscholar(site, "studies", "--limit", "2")
    assert limited.exit_code == 0, limited.output
    assert "studies (2 of " in limited.output and "raise --limit" in limited.output

    assert "no studies match" in radscholar(site, "studies", "--patient-id", "nobody-at-all").output
    assert radscholar(site, "studies", "--from", "13/01/2020").exit_code == 2
    backwards = radscholar(site, "studies", "--from", "2024-01-02", "--to", "2024-01-01")
    assert backwards.exit_code == 1 and "error: INVALID_DATE_RANGE:" in backwards.output

    series = radscholar(site, "series", ct.StudyInstanceUID)
    assert series.exit_code == 0, series.output
    assert ct.SeriesInstanceUID in series.output and "CT" in series.output and "16" in series.output

    stats = radscholar(site, "stats")
    assert stats.exit_code == 0, stats.output
    assert f"instances  {statistics(site)['instances']}" in stats.output


def test_the_sdk_uploads_queries_and_splits_batches_over_the_limit(site: Platform, phantoms: Path) -> None:
    """Client.upload, studies and series; a gateway with a small upload limit gets smaller batches."""
    username = new_user(site, "site-operator")
    ct_files = dicom_files(phantoms / "ct")
    big = dicom_files(phantoms / "dx")[0]
    small = site.settings.model_copy(update={"max_upload_bytes": 100 * 1024})
    with served(create_app(small)) as url, Client(url) as client:
        client.login(username, PASSWORD)
        batches: list[int] = []
        summary = client.upload([*ct_files, big], on_batch=lambda b: batches.append(len(b)))
    assert batches == [17]  # one batch planned; the gateway refused it whole, then its halves, ...
    by_name = {result.file.path: result for result in summary.files}
    assert {by_name[p].status for p in ct_files} <= {"stored", "already_present"}
    assert (by_name[big].status, by_name[big].lines[0].reason) == ("rejected", "REQUEST_TOO_LARGE")
    assert summary.rejected == 1 and summary.stored + summary.already_present == len(ct_files)

    with Client(site.url) as client:
        client.login(username, PASSWORD)
        header = pydicom.dcmread(ct_files[0], stop_before_pixels=True)
        found = client.studies(patient_id=header.PatientID)
        assert [s["study_instance_uid"] for s in found] == [header.StudyInstanceUID]
        assert found.total_size == 1
        assert client.studies(limit=1).total_size == statistics(site)["studies"]
        [series] = client.series(header.StudyInstanceUID)
        assert (series["series_instance_uid"], series["instance_count"]) == (header.SeriesInstanceUID, 16)
        again = client.upload(ct_files, batch_files=5)
        assert again.already_present == 16 and again.stored == 0 and again.files_sent == 16
