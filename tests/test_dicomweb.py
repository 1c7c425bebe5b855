"""DICOMweb at the gateway with a standard client (dicomweb-client), on its own Orthanc.

STOW-RS goes through the ingest checks (per-part outcome, no second copy), QIDO-RS and WADO-RS are
proxied to Orthanc's plugin with URLs naming the gateway, and everything sits behind sign-in,
permissions and the audit trail.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from radscholar_core.testing import free_port
from radscholar_gateway.app import create_app
from tests.conftest import Platform

# pydicom's own samples that are standard, uncompressed instances (rtdose.dcm has 15 frames)
SAMPLES = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_small_odd.dcm", "rtdose.dcm")
STOW_TYPE = 'multipart/related; type="application/dicom"; boundary={boundary}'
CANNOT_UNDERSTAND, STUDY_MISMATCH = 0xC000, 0xC409


@pytest.fixture(scope="module")
def site(isolated_platform: Platform) -> Platform:
    return isolated_platform


@pytest.fixture(scope="module")
def phantom_series(ct_phantoms: Path) -> list[list[Path]]:
    """The CT phantom files, one list per series (64 slices each), in a fixed order."""
    series: dict[str, list[Path]] = {}
    for path in sorted(ct_phantoms.rglob("*.dcm")):
        series.setdefault(path.parent.as_posix(), []).append(path)
    return list(series.values())


@pytest.fixture(scope="module")
def samples() -> list[Path]:
    return [Path(get_testdata_file(name)) for name in SAMPLES]  # type: ignore[arg-type]


def bearer(platform: Platform) -> str:
    return platform.gateway.headers["Authorization"].removeprefix("Bearer ")


def dicomweb(platform: Platform, token: str) -> DICOMwebClient:
    """A standard DICOMweb client of the gateway, signed in through its requests session."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return DICOMwebClient(url=f"{platform.url}/dicom-web", session=session)


@pytest.fixture(scope="module")
def admin(site: Platform) -> Iterator[DICOMwebClient]:
    client = dicomweb(site, bearer(site))
    yield client
    client._session.close()


def orthanc_instances(platform: Platform) -> int:
    with platform.orthanc.client() as orthanc:
        return int(orthanc.get("/statistics").json()["CountInstances"])


def multipart(*parts: bytes, boundary: str = "radscholar-test-boundary") -> tuple[bytes, dict[str, str]]:
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part + b"\r\n" for part in parts
    )
    return body + f"--{boundary}--\r\n".encode(), {"Content-Type": STOW_TYPE.format(boundary=boundary)}


def values(response: dict[str, Any], sequence: str, tag: str) -> list[Any]:
    return [
        item[tag]["Value"][0] for item in response.get(sequence, {}).get("Value", []) if "Value" in item.get(tag, {})
    ]


