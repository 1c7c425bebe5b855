"""Uploading DICOM through the gateway: files and zips, good and bad in one batch, on its own Orthanc."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.data import get_testdata_file

from radscholar_core.objectstore import open_object_store
from radscholar_gateway.app import create_app
from tests.conftest import Platform


@pytest.fixture(scope="module")
def site(isolated_platform: Platform) -> Platform:
    return isolated_platform


@pytest.fixture(scope="module")
def dx_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    import radscholar_phantoms

    out = tmp_path_factory.mktemp("dx")
    radscholar_phantoms.generate("dx", 3, 1, 21, out)
    return sorted(out.rglob("*.dcm"))


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16)).save(buffer, format="PNG")
    return buffer.getvalue()


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in report["files"]}


def test_a_mixed_batch_stores_the_good_and_names_the_bad(site: Platform, dx_files: list[Path]) -> None:
    ct_small = Path(get_testdata_file("CT_small.dcm"))
    truncated = ct_small.read_bytes()[:-2000]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("series/a.dcm", dx_files[1].read_bytes())
        zipped.writestr("../../etc/passwd.dcm", dx_files[2].read_bytes())
        zipped.writestr("notes.txt", "not an image")
    files = [
        ("files", ("first.dcm", dx_files[0].read_bytes(), "application/dicom")),
        ("files", ("ct_small.dcm", ct_small.read_bytes(), "application/dicom")),
        ("files", ("picture.png", png_bytes(), "image/png")),
        ("files", ("cut.dcm", truncated, "application/dicom")),
        ("files", ("batch.zip", archive.getvalue(), "application/zip")),
    ]
    answer = site.gateway.post("/api/v1/dicom/uploads", files=files)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    lines = by_name(report)
    assert lines["first.dcm"]["status"] == "stored"
    assert lines["ct_small.dcm"]["status"] == "stored"
    assert (lines["picture.png"]["status"], lines["picture.png"]["reason"]) == ("rejected", "NOT_DICOM")
    assert (lines["cut.dcm"]["status"], lines["cut.dcm"]["reason"]) == ("rejected", "TRUNCATED")
    assert lines["batch.zip/series/a.dcm"]["status"] == "stored"
    unsafe = [f for f in report["files"] if f["reason"] == "UNSAFE_PATH"]
    assert len(unsafe) == 1 and "passwd" in unsafe[0]["name"]
    assert report["stored"] == 3 and report["rejected"] >= 3
    header = pydicom.dcmread(dx_files[0], stop_before_pixels=True)
    assert lines["first.dcm"]["sop_instance_uid"] == header.SOPInstanceUID

    found = site.gateway.get("/api/v1/dicom/studies", params={"patient_id": header.PatientID}).json()
    assert [s["study_instance_uid"] for s in found["studies"]] == [header.StudyInstanceUID]
    assert site.gateway.get("/api/v1/dicom/statistics").json()["instances"] == 3

    again = site.gateway.post("/api/v1/dicom/uploads", files=[("files", ("again.dcm", dx_files[0].read_bytes()))])
    assert again.json()["files"][0]["status"] == "already_present"
    assert site.gateway.get("/api/v1/dicom/statistics").json()["instances"] == 3  # never a second copy

    audit = site.gateway.get("/api/v1/audit", params={"action": "dicom.ingest"}).json()["records"]
    assert audit[-1]["details"] == {"stored": "3", "already_present": "0", "rejected": str(report["rejected"])}
    assert not list(open_object_store(site.settings.object_store).list("staging/"))  # the staged files are gone


def test_a_zip_bomb_is_refused_without_expanding_it(site: Platform) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("bomb.dcm", b"\0" * (200 << 20))
    answer = site.gateway.post("/api/v1/dicom/uploads", files=[("files", ("bomb.zip", archive.getvalue()))])
    assert answer.status_code == 200
    assert answer.json()["files"][0]["reason"] == "ZIP_BOMB"


def test_uploads_need_the_ingest_permission_and_a_size_limit(site: Platform) -> None:
    _, annotator = site.user(["annotator"])
    with site.client(annotator) as client:
        refused = client.post("/api/v1/dicom/uploads", files=[("files", ("x.dcm", b"x"))])
        assert (refused.status_code, refused.json()["error"]["reason"]) == (403, "MISSING_PERMISSION")
    small = site.settings.model_copy(update={"max_upload_bytes": 64 * 1024})
    with TestClient(create_app(small)) as client:
        token = site.login(site.admin_username, site.admin_password)["access_token"]
        big = client.post(
            "/api/v1/dicom/uploads",
            files=[("files", ("big.dcm", b"\0" * (128 * 1024)))],
            headers={"Authorization": f"Bearer {token}"},
        )
        assert (big.status_code, big.json()["error"]["reason"]) == (413, "REQUEST_TOO_LARGE")
