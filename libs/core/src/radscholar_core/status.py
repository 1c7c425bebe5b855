"""The one mapping between typed domain errors and gRPC status, in both directions.

Server side: a DomainError becomes its status code plus a ``google.rpc.ErrorInfo`` detail whose
``reason`` is machine-readable. Client side (the gateway): the reason and details are read back.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from radscholar_core import errors
from radscholar_core.errors import DomainError

T = TypeVar("T")
DOMAIN = "radscholar"
REQUEST_ID_HEADER = "x-request-id"  # gRPC metadata carrying the caller's request id


def to_status(error: DomainError) -> grpc.Status:
    """The gRPC status (with an ErrorInfo detail) that carries a domain error."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.details)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=code_pb2.Code.Value(error.code), message=error.message, details=[detail])
    return rpc_status.to_status(status)


def error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo a RadScholar server attached to a failed call, if any."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def from_rpc_error(error: grpc.aio.AioRpcError) -> DomainError:
    """A failed call to another service as the domain error it carried (a service relaying it to its caller)."""
    kinds: list[type[errors.DomainError]] = [
        errors.InvalidArgument,
        errors.NotFound,
        errors.AlreadyExists,
        errors.FailedPrecondition,
    ]
    kinds += [errors.PermissionDenied, errors.Unauthenticated, errors.ResourceExhausted, errors.Unavailable]
    kind = next((k for k in kinds if k.code == error.code().name), None)
    info = error_info(error)
    if kind is None:  # an upstream failure is this service's failure to serve: unavailable, not internal
        return errors.Unavailable(f"a service this call needs failed: {error.details()}", reason="UPSTREAM_FAILED")
    reason, details = (info.reason, dict(info.metadata)) if info else (None, None)
    return kind(error.details() or "", reason=reason, details=details)


async def relayed(call: Awaitable[T]) -> T:
    """A call to another service whose failure is raised again as the domain error it carried (same code, reason)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        raise from_rpc_error(error) from None
