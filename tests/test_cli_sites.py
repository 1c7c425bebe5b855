"""`radscholar sites`, `patients`, `studies`, `series` and `stats` with the new filters, uploads into a
site or a project, and the SDK's calls behind them, against the session's shared platform.

The platform is shared, so every site, AE title and project here has a name of its own, and every
phantom a random seed (fresh UIDs); assertions look only at what these tests made. Each test has its
own config and cache folders: its own sign-in and resume journals.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from typer.testing import CliRunner, Result

from radscholar import Client
from radscholar import cli as radscholar_cli
from radscholar.cli import app
from radscholar.uploads import journal_path
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Platform

runner = CliRunner()
PASSWORD = "harbour-quill-meadow-93"
EXCLUDE = ("--exclude", "ground_truth", "--exclude", "manifest.json")  # the phantoms' truth, not DICOM
SHAPE = (8, 32, 32)  # slices, rows, columns


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private config and cache folders; no credentials from the environment; output wide enough for UIDs."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("RADSCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("RADSCHOLAR_URL", raising=False)
    monkeypatch.setattr(radscholar_cli.console, "width", 400)
    monkeypatch.setattr(radscholar_cli.err_console, "width", 400)
    return tmp_path


@pytest.fixture
def admin(platform: Platform) -> Iterator[Client]:
    """The SDK, signed in as the first admin (the only role that manages sites)."""
    with Client(platform.url) as client:
        client.login(ADMIN_USERNAME, ADMIN_PASSWORD)
        yield client


def radscholar(platform: Platform, *args: str, input: str | None = None) -> Result:
    """Runs `radscholar ARGS --url URL`."""
    return runner.invoke(app, [*args, "--url", platform.url], input=input)


def sign_in(platform: Platform, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
    result = radscholar(platform, "login", "--username", username, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.output


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_site(client: Client) -> str:
    site_id = unique("t")
    client.create_site(site_id, f"Test hospital {site_id}")
    return site_id


def ct_phantom(folder: Path) -> pydicom.Dataset:
    """One small CT series (8 slices of 32 x 32) with fresh UIDs; the header of its first slice."""
    import radscholar_phantoms

    radscholar_phantoms.generate("ct", 1, 1, random.randrange(10**9), folder, shape=SHAPE)
    first = min(folder.rglob("*.dcm"))
    return pydicom.dcmread(first, stop_before_pixels=True)


def month_of(header: pydicom.Dataset) -> str:
    return f"{header.StudyDate[:4]}-{header.StudyDate[4:6]}"


def test_sites_are_created_listed_given_modalities_and_deleted(platform: Platform, admin: Client) -> None:
    sign_in(platform)
    site_id, ae_title = unique("t"), unique("CT").upper()[:16]

    created = radscholar(platform, "sites", "create", site_id, "St Elsewhere", "--institution", "St. Elsewhere Hosp")
    assert created.exit_code == 0, created.output
    assert f"created site {site_id} (St Elsewhere); institution names: St. Elsewhere Hosp" in created.output
    listed = radscholar(platform, "sites", "list")
    assert listed.exit_code == 0, listed.output
    [row] = [line for line in listed.output.splitlines() if site_id in line]
    assert "St Elsewhere" in row and "yes" in row

    added = radscholar(
        platform, "sites", "add-modality", site_id, ae_title, "--host", "127.0.0.1", "--port", "11112",
        "--description", "CT scanner 2",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert f"site {site_id} accepts images from AE title {ae_title} at 127.0.0.1:11112" in added.output
    [row] = [line for line in radscholar(platform, "sites", "list").output.splitlines() if site_id in line]
    assert ae_title in row
    [site] = [s for s in admin.sites() if s["id"] == site_id]
    assert site["registered"] and site["institution_names"] == ["St. Elsewhere Hosp"]
    assert [(m["ae_title"], m["host"], m["port"], m["description"]) for m in site["modalities"]] == [
        (ae_title, "127.0.0.1", 11112, "CT scanner 2")
    ]

    removed = radscholar(platform, "sites", "remove-modality", site_id, ae_title)
    assert removed.exit_code == 0, removed.output
    assert f"no longer accepts images from AE title {ae_title}" in removed.output
    assert [s["modalities"] for s in admin.sites() if s["id"] == site_id] == [[]]

    deleted = radscholar(platform, "sites", "delete", site_id)
    assert deleted.exit_code == 0, deleted.output
    assert site_id not in radscholar(platform, "sites", "list").output
    again = radscholar(platform, "sites", "delete", site_id)
    assert again.exit_code == 1 and "error: SITE_NOT_FOUND:" in again.output


def test_managing_sites_needs_the_permission(platform: Platform) -> None:
    username = unique("res")
    created = platform.gateway.post(
        "/api/v1/users", json={"username": username, "password": PASSWORD, "roles": ["researcher"]}
    )
    assert created.status_code == 201, created.text
    sign_in(platform, username, PASSWORD)
    assert radscholar(platform, "sites", "list").exit_code == 0  # reading is allowed
    refused = radscholar(platform, "sites", "create", unique("t"), "Nowhere")
    assert refused.exit_code == 1 and "error: MISSING_PERMISSION:" in refused.output
    assert "Traceback" not in refused.output


def test_upload_into_a_site_then_find_it_by_site(platform: Platform, admin: Client, tmp_path: Path) -> None:
    site_id = new_site(admin)
    folder = tmp_path / "ct"
    header = ct_phantom(folder)
    sign_in(platform)

    uploaded = radscholar(platform, "upload", str(folder), "--site", site_id, *EXCLUDE)
    assert uploaded.exit_code == 0, uploaded.output
    assert f"into site {site_id} with" in uploaded.output
    assert "stored 8, already present 0, rejected 0" in uploaded.output
    assert journal_path(folder, platform.url, site=site_id).exists()  # a journal of its own for the site
    assert not journal_path(folder, platform.url).exists()

    studies = radscholar(platform, "studies", "--site", site_id, "--body-part", "CHEST", "--sort", "-size")
    assert studies.exit_code == 0, studies.output
    assert "studies (1)" in studies.output
    [row] = [line for line in studies.output.splitlines() if header.StudyInstanceUID in line]
    assert site_id in row and header.PatientID in row
    assert "no studies match" in radscholar(platform, "studies", "--site", site_id, "--modality", "MR").output

    series = radscholar(platform, "series", "--modality", "CT", "--site", site_id)
    assert series.exit_code == 0, series.output
    assert "series (1)" in series.output
    [row] = [line for line in series.output.splitlines() if header.SeriesInstanceUID in line]
    assert "32x32x8" in row and "2.8x2.8x" in row and "axial" in row and header.StudyInstanceUID in row
    one_study = radscholar(platform, "series", header.StudyInstanceUID)
    assert one_study.exit_code == 0, one_study.output
    assert f"series of {header.StudyInstanceUID} (1)" in one_study.output and "32x32x8" in one_study.output

    patients = radscholar(platform, "patients", "--site", site_id, "--sort", "patient_id")
    assert patients.exit_code == 0, patients.output
    [row] = [line for line in patients.output.splitlines() if header.PatientID in line]
    assert site_id in row and month_of(header) in row

    [row] = [line for line in radscholar(platform, "sites", "list").output.splitlines() if site_id in line]
    assert row.split()[-5:-2] == ["1", "1", "8"]  # patients, studies, instances; then the size
    [site] = [s for s in admin.sites() if s["id"] == site_id]
    assert (site["patients"], site["studies"], site["series"], site["instances"]) == (1, 1, 1, 8)

    stats = radscholar(platform, "stats")
    assert stats.exit_code == 0, stats.output
    for title in ("by modality", "by site", "by month"):
        assert title in stats.output
    assert any(line.split()[:1] == ["CT"] for line in stats.output.splitlines())
    [row] = [line for line in stats.output.splitlines() if line.split()[:1] == [site_id]]
    assert row.split()[1:4] == ["1", "1", "8"]  # studies, series, instances of the site
    assert any(line.split()[:1] == [month_of(header)] for line in stats.output.splitlines())


def test_the_sdk_finds_patients_series_and_summaries(platform: Platform, admin: Client, tmp_path: Path) -> None:
    site_id = new_site(admin)
    header = ct_phantom(tmp_path / "ct")
    summary = admin.upload([tmp_path / "ct" / "site-a"], site=site_id)
    assert (summary.stored, summary.rejected, summary.deidentified) == (8, 0, {})

    [series] = admin.find_series(site=site_id, modality="CT")
    assert series["series_instance_uid"] == header.SeriesInstanceUID
    assert (series["columns"], series["rows"], series["slices"], series["instance_count"]) == (32, 32, 8, 8)
    assert series["plane"] == "axial" and series["spacing"][:2] == pytest.approx([2.8, 2.8])
    assert series["size_bytes"] > 8 * 32 * 32
    assert admin.series_summary(header.SeriesInstanceUID) == series
    assert admin.series(header.StudyInstanceUID) == [series]
    assert admin.find_series(site=site_id, modality="MR") == []
    assert admin.find_series(site=site_id, body_part="CHEST", sort="-instances", limit=1).total_size == 1

    [patient] = admin.patients(site=site_id)
    assert (patient["patient_id"], patient["study_count"], patient["instance_count"]) == (header.PatientID, 1, 8)
    assert patient["sites"] == [site_id]
    day = f"{header.StudyDate[:4]}-{header.StudyDate[4:6]}-{header.StudyDate[6:]}"
    [study] = admin.studies(site=site_id, study_date_from=day, study_date_to=day, sort="received")
    assert study["study_instance_uid"] == header.StudyInstanceUID
    assert (study["site"], study["modalities"], study["body_parts"]) == (site_id, ["CT"], ["CHEST"])
    assert admin.studies(site=site_id, study_date_to="1990-01-01") == []

    statistics = admin.store_statistics()
    [by_site] = [group for group in statistics["by_site"] if group["key"] == site_id]
    assert (by_site["studies"], by_site["series"], by_site["instances"]) == (1, 1, 8)
    assert "CT" in {group["key"] for group in statistics["by_modality"]}

    modality = admin.register_modality(site_id, unique("AE").upper()[:16], "scanner.example.org", description="x")
    assert (modality["site_id"], modality["port"]) == (site_id, 104)
    admin.unregister_modality(site_id, modality["ae_title"])
    admin.delete_site(site_id)
    assert site_id not in {s["id"] for s in admin.sites() if s["registered"]}


def test_an_upload_into_a_project_that_deidentifies_says_what_it_changed(
    platform: Platform, admin: Client, tmp_path: Path
) -> None:
    project = admin.create_project(unique("deid"), "CT", "SEGMENTATION", "3D")["id"]
    assert admin.ingest_profile(project)["deidentify"] is False
    profile = admin.set_ingest_profile(project, deidentify=True, retain_longitudinal_dates=True)
    assert profile == {
        "deidentify": True,
        "retain_longitudinal_dates": True,
        "retain_patient_characteristics": False,
        "clean_descriptors": False,
    }
    folder = tmp_path / "ct"
    header = ct_phantom(folder)
    sign_in(platform)

    report = tmp_path / "report.json"
    uploaded = radscholar(platform, "upload", str(folder), "--project", project, "--report", str(report), *EXCLUDE)
    assert uploaded.exit_code == 0, uploaded.output
    assert f"into project {project} with" in uploaded.output
    document = json.loads(report.read_text())
    assert document["deidentified"]["removed"] > 0 and "PatientAddress" in document["removed"]
    [line] = [line for line in uploaded.output.splitlines() if line.startswith("de-identified for project")]
    changed = sum(document["deidentified"].values())
    assert line.startswith(f"de-identified for project {project}: {changed} data elements changed (")
    assert f"removed {document['deidentified']['removed']}" in line
    assert f"; removed {', '.join(document['removed'][:6])} and " in line  # the first few named, then a count

    [study] = admin.studies(project_id=project)
    assert study["patient_id"] != header.PatientID and study["study_instance_uid"] != header.StudyInstanceUID
    listed = radscholar(platform, "studies", "--project", project)
    assert listed.exit_code == 0 and study["study_instance_uid"] in listed.output
    assert header.PatientID not in listed.output
    assert journal_path(folder, platform.url, project_id=project).exists()


def test_an_unknown_site_ends_the_upload_with_its_reason(platform: Platform, tmp_path: Path) -> None:
    folder = tmp_path / "ct"
    ct_phantom(folder)
    sign_in(platform)
    refused = radscholar(platform, "upload", str(folder), "--site", unique("nowhere"), *EXCLUDE)
    assert refused.exit_code == 1, refused.output
    assert "error: SITE_NOT_FOUND:" in refused.output and "is not registered" in refused.output
    assert "Traceback" not in refused.output


def test_wrong_usage_exits_2(platform: Platform) -> None:
    sign_in(platform)
    both = radscholar(platform, "series", "1.2.3", "--modality", "CT")
    assert both.exit_code == 2 and "either a study UID or filters" in both.output
    bad_sort = radscholar(platform, "studies", "--sort", "colour")
    assert bad_sort.exit_code == 2 and "cannot sort by 'colour'" in bad_sort.output
    assert radscholar(platform, "patients", "--sort", "-height").exit_code == 2
    assert radscholar(platform, "series", "--sort", "nonsense").exit_code == 2
    assert radscholar(platform, "patients", "--from", "01/02/2020").exit_code == 2
    no_host = radscholar(platform, "sites", "add-modality", "somewhere", "AE1")
    assert no_host.exit_code == 2 and "--host" in no_host.output
    assert radscholar(platform, "sites", "add-modality", "x", "AE1", "--host", "h", "--port", "0").exit_code == 2
    unknown = radscholar(platform, "series", "1.2.3.4.5.6.7.8.9")
    assert unknown.exit_code == 1 and "error: STUDY_NOT_FOUND:" in unknown.output
