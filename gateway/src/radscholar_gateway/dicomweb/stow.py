"""The STOW-RS answer (PS3.18 10.5.3 and Annex I): the Store Instances Response in DICOM JSON.

Every part of a request becomes one `StoredPart`: stored now, already present (a success: the store
holds exactly that instance, and re-sending never makes a second copy), or rejected with the ingest
check's reason. Rejections map to the Failure Reason (0008,1197) codes PS3.18 names:

| code   | meaning (PS3.18)                         | RadScholar reasons                                      |
|--------|------------------------------------------|---------------------------------------------------------|
| 0xC000 | Error: Cannot understand                 | NOT_DICOM, TRUNCATED, MISSING_UID, INVALID_UID, ...    |
| 0xC122 | Referenced Transfer Syntax not supported | UNKNOWN_TRANSFER_SYNTAX, UNSUPPORTED_COMPRESSION        |
| 0xC409 | Study Instance UID differs from the URL  | STUDY_MISMATCH (the value dcm4chee uses; in the Cxxx range) |
| 0xA700 | Refused: Out of Resources                | TOO_LARGE                                               |
| 0x0110 | Processing failure                       | anything else (STORE_REFUSED by the DICOM server, ...)  |
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from pydicom import dcmread

PartStatus = Literal["stored", "already_present", "rejected"]

CANNOT_UNDERSTAND = 0xC000
TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
STUDY_MISMATCH_CODE = 0xC409
OUT_OF_RESOURCES = 0xA700
PROCESSING_FAILURE = 0x0110

FAILURE_REASONS: dict[str, int] = {
    "NOT_DICOM": CANNOT_UNDERSTAND,
    "TRUNCATED": CANNOT_UNDERSTAND,
    "MISSING_UID": CANNOT_UNDERSTAND,
    "INVALID_UID": CANNOT_UNDERSTAND,
    "NOT_AN_INSTANCE": CANNOT_UNDERSTAND,
    "INCOMPLETE_PART": CANNOT_UNDERSTAND,
    "UNKNOWN_TRANSFER_SYNTAX": TRANSFER_SYNTAX_NOT_SUPPORTED,
    "UNSUPPORTED_COMPRESSION": TRANSFER_SYNTAX_NOT_SUPPORTED,
    "STUDY_MISMATCH": STUDY_MISMATCH_CODE,
    "TOO_LARGE": OUT_OF_RESOURCES,
}

# Tags of the Store Instances Response Module.
RETRIEVE_URL = "00081190"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"


@dataclass(frozen=True)
class StoredPart:
    """What happened to one part of a STOW-RS request; UIDs are "" when unknown."""

    name: str
    status: PartStatus
    reason: str = ""
    message: str = ""
    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status != "rejected"


def failure_reason(reason: str) -> int:
    """The Failure Reason (0008,1197) code of an ingest rejection reason."""
    return FAILURE_REASONS.get(reason, PROCESSING_FAILURE)


def http_status(parts: Sequence[StoredPart]) -> int:
    """200 when every instance is stored (or was already), 409 when none is, 202 in between."""
    stored = sum(part.succeeded for part in parts)
    return 200 if stored == len(parts) else 409 if stored == 0 else 202


def instance_url(base_url: str, part: StoredPart) -> str:
    """The WADO-RS URL of a stored instance (`base_url` ends with `/dicom-web/`)."""
    return (
        f"{base_url}studies/{part.study_instance_uid}"
        f"/series/{part.series_instance_uid}/instances/{part.sop_instance_uid}"
    )


def _value(vr: str, value: Any) -> dict[str, Any]:
    return {"vr": vr, "Value": [value]} if value not in ("", None) else {"vr": vr}


def stow_response(parts: Sequence[StoredPart], base_url: str, study_instance_uid: str = "") -> dict[str, Any]:
    """The Store Instances Response in DICOM JSON (PS3.18 F.2); `base_url` ends with `/dicom-web/`.

    The top-level Retrieve URL names the study when the request was for one study or every stored
    instance belongs to the same one, and is empty otherwise.
    """
    referenced, failed = [], []
    for part in parts:
        item: dict[str, Any] = {}
        if part.sop_class_uid:
            item[REFERENCED_SOP_CLASS_UID] = _value("UI", part.sop_class_uid)
        if part.sop_instance_uid:
            item[REFERENCED_SOP_INSTANCE_UID] = _value("UI", part.sop_instance_uid)
        if part.succeeded:
            if part.study_instance_uid and part.series_instance_uid and part.sop_instance_uid:
                item[RETRIEVE_URL] = _value("UR", instance_url(base_url, part))
            referenced.append(item)
        else:
            item[FAILURE_REASON] = _value("US", failure_reason(part.reason))
            failed.append(item)
    studies = {part.study_instance_uid for part in parts if part.succeeded and part.study_instance_uid}
    study = study_instance_uid or (studies.pop() if len(studies) == 1 else "")
    response: dict[str, Any] = {RETRIEVE_URL: _value("UR", f"{base_url}studies/{study}" if study else "")}
    if failed:
        response[FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed}
    if referenced:
        response[REFERENCED_SOP_SEQUENCE] = {"vr": "SQ", "Value": referenced}
    return response


def warning_header(part: StoredPart) -> str:
    """A `Warning: 299` header value naming why a part failed (the header PS3.18 services warn with), in ASCII."""
    text = f"{part.name}: {part.reason}: {part.message}"
    text = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)[:300]
    return f'299 radscholar "{text}"'


AnswerType = Literal["dicom+json", "report"]


def answer_type(accept: str | None) -> AnswerType | None:
    """What the client accepts, in its order: DICOM JSON (the standard answer), or RadScholar's
    per-file report for `application/json`; None when neither (HTTP 406)."""
    if not accept:
        return "dicom+json"
    for media_range in accept.split(","):
        media_type, *parameters = (piece.strip().lower() for piece in media_range.split(";"))
        if any(parameter.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for parameter in parameters):
            continue
        if media_type in ("application/dicom+json", "application/*", "*/*"):
            return "dicom+json"
        if media_type == "application/json":
            return "report"
    return None


@dataclass(frozen=True)
class PartHeader:
    """The UIDs a part declares (read before it is stored), and whether it is an archive."""

    sop_class_uid: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    archive: bool = False


_HEADER_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")


def read_part_header(file: BinaryIO) -> PartHeader:
    """The part's UIDs, read without its pixel data; empty when it does not parse (the ingest checks,
    which see every part, then say why). Blocking: call it in a thread. Leaves the file at its start."""
    try:
        file.seek(0)
        if zipfile.is_zipfile(file):  # the same test the DICOM store uses to expand archives
            return PartHeader(archive=True)
        file.seek(0)
        dataset = dcmread(file, force=True, stop_before_pixels=True, specific_tags=list(_HEADER_KEYWORDS))
        sop_class, sop_instance, study, series = (
            str(dataset.get(keyword, "") or "").strip("\0 ") for keyword in _HEADER_KEYWORDS
        )
        return PartHeader(sop_class, sop_instance, study, series)
    except Exception:  # pydicom raises many types on damaged input
        return PartHeader()
    finally:
        file.seek(0)
