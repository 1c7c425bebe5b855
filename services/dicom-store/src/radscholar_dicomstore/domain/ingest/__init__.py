"""Ingest checks: which received files are storable DICOM instances, safe archive reading, the per-file report.

Pure code: the upload route and the C-STORE handler feed bytes in; the service talks to Orthanc and fills
the "stored" and "already present" lines of the report.
"""

from radscholar_dicomstore.domain.ingest.archive import (
    ZipEntryResult,
    ZipLimits,
    ZipMember,
    iter_zip_instances,
    unsafe_path_problem,
)
from radscholar_dicomstore.domain.ingest.instance import DEFAULT_MAX_INSTANCE_BYTES, CheckedInstance, check_instance
from radscholar_dicomstore.domain.ingest.rejection import Rejection, RejectReason, human_size
from radscholar_dicomstore.domain.ingest.report import FileOutcome, IngestReport, IngestStatus
from radscholar_dicomstore.domain.ingest.site import normalise_institution

__all__ = [
    "DEFAULT_MAX_INSTANCE_BYTES",
    "CheckedInstance",
    "FileOutcome",
    "IngestReport",
    "IngestStatus",
    "RejectReason",
    "Rejection",
    "ZipEntryResult",
    "ZipLimits",
    "ZipMember",
    "check_instance",
    "human_size",
    "iter_zip_instances",
    "normalise_institution",
    "unsafe_path_problem",
]
