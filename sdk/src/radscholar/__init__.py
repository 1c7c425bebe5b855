"""RadScholar Python SDK: `from radscholar import Client`."""

from radscholar.client import ApiError, Client
from radscholar.credentials import CredentialStore, Login

__all__ = ["ApiError", "Client", "CredentialStore", "Login"]
