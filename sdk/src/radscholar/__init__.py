"""RadScholar Python SDK: `from radscholar import Client`."""

from radscholar.client import ApiError, BatchResult, Client, ResultList
from radscholar.credentials import CredentialStore, Login
from radscholar.uploads import FileResult, IngestLine, Journal, LocalFile, UploadSummary

__all__ = [
    "ApiError",
    "BatchResult",
    "Client",
    "CredentialStore",
    "FileResult",
    "IngestLine",
    "Journal",
    "LocalFile",
    "Login",
    "ResultList",
    "UploadSummary",
]
