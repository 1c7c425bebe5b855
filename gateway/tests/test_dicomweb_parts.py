"""The pure parts of DICOMweb at the gateway: multipart splitting, STOW-RS answers, proxied paths."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from starlette.datastructures import URL

from radscholar_gateway.dicomweb.multipart import (
    MalformedMultipart,
    PartData,
    PartEnded,
    PartSplitter,
    PartStarted,
    UnsupportedMediaType,
    related_boundary,
)
from radscholar_gateway.dicomweb.stow import (
    StoredPart,
    answer_type,
    failure_reason,
    http_status,
    read_part_header,
    stow_response,
    warning_header,
)
from radscholar_gateway.dicomweb.upstream import forwarded, resource_path, transaction

BODY = (
    b"--b0\r\nContent-Type: application/dicom\r\nContent-Location: one.dcm\r\n\r\nfirst\r\n--b0-and-more\r\n"
    b"--b0\r\n\r\nsecond\r\n--b0--\r\nepilogue"
)


def split(body: bytes, chunk_size: int) -> tuple[list[tuple[dict[str, str], bytes]], PartSplitter]:
    splitter = PartSplitter(b"b0")
    parts: list[tuple[dict[str, str], bytes]] = []
    for offset in range(0, len(body), chunk_size):
        for event in splitter.feed(body[offset : offset + chunk_size]):
            if isinstance(event, PartStarted):
                parts.append((event.headers, b""))
            elif isinstance(event, PartData):
                parts[-1] = (parts[-1][0], parts[-1][1] + event.data)
            else:
                assert isinstance(event, PartEnded)
    return parts, splitter


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 10_000])
def test_parts_come_out_whole_however_the_body_is_cut(chunk_size: int) -> None:
    parts, splitter = split(BODY, chunk_size)
    assert parts == [
        ({"content-type": "application/dicom", "content-location": "one.dcm"}, b"first\r\n--b0-and-more"),
        ({}, b"second"),
    ]
    assert splitter.finished


def test_a_body_without_its_closing_boundary_is_not_finished() -> None:
    parts, splitter = split(BODY[: BODY.index(b"second") + 3], 5)
    assert len(parts) == 2 and parts[0][1] == b"first\r\n--b0-and-more"  # the second is cut off
    assert not splitter.finished


@pytest.mark.parametrize("body", [b"garbage", b"--b1\r\n\r\nx\r\n--b1--", b"--b0 x"])
def test_garbage_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedMultipart):
        PartSplitter(b"b0").feed(body)


def test_the_content_type_must_be_related_dicom() -> None:
    assert related_boundary('multipart/related; type="application/dicom"; boundary="a b"') == b"a b"
    assert related_boundary("Multipart/Related; boundary=x") == b"x"  # a missing type is tolerated
    for wrong in [None, "application/dicom", "multipart/form-data; boundary=x", 'multipart/related; type="image/png"']:
        with pytest.raises(UnsupportedMediaType):
            related_boundary(wrong)
    with pytest.raises(MalformedMultipart):
        related_boundary('multipart/related; type="application/dicom"')


def test_the_answer_follows_the_accept_header() -> None:
    assert answer_type(None) == "dicom+json"
    assert answer_type("application/dicom+json") == "dicom+json"
    assert answer_type("*/*") == "dicom+json"
    assert answer_type("application/json, application/dicom+json") == "report"
    assert answer_type("application/dicom+json;q=0, application/json") == "report"
    assert answer_type("application/dicom+xml") is None


def test_status_and_failure_codes() -> None:
    ok, present = StoredPart("a", "stored"), StoredPart("b", "already_present")
    bad = StoredPart("c", "rejected", "TRUNCATED", "cut")
    assert (http_status([ok, present]), http_status([ok, bad]), http_status([bad])) == (200, 202, 409)
    assert [failure_reason(r) for r in ("NOT_DICOM", "TOO_LARGE", "STUDY_MISMATCH", "STORE_REFUSED")] == [
        0xC000,
        0xA700,
        0xC409,
        0x0110,
    ]
    header = warning_header(StoredPart("part 2", "rejected", "NOT_DICOM", 'is "text" — not DICOM'))
    assert header == '299 radscholar "part 2: NOT_DICOM: is ?text? ? not DICOM"'


def test_the_store_instances_response() -> None:
    base = "https://gw.example/dicom-web/"
    parts = [
        StoredPart(
            "part 1",
            "stored",
            sop_class_uid="1.2.1",
            sop_instance_uid="1.3",
            study_instance_uid="1.4",
            series_instance_uid="1.5",
        ),
        StoredPart("part 2", "rejected", "NOT_DICOM", "text"),
        StoredPart("part 3", "rejected", "STUDY_MISMATCH", "other", sop_class_uid="1.2.1", sop_instance_uid="1.6"),
    ]
    assert stow_response(parts, base) == {
        "00081190": {"vr": "UR", "Value": [f"{base}studies/1.4"]},
        "00081198": {
            "vr": "SQ",
            "Value": [
                {"00081197": {"vr": "US", "Value": [0xC000]}},
                {
                    "00081150": {"vr": "UI", "Value": ["1.2.1"]},
                    "00081155": {"vr": "UI", "Value": ["1.6"]},
                    "00081197": {"vr": "US", "Value": [0xC409]},
                },
            ],
        },
        "00081199": {
            "vr": "SQ",
            "Value": [
                {
                    "00081150": {"vr": "UI", "Value": ["1.2.1"]},
                    "00081155": {"vr": "UI", "Value": ["1.3"]},
                    "00081190": {"vr": "UR", "Value": [f"{base}studies/1.4/series/1.5/instances/1.3"]},
                }
            ],
        },
    }
    assert stow_response(parts[1:2], base) == {
        "00081190": {"vr": "UR"},
        "00081198": {"vr": "SQ", "Value": [{"00081197": {"vr": "US", "Value": [0xC000]}}]},
    }


def test_a_part_header_is_read_without_its_pixels() -> None:
    path = Path(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    header = read_part_header(io.BytesIO(path.read_bytes()))
    assert header.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert header.study_instance_uid.startswith("1.3.6.1.4.1.5962") and header.series_instance_uid
    assert read_part_header(io.BytesIO(b"not dicom at all")).study_instance_uid == ""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.dcm", path.read_bytes())
    assert read_part_header(archive).archive


def test_only_dicomweb_resources_reach_the_dicom_server() -> None:
    assert resource_path("studies") == "studies"
    assert resource_path("studies/1.2/series/3.4/instances/5.6/frames/1,2") is not None
    assert resource_path("studies/1.2/series/3.4/instances/5.6/bulk/7fe00010") is not None
    for outside in ["", "servers", "info", "studies/../../system", "studies/./x", "studies//x", "studies/1 2", "../x"]:
        assert resource_path(outside) is None, outside
    assert (transaction("studies"), transaction("studies/1.2/series")) == ("QIDO-RS", "QIDO-RS")
    assert (transaction("studies/1.2"), transaction("studies/1.2/metadata")) == ("WADO-RS", "WADO-RS")


def test_the_forwarded_header_names_the_gateway() -> None:
    assert forwarded(URL("http://127.0.0.1:8000/")) == "host=127.0.0.1:8000;proto=http"
    assert forwarded(URL("https://[::1]:8443/")) == "host=[::1]:8443;proto=https"
    assert forwarded(URL("http://evil;proto=https/")) == "host=evilprotohttps;proto=http"
