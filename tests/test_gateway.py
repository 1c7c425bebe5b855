"""The REST surface end to end: gateway -> real services -> real Orthanc."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pydicom
import pytest
from fastapi.testclient import TestClient

from radscholar_gateway.app import create_app


def assert_error(response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "reason", "message", "details"}
    assert error["reason"] == reason
    assert error["message"]
    return error  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stored_studies(isolated_platform: Any, ct_phantoms: Path) -> dict[str, list[pydicom.Dataset]]:
    """Stores the CT phantoms straight into Orthanc (as C-STORE would); returns their headers by study UID
    once the catalog, which follows Orthanc's change log, has all of them."""
    studies: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    with isolated_platform.orthanc.client() as orthanc:
        for path in sorted(ct_phantoms.rglob("*.dcm")):
            assert orthanc.post("/instances", content=path.read_bytes()).status_code == 200
            header = pydicom.dcmread(path, stop_before_pixels=True)
            studies[header.StudyInstanceUID].append(header)
    expected = sum(len(headers) for headers in studies.values())
    deadline = time.monotonic() + 30
    while isolated_platform.gateway.get("/api/v1/dicom/statistics").json()["instances"] != expected:
        assert time.monotonic() < deadline, "the catalog did not index what Orthanc received"
        time.sleep(0.2)
    return studies


def test_liveness_readiness_and_openapi(platform: Any) -> None:
    gateway = platform.gateway
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "upstreams": dict.fromkeys(["dicomstore", "labeling", "training", "radiomics", "stats"], "SERVING"),
    }
    paths = gateway.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/dicom/studies",
        "/api/v1/projects",
        "/api/v1/training/architectures",
        "/api/v1/radiomics/presets",
        "/api/v1/stats/two-group-comparisons",
    } <= set(paths)


def test_request_id_is_echoed_or_made(platform: Any) -> None:
    assert platform.gateway.get("/healthz", headers={"X-Request-ID": "abc-42"}).headers["X-Request-ID"] == "abc-42"
    assert len(platform.gateway.get("/healthz").headers["X-Request-ID"]) == 32


def test_study_query_statistics_and_series(isolated_platform: Any, stored_studies: dict[str, list[Any]]) -> None:
    gateway = isolated_platform.gateway
    statistics = gateway.get("/api/v1/dicom/statistics").json()
    assert statistics["studies"] == len(stored_studies)
    assert statistics["instances"] == sum(len(v) for v in stored_studies.values())
    assert statistics["disk_size_bytes"] > 0

    first_page = gateway.get("/api/v1/dicom/studies", params={"modality": "CT", "page_size": 3}).json()
    assert first_page["total_size"] == len(stored_studies)
    assert len(first_page["studies"]) == 3 and first_page["next_page_token"]
    rest = gateway.get(
        "/api/v1/dicom/studies",
        params={"modality": "ct", "page_size": 3, "page_token": first_page["next_page_token"]},
    ).json()
    found = first_page["studies"] + rest["studies"]
    assert {s["study_instance_uid"] for s in found} == set(stored_studies)
    dates = [s["study_date"] for s in found]
    assert dates == sorted(dates, reverse=True)
    for study in found:
        headers = stored_studies[study["study_instance_uid"]]
        assert study["modalities"] == ["CT"]
        assert study["instance_count"] == len(headers)
        assert study["patient_id"] == headers[0].PatientID
        assert study["institution"] == headers[0].InstitutionName

    assert gateway.get("/api/v1/dicom/studies", params={"modality": "MR"}).json()["total_size"] == 0
    one = next(iter(stored_studies.values()))[0]
    by_patient = gateway.get("/api/v1/dicom/studies", params={"patient_id": one.PatientID}).json()
    assert {s["patient_id"] for s in by_patient["studies"]} == {one.PatientID}
    word = str(one.StudyDescription).split()[0].lower()
    by_text = gateway.get("/api/v1/dicom/studies", params={"description": word}).json()
    assert one.StudyInstanceUID in {s["study_instance_uid"] for s in by_text["studies"]}
    by_site = gateway.get("/api/v1/dicom/studies", params={"institution": one.InstitutionName}).json()
    assert {s["institution"] for s in by_site["studies"]} == {one.InstitutionName}

    series = gateway.get(f"/api/v1/dicom/studies/{one.StudyInstanceUID}/series").json()["series"]
    assert sum(s["instance_count"] for s in series) == len(stored_studies[one.StudyInstanceUID])
    assert {s["series_instance_uid"] for s in series} == {
        h.SeriesInstanceUID for h in stored_studies[one.StudyInstanceUID]
    }


