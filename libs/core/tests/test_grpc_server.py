"""The server runtime on a real port: health, reflection, error mapping, graceful stop."""

import asyncio
import json
import logging

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from radscholar_core.errors import NotFound
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys

KEYS = gateway_keys()

SERVICE = "radscholar.test.v1.EchoService"


class Echo:
    """A tiny servicer registered through a generic handler (bytes in, bytes out)."""

    async def Echo(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"missing":
            raise NotFound("series '1.2.3' is not in the store", reason="SERIES_NOT_FOUND", details={"uid": "1.2.3"})
        if request == b"crash":
            raise RuntimeError("secret internal detail")
        if request == b"slow":
            await asyncio.sleep(0.5)
        return request

    async def Count(self, request: bytes, context: grpc.aio.ServicerContext):  # type: ignore[no-untyped-def]
        for i in range(3):
            yield str(i).encode()
        raise NotFound("ran out", reason="RAN_OUT")


def _add(servicer: Echo, server: grpc.aio.Server) -> None:
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(servicer.Echo),
        "Count": grpc.unary_stream_rpc_method_handler(servicer.Count),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])


@pytest.fixture
async def running() -> tuple[Server, grpc.aio.Channel]:  # type: ignore[misc]
    server = Server([Registration(SERVICE, Echo(), _add)], verifier=KEYS.keys.verifier())
    port = await server.start("127.0.0.1", 0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=KEYS.interceptors())
    yield server, channel
    await channel.close()
    await server.stop(0)


async def test_health_reports_serving_for_each_service(running: tuple[Server, grpc.aio.Channel]) -> None:
    _, channel = running
    stub = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(running: tuple[Server, grpc.aio.Channel]) -> None:
    _, channel = running
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = [s.name async for a in answers for s in a.list_services_response.service]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def test_domain_error_becomes_status_with_reason(running: tuple[Server, grpc.aio.Channel]) -> None:
    _, channel = running
    echo = channel.unary_unary(f"/{SERVICE}/Echo")
    assert await echo(b"hi") == b"hi"
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await echo(b"missing")
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert failure.value.details() == "series '1.2.3' is not in the store"
    info = error_info(failure.value)
    assert info is not None
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "SERIES_NOT_FOUND",
        "radscholar",
        {"uid": "1.2.3"},
    )


async def test_unexpected_error_is_internal_without_details(
    running: tuple[Server, grpc.aio.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    _, channel = running
    with caplog.at_level(logging.ERROR), pytest.raises(grpc.aio.AioRpcError) as failure:
        await channel.unary_unary(f"/{SERVICE}/Echo")(b"crash")
    assert failure.value.code() == grpc.StatusCode.INTERNAL
    assert "secret internal detail" not in (failure.value.details() or "")
    assert any("secret internal detail" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


async def test_streams_map_errors_after_messages(running: tuple[Server, grpc.aio.Channel]) -> None:
    _, channel = running
    call = channel.unary_stream(f"/{SERVICE}/Count")(b"")
    received = []
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        async for message in call:
            received.append(message)
    assert received == [b"0", b"1", b"2"]
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


async def test_request_id_reaches_the_log(
    running: tuple[Server, grpc.aio.Channel], capsys: pytest.CaptureFixture[str]
) -> None:
    from radscholar_core.logs import configure_logging

    configure_logging("test", "INFO")
    _, channel = running
    with pytest.raises(grpc.aio.AioRpcError):
        await channel.unary_unary(f"/{SERVICE}/Echo")(b"missing", metadata=(("x-request-id", "abc-123"),))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "abc-123" and line["message"] == "rpc refused" for line in lines)


async def test_graceful_stop_finishes_in_flight_calls_and_reports_not_serving() -> None:
    server = Server([Registration(SERVICE, Echo(), _add)], verifier=KEYS.keys.verifier())
    port = await server.start("127.0.0.1", 0)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=KEYS.interceptors()) as channel:
        in_flight = asyncio.ensure_future(channel.unary_unary(f"/{SERVICE}/Echo")(b"slow"))
        await asyncio.sleep(0.1)
        stopping = asyncio.ensure_future(server.stop(grace=5))
        await asyncio.sleep(0.05)
        assert (await server.health.Check(health_pb2.HealthCheckRequest(), None)).status == (
            health_pb2.HealthCheckResponse.NOT_SERVING
        )
        assert await in_flight == b"slow"
        await stopping
