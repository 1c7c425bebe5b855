"""The grpc.aio server runtime every service runs on.

`build_server` adds the standard health service, reflection and the error interceptor; `serve` binds,
marks every service SERVING, waits for SIGTERM/SIGINT and stops gracefully (health NOT_SERVING first,
so load balancers drain, then in-flight calls get `grace` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from radscholar_core.errors import DomainError
from radscholar_core.identity import IdentityInterceptor, IdentityVerifier
from radscholar_core.logs import bound
from radscholar_core.settings import ServiceSettings
from radscholar_core.status import REQUEST_ID_HEADER, to_status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """One servicer to serve: its full proto service name and the generated `add_..._to_server`."""

    name: str
    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]


def _request_id(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return str(value)
    return uuid.uuid4().hex


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, method: str) -> None:
    if isinstance(exc, DomainError):
        log.info("rpc refused", extra={"method": method, "code": exc.code, "reason": exc.reason})
        status = to_status(exc)
        await context.abort(status.code, status.details, status.trailing_metadata)
    log.exception("rpc failed", extra={"method": method})
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has the details")


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Binds the caller's request id to every log line and maps domain errors to status codes.

    Unexpected exceptions become INTERNAL with a generic message: no stack trace leaves the server.
    """

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method

        if handler.unary_unary:
            behaviour = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                with bound(request=_request_id(context)):
                    try:
                        return await behaviour(request, context)
                    except grpc.aio.AbortError:
                        raise
                    except Exception as exc:
                        await _abort(context, exc, method)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            stream = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with bound(request=_request_id(context)):
                    try:
                        async for message in stream(request, context):
                            yield message
                    except grpc.aio.AbortError:
                        raise
                    except Exception as exc:
                        await _abort(context, exc, method)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler


class Server:
    """A built gRPC server with its health servicer, ready to bind."""

    def __init__(
        self,
        registrations: Sequence[Registration],
        *,
        verifier: IdentityVerifier,
        interceptors: Sequence[Any] = (),
        background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        """Every call but health and reflection must carry the gateway's signed identity (`verifier`).

        `background` work (e.g. following a change log) runs while the server serves and is cancelled on stop.
        """
        self._background = background
        self._tasks: list[asyncio.Task[None]] = []
        self.grpc = grpc.aio.server(interceptors=[*interceptors, ErrorInterceptor(), IdentityInterceptor(verifier)])
        self.health = health.aio.HealthServicer()
        self.names = [r.name for r in registrations]
        for registration in registrations:
            registration.add_to_server(registration.servicer, self.grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            [
                *self.names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.grpc,
        )

    async def start(self, host: str, port: int) -> int:
        """Bind (port 0 picks a free one), start, and mark every service SERVING. Returns the port."""
        bound_port = self.grpc.add_insecure_port(f"{host}:{port}")
        if bound_port == 0:
            raise OSError(f"cannot bind gRPC server to {host}:{port}")
        await self.grpc.start()
        self._tasks = [asyncio.create_task(work()) for work in self._background]
        for name in ["", *self.names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return bound_port

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, then let in-flight calls finish for up to `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.grpc.stop(grace)


async def serve(server: Server, host: str, port: int, *, grace: float = 5.0) -> None:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    bound_port = await server.start(host, port)
    log.info("serving", extra={"address": f"{host}:{bound_port}", "services": server.names})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("stopping", extra={"grace_seconds": grace})
    await server.stop(grace)
    log.info("stopped")


def run_service(name: str, settings_type: Callable[..., ServiceSettings], build: Callable[[Any], Server]) -> None:
    """The body of every service's ``__main__``: settings, logging, server, run until signalled.

    Bad or missing settings end the process with exit code 2 and a message naming each setting.
    """
    from pydantic import ValidationError

    from radscholar_core.logs import configure_logging

    try:
        settings = settings_type()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"{name}: invalid settings: {problems}\n")
        raise SystemExit(2) from None
    configure_logging(name, settings.log_level)

    async def main() -> None:  # the server must be built inside the running event loop
        await serve(build(settings), settings.host, settings.port, grace=settings.grace_seconds)

    asyncio.run(main())


@contextlib.asynccontextmanager
async def serving(
    server: Server, host: str = "127.0.0.1", port: int = 0, *, interceptors: Sequence[Any] = ()
) -> AsyncIterator[grpc.aio.Channel]:
    """Run `server` for the duration of the block and yield a channel to it (tests, embedding)."""
    bound_port = await server.start(host, port)
    try:
        async with grpc.aio.insecure_channel(f"{host}:{bound_port}", interceptors=list(interceptors)) as channel:
            yield channel
    finally:
        await server.stop(0)
