"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Literal

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import BaseModel

from radscholar_gateway.deps import UpstreamChannels

router = APIRouter(tags=["health"])


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    upstreams: dict[str, str]  # service -> SERVING, NOT_SERVING, UNREACHABLE...


@router.get("/healthz", summary="The gateway process is alive")
async def healthz() -> Alive:
    return Alive()


async def _health(channel: grpc.aio.Channel, deadline: float) -> str:
    try:
        answer = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=deadline)
    except grpc.aio.AioRpcError as exc:
        return (
            "UNREACHABLE"
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            else exc.code().name
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status))


@router.get(
    "/readyz",
    summary="Every upstream service answers its health check",
    responses={503: {"model": Readiness}},
)
async def readyz(request: Request, channels: UpstreamChannels) -> JSONResponse:
    timeout = request.app.state.settings.readiness_timeout_seconds
    names = [name for name, _ in channels.items()]
    states = await asyncio.gather(*(_health(channel, timeout) for _, channel in channels.items()))
    readiness = Readiness(ready=all(s == "SERVING" for s in states), upstreams=dict(zip(names, states, strict=True)))
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)
