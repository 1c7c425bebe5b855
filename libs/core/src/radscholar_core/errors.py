"""Typed domain errors.

Domain code raises these; one gRPC interceptor (``radscholar_core.grpc_server``) turns them into a
status code plus a ``google.rpc.ErrorInfo`` carrying the machine-readable ``reason``. Domain code
never imports grpc, so each error names its status code as a plain string.
"""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base of every error a caller can act on. ``reason`` is UPPER_SNAKE_CASE and stable."""

    code = "INTERNAL"
    default_reason = "INTERNAL"

    def __init__(self, message: str, *, reason: str | None = None, details: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.details: dict[str, str] = dict(details or {})


class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"
    default_reason = "INVALID_ARGUMENT"


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_reason = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"
    default_reason = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"
    default_reason = "FAILED_PRECONDITION"


class Conflict(FailedPrecondition):
    """A write against a stale version (optimistic concurrency)."""

    default_reason = "CONFLICT"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"
    default_reason = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    default_reason = "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    code = "RESOURCE_EXHAUSTED"
    default_reason = "RESOURCE_EXHAUSTED"


class Unavailable(DomainError):
    code = "UNAVAILABLE"
    default_reason = "UNAVAILABLE"