def audit(platform: Platform, **params: str) -> list[dict[str, Any]]:
    answer = platform.gateway.get("/api/v1/audit", params={"page_size": "1000", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["records"]  # type: ignore[no-any-return]


def new_instance(path: Path, **uids: str) -> bytes:
    """A copy of a file as a new instance (fresh SOP Instance UID, other UIDs as given)."""
    dataset = pydicom.dcmread(path)
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    for keyword, value in uids.items():
        setattr(dataset, keyword, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_stow_stores_every_instance_once(
    site: Platform, admin: DICOMwebClient, phantom_series: list[list[Path]], samples: list[Path]
) -> None:
    files = phantom_series[0] + samples
    datasets = [pydicom.dcmread(path) for path in files]
    before = orthanc_instances(site)

    answer = admin.store_instances(datasets)

    referenced = answer.ReferencedSOPSequence
    assert "FailedSOPSequence" not in answer
    assert [item.ReferencedSOPInstanceUID for item in referenced] == [d.SOPInstanceUID for d in datasets]
    assert [item.ReferencedSOPClassUID for item in referenced] == [d.SOPClassUID for d in datasets]
    for item, dataset in zip(referenced, datasets, strict=True):
        assert item.RetrieveURL == (
            f"{site.url}/dicom-web/studies/{dataset.StudyInstanceUID}"
            f"/series/{dataset.SeriesInstanceUID}/instances/{dataset.SOPInstanceUID}"
        )
    assert orthanc_instances(site) == before + len(datasets)

    again = admin.store_instances(datasets)  # already present counts as stored: 200, nothing new
    assert len(again.ReferencedSOPSequence) == len(datasets)
    assert orthanc_instances(site) == before + len(datasets)

    records = audit(site, action="dicom.ingest")
    assert {"transaction": "STOW-RS", "stored": "0", "already_present": str(len(datasets)), "rejected": "0"} in [
        r["details"] for r in records
    ]


def test_a_mixed_batch_stores_the_good_and_names_the_bad(site: Platform, phantom_series: list[list[Path]]) -> None:
    good = [path.read_bytes() for path in phantom_series[1][:2]]
    truncated = Path(get_testdata_file("CT_small.dcm")).read_bytes()[:-2000]  # type: ignore[arg-type]
    body, headers = multipart(good[0], b"this is a note, not an image", truncated, good[1])
    before = orthanc_instances(site)

    answer = site.gateway.post("/dicom-web/studies", content=body, headers=headers)

    assert answer.status_code == 202, answer.text
    assert answer.headers["content-type"] == "application/dicom+json"
    response = answer.json()
    sent = [pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True) for data in good]
    assert values(response, "00081199", "00081155") == [d.SOPInstanceUID for d in sent]
    assert values(response, "00081198", "00081197") == [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND]
    assert orthanc_instances(site) == before + 2
    warnings = answer.headers.get_list("warning")
    assert any("part 2: NOT_DICOM" in w for w in warnings) and any("part 3: TRUNCATED" in w for w in warnings)

    report = site.gateway.post(
        "/dicom-web/studies", content=body, headers={**headers, "Accept": "application/json"}
    )  # RadScholar's per-file report of the same request
    assert report.status_code == 202
    lines = [(f["name"], f["status"], f["reason"]) for f in report.json()["files"]]
    assert lines == [
        ("part 1", "already_present", ""),
        ("part 2", "rejected", "NOT_DICOM"),
        ("part 3", "rejected", "TRUNCATED"),
        ("part 4", "already_present", ""),
    ]

    nothing_good, headers = multipart(b"\x89PNG\r\n\x1a\n", truncated)
    refused = site.gateway.post("/dicom-web/studies", content=nothing_good, headers=headers)
    assert refused.status_code == 409
    assert values(refused.json(), "00081198", "00081197") == [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND]


def test_storing_into_a_study_refuses_instances_of_another(
    site: Platform, admin: DICOMwebClient, phantom_series: list[list[Path]]
) -> None:
    study = pydicom.dcmread(phantom_series[0][0], stop_before_pixels=True).StudyInstanceUID
    ours = new_instance(phantom_series[0][0])
    theirs = new_instance(phantom_series[2][0])  # another study: must not be stored
    body, headers = multipart(ours, theirs)
    before = orthanc_instances(site)

    answer = site.gateway.post(f"/dicom-web/studies/{study}", content=body, headers=headers)

    assert answer.status_code == 202, answer.text
    response = answer.json()
    assert response["00081190"]["Value"] == [f"{site.url}/dicom-web/studies/{study}"]
    their_uid = pydicom.dcmread(io.BytesIO(theirs), stop_before_pixels=True).SOPInstanceUID
    assert values(response, "00081198", "00081155") == [their_uid]
    assert values(response, "00081198", "00081197") == [STUDY_MISMATCH]
    assert orthanc_instances(site) == before + 1
    assert admin.search_for_instances(search_filters={"SOPInstanceUID": their_uid}) == []


def test_qido_finds_what_was_stored_with_urls_of_the_gateway(
    site: Platform, admin: DICOMwebClient, phantom_series: list[list[Path]]
) -> None:
    first = pydicom.dcmread(phantom_series[0][0], stop_before_pixels=True)
    admin.store_instances([pydicom.dcmread(path) for path in phantom_series[0]])

    studies = admin.search_for_studies(search_filters={"PatientID": first.PatientID})
    assert [Dataset.from_json(s).StudyInstanceUID for s in studies] == [first.StudyInstanceUID]
    series = admin.search_for_series(first.StudyInstanceUID, search_filters={"Modality": "CT"})
    assert [Dataset.from_json(s).SeriesInstanceUID for s in series] == [first.SeriesInstanceUID]
    instances = admin.search_for_instances(first.StudyInstanceUID, first.SeriesInstanceUID, limit=1000)
    expected = {pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID for path in phantom_series[0]}
    assert {Dataset.from_json(i).SOPInstanceUID for i in instances} >= expected

    # dicomweb-client sends "Host: 127.0.0.1" without the port, so URLs are checked with a client that does not
    found = [
        item
        for path in (
            "studies",
            f"studies/{first.StudyInstanceUID}/series",
            f"studies/{first.StudyInstanceUID}/instances",
        )
        for item in site.gateway.get(f"/dicom-web/{path}", params={"PatientID": first.PatientID}).json()
    ]
    urls = [Dataset.from_json(item).RetrieveURL for item in found]
    assert len(urls) >= 2 + len(expected)
    assert all(url.startswith(f"{site.url}/dicom-web/studies/{first.StudyInstanceUID}") for url in urls)
    assert site.orthanc.url.split("//")[1] not in json.dumps(found)  # Orthanc's address never leaks


def test_wado_gives_back_the_pixels_that_were_sent(
    site: Platform, admin: DICOMwebClient, phantom_series: list[list[Path]], samples: list[Path]
) -> None:
    admin.store_instances([pydicom.dcmread(path) for path in phantom_series[0] + samples])
    for path in samples:
        sent = pydicom.dcmread(path)
        got = admin.retrieve_instance(sent.StudyInstanceUID, sent.SeriesInstanceUID, sent.SOPInstanceUID)
        assert got.SOPInstanceUID == sent.SOPInstanceUID
        assert got.PixelData == sent.PixelData, path.name
        assert (got.pixel_array == sent.pixel_array).all(), path.name

    sent_series = {d.SOPInstanceUID: d for d in (pydicom.dcmread(path) for path in phantom_series[0])}
    first = next(iter(sent_series.values()))
    got_series = {d.SOPInstanceUID: d for d in admin.retrieve_series(first.StudyInstanceUID, first.SeriesInstanceUID)}
    assert set(got_series) >= set(sent_series)  # (and what other tests added to the series)
    assert all(got_series[uid].PixelData == sent.PixelData for uid, sent in sent_series.items())

    metadata = admin.retrieve_study_metadata(first.StudyInstanceUID)
    assert {m["00080018"]["Value"][0] for m in metadata} >= set(sent_series)
    metadata = site.gateway.get(f"/dicom-web/studies/{first.StudyInstanceUID}/metadata").json()  # (Host as above)
    bulk = [v["BulkDataURI"] for m in metadata for v in m.values() if "BulkDataURI" in v]
    assert bulk and all(uri.startswith(f"{site.url}/dicom-web/studies/{first.StudyInstanceUID}/") for uri in bulk)

    dose = pydicom.dcmread(samples[SAMPLES.index("rtdose.dcm")])
    frames = admin.retrieve_instance_frames(
        dose.StudyInstanceUID,
        dose.SeriesInstanceUID,
        dose.SOPInstanceUID,
        frame_numbers=[1, 3],
        media_types=("application/octet-stream",),  # Orthanc's plugin 1.7 refuses the client's default type="*/*"
    )
    size = dose.Rows * dose.Columns * dose.SamplesPerPixel * dose.BitsAllocated // 8
    assert frames == [dose.PixelData[0:size], dose.PixelData[2 * size : 3 * size]]


def test_sign_in_permissions_and_audit(site: Platform, phantom_series: list[list[Path]]) -> None:
    sample = pydicom.dcmread(phantom_series[3][0])
    with httpx.Client(base_url=site.url, timeout=60) as anonymous:
        refused = anonymous.get("/dicom-web/studies")
        assert (refused.status_code, refused.json()["error"]["reason"]) == (401, "CREDENTIALS_MISSING")
        body, headers = multipart(phantom_series[3][0].read_bytes())
        assert anonymous.post("/dicom-web/studies", content=body, headers=headers).status_code == 401

    user, token = site.user(["annotator"])
    annotator = dicomweb(site, token)
    with pytest.raises(requests.HTTPError) as denied:
        annotator.store_instances([sample])
    assert denied.value.response.status_code == 403
    assert denied.value.response.json()["error"]["reason"] == "MISSING_PERMISSION"
    assert isinstance(annotator.search_for_studies(search_filters={"PatientID": sample.PatientID}), list)

    records = audit(site, actor=user["username"])
    seen = {(r["action"], r["outcome"], r["status_code"], r["resource"]) for r in records}
    assert ("dicom.ingest", "denied", 403, "") in seen
    assert ("dicom.web.read", "success", 200, "dicom-web:studies") in seen
    read = next(r for r in records if r["action"] == "dicom.web.read")
    assert read["details"] == {"transaction": "QIDO-RS", "query": f"PatientID={sample.PatientID}"}


def test_bad_requests_get_clear_answers(site: Platform) -> None:
    gateway = site.gateway
    good, headers = multipart(b"")
    wrong_type = gateway.post("/dicom-web/studies", content=b"{}", headers={"Content-Type": "application/json"})
    assert (wrong_type.status_code, wrong_type.json()["error"]["reason"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    json_parts = 'multipart/related; type="application/dicom+json"; boundary=x'
    assert gateway.post("/dicom-web/studies", content=b"--x--", headers={"Content-Type": json_parts}).status_code == 415

    garbage = gateway.post("/dicom-web/studies", content=b"\x00garbage" * 100, headers=headers)
    assert (garbage.status_code, garbage.json()["error"]["reason"]) == (400, "MALFORMED_MULTIPART")
    no_parts, headers = multipart()
    assert gateway.post("/dicom-web/studies", content=no_parts, headers=headers).status_code == 400
    xml_only = gateway.post("/dicom-web/studies", content=good, headers={**headers, "Accept": "application/dicom+xml"})
    assert xml_only.status_code == 406

    assert gateway.delete("/dicom-web/studies/1.2.3").status_code == 405  # never proxied
    assert gateway.put("/dicom-web/studies/1.2.3", content=b"").status_code == 405
    assert gateway.post("/dicom-web/studies/1.2.3/series", content=good, headers=headers).status_code == 405
    for path in ("/dicom-web/servers", "/dicom-web/info", "/dicom-web/studies/%2e%2e/%2e%2e/system"):
        outside = gateway.get(path)
        assert (outside.status_code, outside.json()["error"]["reason"]) == (404, "NOT_A_DICOMWEB_RESOURCE"), path
    missing = gateway.get(f"/dicom-web/studies/{pydicom.uid.generate_uid()}/metadata")
    assert missing.status_code == 404  # Orthanc's answer, passed on
    assert gateway.get("/dicom-web/studies").headers["cache-control"] == "no-store"


def test_an_unreachable_or_refusing_dicom_server(site: Platform) -> None:
    token = bearer(site)
    for update, status, reason in [
        ({"orthanc_dicomweb_url": f"http://127.0.0.1:{free_port()}/dicom-web"}, 503, "SERVICE_UNAVAILABLE"),
        ({"orthanc_password": SecretStr(uuid.uuid4().hex)}, 502, "DICOM_SERVER_REFUSED"),
    ]:
        with TestClient(create_app(site.settings.model_copy(update=update))) as client:
            answer = client.get("/dicom-web/studies", headers={"Authorization": f"Bearer {token}"})
        assert (answer.status_code, answer.json()["error"]["reason"]) == (status, reason)
        assert site.orthanc.url.split("//")[1] not in answer.text


def test_urls_name_the_public_address_when_one_is_set(site: Platform) -> None:
    """Behind a TLS proxy the gateway is reached at another address: DICOMweb URLs must carry that one."""
    public = "https://pacs.example.org"
    with TestClient(create_app(site.settings.model_copy(update={"public_url": public}))) as client:
        found = client.get("/dicom-web/studies", headers={"Authorization": f"Bearer {bearer(site)}"}).json()
    urls = [Dataset.from_json(item).RetrieveURL for item in found]
    assert urls and all(url.startswith(f"{public}/dicom-web/studies/") for url in urls)
