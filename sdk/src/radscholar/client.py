"""A thin client of the gateway's REST API."""

from __future__ import annotations

import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiError(Exception):
    """An error answer of the gateway, with its machine-readable reason."""

    def __init__(self, status: int, code: str, reason: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.code, self.reason, self.message, self.details = (
            status,
            code,
            reason,
            message,
            details,
        )


class Client:
    """Talks to one RadScholar gateway. `url` defaults to $RADSCHOLAR_URL, then 127.0.0.1:8000."""

    def __init__(
        self, url: str | None = None, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ):
        self.url = (url or os.environ.get("RADSCHOLAR_URL") or DEFAULT_URL).rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.is_success or response.status_code in ok:
            return response.json()
        try:
            error = response.json()["error"]
        except (ValueError, KeyError, TypeError):
            error = {"code": "HTTP_ERROR", "reason": "HTTP_ERROR", "message": response.text[:500]}
        raise ApiError(
            response.status_code,
            error.get("code", ""),
            error.get("reason", ""),
            error.get("message", ""),
            error.get("details") or {},
        )

    def alive(self) -> bool:
        """Whether the gateway process answers."""
        return self._request("GET", "/healthz")["status"] == "ok"  # type: ignore[no-any-return]

    def readiness(self) -> dict[str, Any]:
        """{"ready": bool, "upstreams": {service: status}}; answered also when not ready."""
        return self._request("GET", "/readyz", ok=(503,))  # type: ignore[no-any-return]

    def store_statistics(self) -> dict[str, Any]:
        return self._request("GET", "/api/v1/dicom/statistics")  # type: ignore[no-any-return]

    def create_project(
        self, name: str, modality: str, task_type: str, dimensionality: str, description: str = ""
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "modality": modality,
            "task_type": task_type,
            "dimensionality": dimensionality,
            "description": description,
        }
        return self._request("POST", "/api/v1/projects", json=body)  # type: ignore[no-any-return]

    def projects(self) -> list[dict[str, Any]]:
        """Every project, following the pages."""
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self._request("GET", "/api/v1/projects", params={"page_size": 200, "page_token": token})
            found += page["projects"]
            token = page["next_page_token"]
            if not token:
                return found
