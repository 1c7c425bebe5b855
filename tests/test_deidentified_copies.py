"""De-identified copies through the gateway: no PHI left, pixels identical, pseudonyms consistent per project."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest

from tests.conftest import Platform

PHI_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "AccessionNumber",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "OperatorsName",
    "StationName",
)


@pytest.fixture(scope="module")
def studies(isolated_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    import radscholar_phantoms

    out = tmp_path_factory.mktemp("phi")
    radscholar_phantoms.generate("ct", 2, 1, 51, out, shape=(8, 48, 48))
    files = sorted(out.rglob("*.dcm"))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for f in files:
            zipped.write(f, f.name + f.parent.name)
    assert isolated_platform.gateway.post(
        "/api/v1/dicom/uploads", files=[("files", ("phi.zip", archive.getvalue()))]
    ).json()["stored"] == len(files)
    by_study: dict[str, list[Path]] = {}
    for f in files:
        by_study.setdefault(str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID), []).append(f)
    return by_study


def project(platform: Platform, name: str) -> str:
    body = {"name": name, "modality": "CT", "task_type": "SEGMENTATION", "dimensionality": "3D"}
    return str(platform.gateway.post("/api/v1/projects", json=body).json()["id"])


def originals(files: list[Path]) -> set[str]:
    values = set()
    for f in files:
        header = pydicom.dcmread(f, stop_before_pixels=True)
        values |= {str(header.get(k, "")) for k in PHI_KEYWORDS} | {str(header.StudyInstanceUID)}
    return {v for v in values if v}


def test_a_copy_keeps_no_phi_and_identical_pixels(isolated_platform: Platform, studies: dict[str, list[Path]]) -> None:
    platform = isolated_platform
    study_uid, files = next(iter(studies.items()))
    project_id = project(platform, "De-identification A")
    answer = platform.gateway.post(
        f"/api/v1/dicom/studies/{study_uid}/deidentified-copies", json={"project_id": project_id}
    )
    assert answer.status_code == 201, answer.text
    copy = answer.json()
    assert copy["instances"] == len(files) and copy["study_instance_uid"] != study_uid
    assert "PatientBirthDate" in copy["removed"] or copy["actions"]
    series = platform.gateway.get(f"/api/v1/dicom/studies/{copy['study_instance_uid']}/series").json()["series"]
    assert sum(s["instance_count"] for s in series) == len(files)
    volume = platform.gateway.get(f"/api/v1/dicom/series/{series[0]['series_instance_uid']}/volume.nii.gz")
    original = platform.gateway.get(
        f"/api/v1/dicom/series/{pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID}/volume.nii.gz"
    )
    assert volume.status_code == 200
    import gzip

    import nibabel as nib

    def voxels(content: bytes) -> Any:
        return nib.Nifti1Image.from_bytes(gzip.decompress(content)).get_fdata()

    assert (voxels(volume.content) == voxels(original.content)).all()  # pixel data untouched
    found = platform.gateway.get("/api/v1/dicom/studies", params={"patient_id": copy["pseudonym"]}).json()
    assert [s["study_instance_uid"] for s in found["studies"]] == [copy["study_instance_uid"]]
    copied = found["studies"][0]
    leaked = originals(files) & {
        copied["patient_name"],
        copied["patient_id"],
        copied["accession_number"],
        copied["institution"],
        copied["study_instance_uid"],
    }
    assert not leaked


def test_pseudonyms_are_consistent_within_a_project_and_differ_across(
    isolated_platform: Platform, studies: dict[str, list[Path]]
) -> None:
    platform = isolated_platform
    study_uid = next(iter(studies))
    first, second = project(platform, "Pseudonyms 1"), project(platform, "Pseudonyms 2")
    url = f"/api/v1/dicom/studies/{study_uid}/deidentified-copies"
    a = platform.gateway.post(url, json={"project_id": first}).json()
    again = platform.gateway.post(url, json={"project_id": first}).json()
    other = platform.gateway.post(url, json={"project_id": second}).json()
    assert (a["pseudonym"], a["study_instance_uid"]) == (again["pseudonym"], again["study_instance_uid"])
    assert a["pseudonym"] != other["pseudonym"] and a["study_instance_uid"] != other["study_instance_uid"]


def test_only_members_may_copy_into_a_project(isolated_platform: Platform, studies: dict[str, list[Path]]) -> None:
    platform = isolated_platform
    study_uid = next(iter(studies))
    _, outsider = platform.user(["researcher"])
    with platform.client(outsider) as client:
        refused = client.post(
            f"/api/v1/dicom/studies/{study_uid}/deidentified-copies", json={"project_id": project(platform, "Closed")}
        )
    assert (refused.status_code, refused.json()["error"]["reason"]) == (403, "NOT_A_PROJECT_MEMBER")
    missing = platform.gateway.post(
        "/api/v1/dicom/studies/1.2.3.4.5/deidentified-copies", json={"project_id": project(platform, "Missing")}
    )
    assert (missing.status_code, missing.json()["error"]["reason"]) == (404, "STUDY_NOT_FOUND")