def test_dicom_errors_are_json(platform: Any) -> None:
    gateway = platform.gateway
    assert_error(gateway.get("/api/v1/dicom/studies/1.2.3.4/series"), 404, "STUDY_NOT_FOUND")
    assert_error(gateway.get("/api/v1/dicom/studies", params={"study_date_from": "yesterday"}), 422, "INVALID_DATE")
    assert_error(gateway.get("/api/v1/dicom/studies", params={"page_token": "forged"}), 422, "INVALID_PAGE_TOKEN")
    assert_error(gateway.get("/api/v1/dicom/studies", params={"page_size": -1}), 422, "INVALID_REQUEST")


def test_projects_lifecycle(platform: Any) -> None:
    gateway = platform.gateway
    body = {
        "name": "Nodules (gateway test)",
        "modality": "CT",
        "task_type": "SEGMENTATION",
        "dimensionality": "3D",
    }
    created = gateway.post("/api/v1/projects", json=body)
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["task_type"] == "SEGMENTATION" and project["dimensionality"] == "3D"
    assert gateway.get(f"/api/v1/projects/{project['id']}").json() == project
    assert project["id"] in {p["id"] for p in gateway.get("/api/v1/projects").json()["projects"]}
    assert_error(gateway.post("/api/v1/projects", json=body), 409, "PROJECT_EXISTS")
    assert_error(gateway.post("/api/v1/projects", json=body | {"name": "x", "modality": "SR"}), 422, "INVALID_MODALITY")
    error = assert_error(gateway.post("/api/v1/projects", json=body | {"task_type": "DRAWING"}), 422, "INVALID_REQUEST")
    assert "task_type" in error["message"]
    assert_error(gateway.get("/api/v1/projects/does-not-exist"), 404, "PROJECT_NOT_FOUND")
    assert_error(
        gateway.post("/api/v1/projects", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "INVALID_REQUEST",
    )


def test_training_radiomics_and_stats_routes(platform: Any) -> None:
    gateway = platform.gateway
    zoo = gateway.get("/api/v1/training/architectures", params={"task": "SEGMENTATION", "spatial_dims": 3}).json()
    assert {"unet", "dynunet", "segresnet", "swinunetr"} <= {a["id"] for a in zoo["architectures"]}
    assert_error(gateway.get("/api/v1/training/architectures", params={"spatial_dims": 5}), 422, "INVALID_SPATIAL_DIMS")

    presets = gateway.get("/api/v1/radiomics/presets").json()["presets"]
    ct = next(p for p in presets if p["id"] == "ct")
    validated = gateway.post("/api/v1/radiomics/settings/validate", json={"settings_yaml": ct["settings_yaml"]}).json()
    assert validated["image_types"] == ["LoG", "Original", "Wavelet"]
    error = assert_error(
        gateway.post("/api/v1/radiomics/settings/validate", json={"settings_yaml": "setting: {binWidth: 0}"}),
        422,
        "INVALID_SETTINGS",
    )
    assert "binWidth" in error["message"]

    result = gateway.post(
        "/api/v1/stats/two-group-comparisons",
        json={"group_a": [1, 2, 3, 4], "group_b": [2, 4, 6, 8, 9], "test": "MANN_WHITNEY_U"},
    ).json()
    assert result["degrees_of_freedom"] is None and 0 < result["p_value"] <= 1
    assert_error(
        gateway.post(
            "/api/v1/stats/two-group-comparisons", json={"group_a": [1], "group_b": [2, 3], "test": "WELCH_T"}
        ),
        422,
        "TOO_FEW_VALUES",
    )


def test_an_unreachable_service_is_503_not_500(platform: Any) -> None:
    from radscholar_core.testing import free_port

    settings = platform.settings.model_copy(
        update={
            "stats_address": f"127.0.0.1:{free_port()}",  # nothing listens there
            "readiness_timeout_seconds": 1,
            "upstream_timeout_seconds": 2,
        }
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as gateway:
        token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
        gateway.headers["Authorization"] = f"Bearer {token}"
        ready = gateway.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["upstreams"]["stats"] == "UNREACHABLE"
        assert ready.json()["upstreams"]["labeling"] == "SERVING"
        response = gateway.post(
            "/api/v1/stats/two-group-comparisons",
            json={"group_a": [1, 2], "group_b": [2, 3], "test": "WELCH_T"},
        )
        assert response.status_code in (503, 504)
        assert response.json()["error"]["code"] in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
        assert_error(gateway.get("/api/v1/nowhere"), 404, "NOT_FOUND")
