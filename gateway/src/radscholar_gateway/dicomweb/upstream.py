"""The DICOM server's DICOMweb plugin behind the gateway: which paths reach it, and how.

Only QIDO-RS and WADO-RS resources (under `studies`, `series`, `instances`) are forwarded, with path
segments limited to what UIDs, resource names, frame lists and bulk data tags use, so no request can
leave the DICOMweb root (no `..`, no other Orthanc route). The plugin writes its URLs (Retrieve URL,
BulkDataURI) from the `Forwarded` header, so they name the gateway, never the DICOM server.
"""

from __future__ import annotations

import re

import httpx
from starlette.datastructures import URL

RESOURCES = frozenset({"studies", "series", "instances"})
QIDO_RESOURCES = RESOURCES  # a path ending in one of these is a search; anything deeper is a retrieval
_SEGMENT = re.compile(r"[A-Za-z0-9._,\-]+")
_NOT_HOST = re.compile(r"[^A-Za-z0-9.\-:\[\]]")
# Answer headers passed back to the caller; everything else (the server's name, cookies...) stays.
PASSED_HEADERS = ("content-type", "content-length", "content-encoding", "warning")


def resource_path(path: str) -> str | None:
    """`path` (what follows `/dicom-web/`) when it names a QIDO-RS or WADO-RS resource, else None."""
    segments = path.split("/")
    if segments[0] not in RESOURCES:
        return None
    if any(segment in (".", "..") or not _SEGMENT.fullmatch(segment) for segment in segments):
        return None
    return path


def transaction(path: str) -> str:
    """QIDO-RS for searches (`.../studies`, `.../series`, `.../instances`), WADO-RS for the rest."""
    return "QIDO-RS" if path.rsplit("/", 1)[-1] in QIDO_RESOURCES else "WADO-RS"


def forwarded(base_url: URL) -> str:
    """The `Forwarded` header (RFC 7239) that makes the plugin's URLs point at the gateway.

    Orthanc's plugin (1.7) takes the values unquoted, so the host is cut to host-name characters.
    """
    host = _NOT_HOST.sub("", base_url.netloc)
    proto = "https" if base_url.scheme == "https" else "http"
    return f"host={host};proto={proto}"


def open_upstream(url: str, username: str, password: str, timeout_seconds: float) -> httpx.AsyncClient:
    """A client of the plugin at `url` (its DICOMweb root); answers are passed on byte for byte."""
    return httpx.AsyncClient(
        base_url=url.rstrip("/") + "/",
        auth=httpx.BasicAuth(username, password),
        timeout=httpx.Timeout(timeout_seconds, connect=5.0),
        headers={"Accept-Encoding": "identity"},
        follow_redirects=False,
    )
