"""One error translator: every failure becomes {"error": {code, reason, message, details}}.

gRPC status codes map to HTTP as ARCHITECTURE.md says; a client's mistake is never a 500, and no
stack trace leaves the gateway.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from radscholar_core.errors import DomainError
from radscholar_core.status import error_info

log = logging.getLogger(__name__)

HTTP_FOR = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.OUT_OF_RANGE: 422,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.CANCELLED: 499,
}
STATUS_NAMES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE"}


def error_body(status: int, code: str, reason: str, message: str, details: Any = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="radscholar"'} if status == 401 else None
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "reason": reason, "message": message, "details": details or {}}},
        headers=headers,
    )


async def on_rpc_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, grpc.aio.AioRpcError)
    code = exc.code()
    status = HTTP_FOR.get(code, 500)
    info = error_info(exc)
    if status == 500:
        log.error("upstream failed", extra={"code": code.name, "upstream_message": exc.details()})
        return error_body(500, "INTERNAL", "INTERNAL", "internal error; the server log has the details")
    if code == grpc.StatusCode.UNAVAILABLE and info is None:
        return error_body(503, code.name, "SERVICE_UNAVAILABLE", "a RadScholar service is not reachable; retry later")
    return error_body(
        status,
        code.name,
        info.reason if info else code.name,
        exc.details() or "",
        dict(info.metadata) if info else {},
    )


async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    """Errors the gateway's own domain code raises (sign-in, accounts, audit)."""
    assert isinstance(exc, DomainError)
    status = HTTP_FOR.get(grpc.StatusCode[exc.code], 500)
    if status == 500:
        return await on_unexpected(_, exc)
    return error_body(status, exc.code, exc.reason, exc.message, exc.details)


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"location": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
    message = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
    return error_body(422, "INVALID_ARGUMENT", "INVALID_REQUEST", message, {"problems": problems})


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    name = STATUS_NAMES.get(exc.status_code, "HTTP_ERROR")
    return error_body(exc.status_code, name, name, str(exc.detail))


async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("request failed")
    return error_body(500, "INTERNAL", "INTERNAL", "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(grpc.aio.AioRpcError, on_rpc_error)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
