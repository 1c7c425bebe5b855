"""Sites, C-STORE from registered modalities, queries over the catalog, statistics and de-identification on
ingest, against a real Orthanc behind the real services and gateway (one platform for this module).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pynetdicom import AE, StoragePresentationContexts

import radscholar_phantoms
from radscholar_core.testing import free_port
from tests.conftest import Platform

STUDIES = "/api/v1/dicom/studies"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> radscholar_phantoms.Manifest:
    """Four small chest CT studies, from St. Example Hospital (even) and Northfield University Medical Center (odd)."""
    return radscholar_phantoms.generate("ct", 4, 2, 23, tmp_path_factory.mktemp("cohort"), shape=(12, 40, 48))


def case_files(manifest: radscholar_phantoms.Manifest, index: int) -> list[Path]:
    assert manifest.root is not None
    case = manifest.case_entries[index]
    return sorted(f for s in case.series for f in (manifest.root / s.path).glob("*.dcm"))


def upload(platform: Platform, files: list[Path], **params: str) -> dict[str, Any]:
    answer = platform.gateway.post(
        "/api/v1/dicom/uploads",
        params=params,
        files=[("files", (f.name, f.read_bytes(), "application/dicom")) for f in files],
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def studies(platform: Platform, **params: Any) -> dict[str, Any]:
    answer = platform.gateway.get(STUDIES, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def eventually(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the catalog did not catch up"
        time.sleep(0.1)


def c_store(platform: Platform, calling_ae: str, datasets: list[pydicom.Dataset]) -> list[int] | None:
    """Sends with pynetdicom as `calling_ae`; None when Orthanc refuses the association."""
    ae = AE(ae_title=calling_ae)
    ae.requested_contexts = StoragePresentationContexts
    assoc = ae.associate("127.0.0.1", platform.orthanc.dicom_port, ae_title="RADSCHOLAR")
    if not assoc.is_established:
        return None
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


@pytest.fixture(scope="module")
def sites(isolated_platform: Platform) -> Iterator[Platform]:
    """Two registered sites; the first knows its institution name and has a CT scanner registered."""
    gateway = isolated_platform.gateway
    north = gateway.post(
        "/api/v1/sites",
        json={"id": "north", "name": "North General", "institution_names": ["northfield university medical center"]},
    )
    assert north.status_code == 201, north.text
    assert gateway.post("/api/v1/sites", json={"id": "south", "name": "South Clinic"}).status_code == 201
    scanner = gateway.post(
        "/api/v1/sites/north/modalities",
        json={"ae_title": "NORTH_CT", "host": "127.0.0.1", "port": free_port(), "description": "CT room 2"},
    )
    assert scanner.status_code == 201, scanner.text
    yield isolated_platform


def test_site_registration_names_each_problem(sites: Platform) -> None:
    gateway = sites.gateway
    cases = [
        ("/api/v1/sites", {"id": "North Site", "name": "x"}, 422, "INVALID_SITE_ID"),
        ("/api/v1/sites", {"id": "north", "name": "again"}, 409, "SITE_EXISTS"),
        ("/api/v1/sites/north/modalities", {"ae_title": "A" * 17, "host": "127.0.0.1"}, 422, "INVALID_AE_TITLE"),
        ("/api/v1/sites/north/modalities", {"ae_title": "OK", "host": "bad host!"}, 422, "INVALID_HOST"),
        ("/api/v1/sites/nowhere/modalities", {"ae_title": "OK", "host": "127.0.0.1"}, 404, "SITE_NOT_FOUND"),
        ("/api/v1/sites/south/modalities", {"ae_title": "NORTH_CT", "host": "127.0.0.1"}, 409, "AE_TITLE_TAKEN"),
    ]
    for path, body, status, reason in cases:
        answer = gateway.post(path, json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert answer.json()["error"]["reason"] == reason
    listed = {s["id"]: s for s in gateway.get("/api/v1/sites").json()["sites"]}
    assert [m["ae_title"] for m in listed["north"]["modalities"]] == ["NORTH_CT"]
    assert listed["north"]["registered"] and listed["south"]["modalities"] == []


def test_only_sites_managers_register_sites(sites: Platform) -> None:
    _, token = sites.user(["researcher"])
    with sites.client(token) as researcher:
        assert researcher.get("/api/v1/sites").status_code == 200
        assert researcher.post("/api/v1/sites", json={"id": "x", "name": "x"}).status_code == 403
        assert researcher.delete("/api/v1/sites/south").status_code == 403


def test_c_store_from_a_registered_modality_lands_at_its_site(sites: Platform, cohort: Any) -> None:
    files = case_files(cohort, 0)  # a St. Example study: its institution alone would not say "north"
    samples = [pydicom.dcmread(get_testdata_file(name)) for name in ("CT_small.dcm", "MR_small.dcm")]
    statuses = c_store(sites, "NORTH_CT", [pydicom.dcmread(f) for f in files] + samples)
    assert statuses == [0] * (len(files) + 2)
    study_uid = cohort.case_entries[0].study_instance_uid

    def indexed() -> bool:
        found = studies(sites, site="north", patient_id=cohort.case_entries[0].patient_id)["studies"]
        return bool(found) and found[0]["instance_count"] == len(files)

    eventually(indexed)
    found = studies(sites, site="north", patient_id=cohort.case_entries[0].patient_id)["studies"][0]
    assert found["study_instance_uid"] == study_uid
    for sample in samples:  # pydicom's sample files arrive by C-STORE too
        eventually(lambda s=sample: studies(sites, patient_id=s.PatientID)["total_size"] >= 1)
    assert c_store(sites, "NORTH_CT", samples) == [0, 0]  # sent again: still one copy each
    stored = sites.orthanc.client().get("/statistics").json()["CountInstances"]
    assert stored == len(files) + 2


def test_an_unknown_ae_title_is_refused(sites: Platform) -> None:
    assert c_store(sites, "ROGUE_AE", [pydicom.dcmread(get_testdata_file("CT_small.dcm"))]) is None


def test_uploads_take_the_route_site_then_the_institution(sites: Platform, cohort: Any) -> None:
    south_case, northfield_case = cohort.case_entries[3], cohort.case_entries[1]
    report = upload(sites, case_files(cohort, 3), site="south")  # the route wins over the institution
    assert report["stored"] == len(case_files(cohort, 3))
    # no waiting: an upload answers once the catalog has it
    assert studies(sites, site="south")["studies"][0]["study_instance_uid"] == south_case.study_instance_uid
    upload(sites, case_files(cohort, 1))  # Northfield: north's institution name
    assert studies(sites, patient_id=northfield_case.patient_id)["studies"][0]["site"] == "north"
    upload(sites, case_files(cohort, 2))  # St. Example: not registered, so the institution is the site
    assert studies(sites, patient_id=cohort.case_entries[2].patient_id)["studies"][0]["site"] == (
        "St. Example Hospital"
    )
    unknown = sites.gateway.post(
        "/api/v1/dicom/uploads", params={"site": "atlantis"}, files=[("files", ("a.dcm", b"x", "application/dicom"))]
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["reason"] == "SITE_NOT_FOUND"


def test_sites_are_listed_with_their_counts(sites: Platform, cohort: Any) -> None:
    listed = {s["id"]: s for s in sites.gateway.get("/api/v1/sites").json()["sites"]}
    north = listed["north"]
    assert north["studies"] >= 2 and north["patients"] >= 2
    assert north["instances"] >= 2 * len(case_files(cohort, 0))
    unregistered = listed["St. Example Hospital"]
    assert not unregistered["registered"] and unregistered["studies"] == 1
    assert unregistered["instances"] == len(case_files(cohort, 2)) and unregistered["size_bytes"] > 0


def test_query_filters_sorting_and_paging(sites: Platform, cohort: Any) -> None:
    everything = studies(sites, page_size=100)
    total = everything["total_size"]
    assert total >= 6
    dates = [s["study_date"] for s in everything["studies"] if s["study_date"]]
    assert dates == sorted(dates, reverse=True)
    by_patient = studies(sites, sort="patient_id", page_size=100)["studies"]
    assert [s["patient_id"] for s in by_patient] == sorted(s["patient_id"] for s in by_patient)
    biggest = studies(sites, sort="-size", page_size=1)["studies"][0]
    assert biggest["size_bytes"] == max(s["size_bytes"] for s in everything["studies"])
    assert studies(sites, modality="MR")["total_size"] == 1
    assert studies(sites, body_part="chest")["total_size"] == 4
    assert studies(sites, description="chest")["total_size"] >= 4
    first = cohort.case_entries[0]
    day = first.study_date  # ISO already
    ranged = studies(sites, study_date_from=day, study_date_to=day)["studies"]
    assert first.study_instance_uid in {s["study_instance_uid"] for s in ranged}
    # paging walks every study exactly once
    seen, token = [], ""
    while True:
        page = studies(sites, page_size=2, page_token=token, sort="patient_id")
        seen += [s["study_instance_uid"] for s in page["studies"]]
        token = page["next_page_token"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == total
    bad = sites.gateway.get(STUDIES, params={"sort": "colour"})
    assert bad.status_code == 422 and bad.json()["error"]["reason"] == "INVALID_SORT"


def test_patients_and_series(sites: Platform, cohort: Any) -> None:
    patients = sites.gateway.get("/api/v1/dicom/patients", params={"body_part": "CHEST"}).json()
    assert patients["total_size"] == 4
    assert all(p["study_count"] == 1 and p["sites"] for p in patients["patients"])
    series = sites.gateway.get("/api/v1/dicom/series", params={"modality": "CT", "sort": "-instances"}).json()
    counts = [s["instance_count"] for s in series["series"]]
    assert counts == sorted(counts, reverse=True)


def test_series_summary_has_the_geometry(sites: Platform, cohort: Any) -> None:
    entry = cohort.case_entries[0].series[0]
    answer = sites.gateway.get(f"/api/v1/dicom/series/{entry.series_instance_uid}")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    first = pydicom.dcmread(case_files(cohort, 0)[0], stop_before_pixels=True)
    assert (summary["rows"], summary["columns"], summary["slices"]) == (first.Rows, first.Columns, entry.instances)
    assert summary["instance_count"] == entry.instances and summary["modality"] == "CT"
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    assert summary["spacing"] == pytest.approx([column_spacing, row_spacing, float(first.SliceThickness)])
    assert summary["plane"] == "axial" and summary["orientation"] == pytest.approx(
        [float(v) for v in first.ImageOrientationPatient]
    )
    ct_small = sites.gateway.get(
        f"/api/v1/dicom/series/{pydicom.dcmread(get_testdata_file('CT_small.dcm')).SeriesInstanceUID}"
    )
    assert ct_small.json()["slices"] == 1 and ct_small.json()["rows"] == 128
    missing = sites.gateway.get("/api/v1/dicom/series/1.2.3.4")
    assert missing.status_code == 404 and missing.json()["error"]["reason"] == "SERIES_NOT_FOUND"


def test_statistics_by_modality_site_and_month(sites: Platform) -> None:
    stats = sites.gateway.get("/api/v1/dicom/statistics").json()
    orthanc = sites.orthanc.client().get("/statistics").json()
    assert stats["instances"] == orthanc["CountInstances"] and stats["studies"] == orthanc["CountStudies"]
    for group in ("by_modality", "by_site", "by_month"):
        assert sum(g["instances"] for g in stats[group]) == stats["instances"], group
        assert sum(g["size_bytes"] for g in stats[group]) == stats["disk_size_bytes"], group
    modalities = {g["key"]: g for g in stats["by_modality"]}
    assert set(modalities) >= {"CT", "MR"} and modalities["MR"]["series"] == 1
    assert {"north", "south"} <= {g["key"] for g in stats["by_site"]}
    assert all(len(g["key"]) == 7 for g in stats["by_month"] if g["key"])


def test_a_project_can_ask_for_deidentification_on_ingest(sites: Platform, tmp_path: Path) -> None:
    gateway = sites.gateway
    assert gateway.get("/api/v1/projects/lung-1/ingest-profile").json()["deidentify"] is False
    profile = gateway.put(
        "/api/v1/projects/lung-1/ingest-profile", json={"deidentify": True, "retain_longitudinal_dates": True}
    )
    assert profile.status_code == 200 and profile.json()["deidentify"] is True
    cases = radscholar_phantoms.generate("ct", 1, 1, 77, tmp_path, shape=(8, 32, 32))
    files = case_files(cases, 0)
    original = cases.case_entries[0]
    report = upload(sites, files, project_id="lung-1", site="south")
    assert report["stored"] == len(files) and report["deidentified"]["removed"] > 0
    assert {"PatientAddress", "InstitutionAddress"} <= set(report["removed"])
    assert all(f["study_instance_uid"] != original.study_instance_uid for f in report["files"])
    # the original never reached the store; the copy is in the project, at the route's site
    assert studies(sites, patient_id=original.patient_id)["total_size"] == 0
    found = studies(sites, project_id="lung-1")["studies"]
    assert len(found) == 1 and found[0]["site"] == "south" and found[0]["patient_id"].startswith("RS-")
    assert found[0]["study_date"] and found[0]["study_date"] != original.study_date  # shifted, kept
    again = upload(sites, files, project_id="lung-1")
    assert again["already_present"] == len(files)  # consistent pseudonymous UIDs: no second copy


def test_deleting_a_site_unregisters_its_modalities(sites: Platform) -> None:
    gateway = sites.gateway
    assert gateway.post("/api/v1/sites", json={"id": "east", "name": "East"}).status_code == 201
    added = gateway.post("/api/v1/sites/east/modalities", json={"ae_title": "EAST_MR", "host": "127.0.0.1"})
    assert added.status_code == 201
    assert "EAST_MR" in sites.orthanc.client().get("/modalities").json()
    assert gateway.delete("/api/v1/sites/east").status_code == 204
    assert "EAST_MR" not in sites.orthanc.client().get("/modalities").json()
    assert gateway.delete("/api/v1/sites/east").status_code == 404


def test_a_series_sent_in_parts_is_counted_after_each(sites: Platform, tmp_path: Path) -> None:
    cases = radscholar_phantoms.generate("ct", 1, 1, 91, tmp_path, shape=(10, 32, 32))
    files, case = case_files(cases, 0), cases.case_entries[0]
    for first, sent in ((0, 4), (4, 10)):  # the second upload adds to a series the catalog already knows
        upload(sites, files[first:sent], site="south")
        study = studies(sites, patient_id=case.patient_id)["studies"][0]
        assert study["instance_count"] == sent
        assert study["size_bytes"] == sum(f.stat().st_size for f in files[:sent])


def test_an_overlong_project_id_is_refused(sites: Platform) -> None:
    answer = sites.gateway.put(f"/api/v1/projects/{'p' * 65}/ingest-profile", json={"deidentify": True})
    assert answer.status_code == 422 and answer.json()["error"]["reason"] == "INVALID_PROJECT_ID"
