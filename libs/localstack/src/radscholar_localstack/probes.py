"""Readiness probes: an HTTP status check and the standard gRPC health check."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class HttpProbe:
    """Ready when GET ``url`` answers ``expect_status`` (with basic auth or a bearer token when given)."""

    url: str
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    expect_status: int = 200

    def describe(self) -> str:
        return f"GET {self.url} -> {self.expect_status}"

    async def check(self) -> bool:
        headers = {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, auth=self.basic_auth) as client:
                response = await client.get(self.url, headers=headers)
        except httpx.HTTPError:
            return False
        return response.status_code == self.expect_status


@dataclass(frozen=True)
class GrpcHealthProbe:
    """Ready when grpc.health.v1 Check(service="") on ``address`` answers SERVING."""

    address: str
    service: str = ""

    def describe(self) -> str:
        return f"grpc.health.v1 Check({self.service!r}) on {self.address} -> SERVING"

    async def check(self) -> bool:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=self.service), timeout=PROBE_TIMEOUT_S)
            except grpc.aio.AioRpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


Probe = HttpProbe | GrpcHealthProbe
