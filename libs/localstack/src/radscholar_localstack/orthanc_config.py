"""The strict Orthanc configuration of the local stack (option names as in Orthanc 1.10).

The stock configuration accepts C-STORE from any AE title and answers echo from anyone; this one
answers only to authenticated HTTP clients on this machine and to DICOM modalities registered
through the REST API (kept in Orthanc's database, so they survive a restart).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radscholar_localstack.config import ORTHANC_AET, ORTHANC_USERNAME, StackConfig
from radscholar_localstack.credentials import write_private_file

#: Seconds without a new instance before a series/study counts as complete.
STABLE_AGE_S = 3

#: Where the DICOMweb plugin answers; the gateway serves DICOMweb at the same path, so the URLs the
#: plugin writes (from the gateway's Forwarded header) are the gateway's.
DICOMWEB_ROOT = "/dicom-web/"

#: Options that make Orthanc refuse anything not explicitly allowed.
STRICT_OPTIONS: dict[str, Any] = {
    "RemoteAccessAllowed": False,
    "AuthenticationEnabled": True,
    "DicomCheckCalledAet": True,
    "DicomCheckModalityHost": True,
    "DicomAlwaysAllowEcho": False,
    "DicomAlwaysAllowStore": False,
    "DicomAlwaysAllowFind": False,
    "DicomAlwaysAllowFindWorklist": False,
    "DicomAlwaysAllowGet": False,
    "DicomAlwaysAllowMove": False,
    "UnknownSopClassAccepted": False,
    "WebDavEnabled": False,
    "ExecuteLuaEnabled": False,
    "RestApiWriteToFileSystemEnabled": False,
}


def build_orthanc_config(config: StackConfig, password: str) -> dict[str, Any]:
    """The Orthanc configuration document for ``config``; ``password`` is the radscholar user's."""
    document: dict[str, Any] = {
        "Name": "RadScholar",
        "StorageDirectory": str(config.orthanc_dir / "storage"),
        "IndexDirectory": str(config.orthanc_dir / "index"),  # SQLite index (the built-in default)
        "HttpServerEnabled": True,
        "HttpPort": config.ports.orthanc_http,
        "DicomServerEnabled": True,
        "DicomPort": config.ports.orthanc_dicom,
        "DicomAet": ORTHANC_AET,
        "RegisteredUsers": {ORTHANC_USERNAME: password},
        "DicomModalities": {},
        "DicomModalitiesInDatabase": True,
        "OrthancPeers": {},
        "Plugins": [str(config.dicomweb_plugin)],
        "DicomWeb": {"Enable": True, "Root": DICOMWEB_ROOT},
        "StableAge": STABLE_AGE_S,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "HttpCompressionEnabled": False,  # its clients are services on the same network: save the CPU
        "SaveJobs": True,
        "OverwriteInstances": False,
    }
    document.update(STRICT_OPTIONS)
    return document


def write_orthanc_config(config: StackConfig, password: str) -> Path:
    """Regenerate the configuration file (mode 600: it holds the password) and create its directories."""
    document = build_orthanc_config(config, password)
    for key in ("StorageDirectory", "IndexDirectory"):
        Path(document[key]).mkdir(parents=True, exist_ok=True)
    write_private_file(config.orthanc_config_file, json.dumps(document, indent=2) + "\n")
    return config.orthanc_config_file
