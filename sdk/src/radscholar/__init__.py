"""RadScholar Python SDK: `from radscholar import Client`."""

from radscholar.client import ApiError, Client

__all__ = ["ApiError", "Client"]
