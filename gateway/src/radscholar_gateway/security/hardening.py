"""Transport hygiene: request size limits and security headers on every answer."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds security headers; API answers are also uncacheable and may not load anything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(("/api/", "/dicom-web/")) and not scope["path"].startswith("/api/v1/docs")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                extra = SECURITY_HEADERS + (API_HEADERS if api else [])
                if scope.get("scheme") == "https":
                    extra = [*extra, (b"strict-transport-security", b"max-age=63072000; includeSubDomains")]
                message["headers"] = headers + [(n, v) for n, v in extra if n not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestSizeLimit:
    """Refuses bodies over `max_bytes` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_paths: tuple[str, ...] = (), max_upload_bytes: int = 0):
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = upload_paths  # path prefixes that take files, with their own larger limit
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope["path"].startswith(self.upload_paths) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._too_large(send, limit)
            return
        received = 0

        async def counting() -> Message:  # a body without Content-Length (chunked) is counted as it arrives
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request bodies are limited to {limit} bytes")
            return message

        await self.app(scope, counting, send)

    async def _too_large(self, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "RESOURCE_EXHAUSTED",
                    "reason": "REQUEST_TOO_LARGE",
                    "message": f"request bodies are limited to {limit} bytes",
                    "details": {"max_bytes": str(limit)},
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
