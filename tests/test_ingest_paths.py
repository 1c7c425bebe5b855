"""Every way a hospital sends images lands in the same store: phantoms and pydicom's own sample files go in
through REST (files and a zip), a folder upload with the SDK, STOW-RS and C-STORE, are then found by query
and read back unchanged through DICOMweb with dicomweb-client.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from pydicom.data import get_testdata_file
from pynetdicom import AE, StoragePresentationContexts

import radscholar_phantoms
from radscholar import Client
from radscholar_core.testing import free_port
from tests.conftest import Platform

# Each path gets its own phantom study and its own samples (pydicom's uncompressed instances).
SAMPLES = {
    "rest": ["CT_small.dcm"],
    "zip": ["MR_small.dcm", "examples_overlay.dcm"],
    "folder": ["examples_rgb_color.dcm", "examples_palette.dcm"],
    "stow": ["rtdose.dcm", "SC_rgb_small_odd.dcm"],
    "c-store": [],
}


@pytest.fixture(scope="module")
def sent(isolated_platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[pydicom.Dataset]]:
    """Sends one phantom study and the samples of each path; returns what each path sent."""
    platform = isolated_platform
    work = tmp_path_factory.mktemp("paths")
    manifest = radscholar_phantoms.generate("ct", len(SAMPLES), 1, 5, work / "phantoms", shape=(8, 32, 32))
    assert manifest.root is not None
    files: dict[str, list[Path]] = {}
    for (path, samples), case in zip(SAMPLES.items(), manifest.case_entries, strict=True):
        phantom = sorted((manifest.root / case.series[0].path).glob("*.dcm"))
        files[path] = phantom + [Path(str(get_testdata_file(name))) for name in samples]
    gateway = platform.gateway

    def report(answer: Any) -> dict[str, Any]:
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert body["rejected"] == 0, body
        return body

    # REST: files
    report(gateway.post("/api/v1/dicom/uploads", files=[("files", (f.name, f.read_bytes())) for f in files["rest"]]))
    # REST: one zip
    archive = work / "batch.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index, f in enumerate(files["zip"]):
            zipped.write(f, f"exam/{index:03d}_{f.name}")
    report(gateway.post("/api/v1/dicom/uploads", files=[("files", ("batch.zip", archive.read_bytes()))]))
    # a folder, the way `radscholar upload DIR` sends it (parallel batches through the SDK)
    folder = work / "folder"
    for index, f in enumerate(files["folder"]):
        (folder / f"d{index % 2}").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, folder / f"d{index % 2}" / f"{index:03d}.dcm")
    with Client(platform.url, token=gateway.headers["Authorization"].split()[1]) as client:
        summary = client.upload([folder])
    assert summary.rejected == 0 and summary.stored == len(files["folder"])
    # STOW-RS with dicomweb-client, into a registered site
    assert gateway.post("/api/v1/sites", json={"id": "paths", "name": "Paths"}).status_code == 201
    web = dicomweb_client(platform)
    stow = web.store_instances([pydicom.dcmread(f) for f in files["stow"]], additional_params={"site": "paths"})
    assert len(stow.ReferencedSOPSequence) == len(files["stow"]) and "FailedSOPSequence" not in stow
    stow_study = pydicom.dcmread(files["stow"][0]).StudyInstanceUID
    assert (
        gateway.get("/api/v1/dicom/studies", params={"site": "paths"}).json()["studies"][0]["study_instance_uid"]
        == stow_study
    )  # indexed before STOW-RS answered
    # C-STORE from a modality registered for a site
    registered = gateway.post(
        "/api/v1/sites/paths/modalities", json={"ae_title": "PATHS_CT", "host": "127.0.0.1", "port": free_port()}
    )
    assert registered.status_code == 201, registered.text
    ae = AE(ae_title="PATHS_CT")
    ae.requested_contexts = StoragePresentationContexts
    assoc = ae.associate("127.0.0.1", platform.orthanc.dicom_port, ae_title="RADSCHOLAR")
    assert assoc.is_established
    try:
        assert [int(assoc.send_c_store(pydicom.dcmread(f)).Status) for f in files["c-store"]] == [0] * len(
            files["c-store"]
        )
    finally:
        assoc.release()
    return {path: [pydicom.dcmread(f) for f in paths] for path, paths in files.items()}


def dicomweb_client(platform: Platform) -> DICOMwebClient:
    session = requests.Session()
    session.headers["Authorization"] = platform.gateway.headers["Authorization"]
    return DICOMwebClient(url=f"{platform.url}/dicom-web", session=session)


@pytest.mark.parametrize("path", list(SAMPLES))
def test_what_each_path_sent_is_found_and_read_back(
    isolated_platform: Platform, sent: dict[str, list[pydicom.Dataset]], path: str
) -> None:
    platform, web = isolated_platform, dicomweb_client(isolated_platform)
    for original in sent[path]:
        deadline = time.monotonic() + 15  # C-STORE is indexed by the background loop
        while True:
            found = platform.gateway.get("/api/v1/dicom/studies", params={"patient_id": original.PatientID}).json()
            uids = {s["study_instance_uid"] for s in found["studies"]}
            if original.StudyInstanceUID in uids or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert original.StudyInstanceUID in uids, (path, original.PatientID)
        hits = web.search_for_instances(
            study_instance_uid=original.StudyInstanceUID, search_filters={"SOPInstanceUID": original.SOPInstanceUID}
        )
        assert len(hits) == 1
        back = web.retrieve_instance(
            original.StudyInstanceUID,
            original.SeriesInstanceUID,
            original.SOPInstanceUID,
            media_types=(("application/dicom", "*"),),  # as stored: no transcoding
        )
        assert back.SOPInstanceUID == original.SOPInstanceUID
        assert back.PixelData == original.PixelData, (path, original.SOPInstanceUID)


def test_each_instance_is_stored_once(isolated_platform: Platform, sent: dict[str, list[pydicom.Dataset]]) -> None:
    expected = {ds.SOPInstanceUID for datasets in sent.values() for ds in datasets}
    stats = isolated_platform.orthanc.client().get("/statistics").json()
    assert stats["CountInstances"] == len(expected)
