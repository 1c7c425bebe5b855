"""Jobs as every service's routes show them: the REST job and its log, and a job followed as Server-Sent Events
(one implementation over any service's WatchJob call)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any, Literal

import grpc
from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from radscholar_gateway.convert import to_model
from radscholar_gateway.errors import on_rpc_error
from radscholar_proto.common.v1 import job_pb2

JobState = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
JOB_ID = r"^[A-Za-z0-9._-]{0,64}$"  # a job id a caller may choose
KEEP_ALIVE_SECONDS = 15.0  # a comment line on an event stream after this much silence, so proxies keep it open
WATCH_SECONDS = 3600.0  # the deadline of one watch; the stream then ends and a client still waiting opens another
# The OpenAPI description of an events route's answer.
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "`data: <JobEvent as JSON>` per event"}
}


class JobProgress(BaseModel):
    fraction: float = Field(0.0, description="0.0 to 1.0")
    step: str = Field("", examples=["region 120/400"])
    completed: int = 0
    total: int = Field(0, description="0 when not known")
    eta_seconds: float | None = Field(None, description="absent until it can be estimated")


class Job(BaseModel):
    id: str
    kind: str = Field(examples=["radiomics.extraction"])
    state: JobState
    progress: JobProgress = Field(default_factory=lambda: JobProgress.model_validate({}))
    created_at: str | None = None
    started_at: str | None = Field(None, description="unset while queued")
    finished_at: str | None = Field(None, description="unset until it ends")
    error: str = Field("", description="why it failed")
    result: dict[str, str] = Field(default_factory=dict, description="result references by name, once it succeeded")
    parameters: dict[str, str] = Field(default_factory=dict, description="what it was started with")


class LogLine(BaseModel):
    time: str | None = None
    level: str = Field(examples=["INFO"])
    message: str


class JobEvent(BaseModel):
    job: Job
    log_lines: list[LogLine] = Field(description="lines written since the previous event")


class JobDetail(BaseModel):
    job: Job
    log_lines: list[LogLine] = Field(description="its log, oldest first (the newest 500 lines)")


class CancelledJob(BaseModel):
    job: Job


class JobList(BaseModel):
    jobs: list[Job]
    next_page_token: str = Field(description="the next page's token; empty on the last page")


def job_of(message: job_pb2.Job) -> Job:
    """The REST job: states are named without their proto prefix, as every enumeration of the API is."""
    return to_model(Job, message, state=job_pb2.JobState.Name(message.state).removeprefix("JOB_STATE_"))


def log_lines_of(lines: Iterable[job_pb2.LogLine]) -> list[LogLine]:
    return [to_model(LogLine, line) for line in lines]


def job_detail(job: job_pb2.Job, lines: Iterable[job_pb2.LogLine]) -> JobDetail:
    """A service's GetJob answer (its job and its log) as REST."""
    return JobDetail(job=job_of(job), log_lines=log_lines_of(lines))


async def job_events(request: Request, call: grpc.aio.UnaryStreamCall) -> StreamingResponse:
    """A service's WatchJob call (opened with ``timeout=WATCH_SECONDS``) as Server-Sent Events. The first event is
    read before answering, so an error there keeps its JSON answer (404 for an unknown job)."""
    try:
        first = await call.read()
    except BaseException:
        call.cancel()
        raise
    return StreamingResponse(
        _server_events(request, call, first), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
    )


async def _server_events(request: Request, call: grpc.aio.UnaryStreamCall, first: object) -> AsyncIterator[str]:
    """One `data:` event per JobEvent and a comment line after each quiet spell; an error after the stream began
    is an `error` event: the usual error body and its HTTP status. The gRPC call ends with the stream, also when
    the client goes away."""
    reading: asyncio.Future[object] | None = None
    try:
        event = first
        while event is not grpc.aio.EOF:
            assert isinstance(event, job_pb2.JobEvent)
            changed = JobEvent(job=job_of(event.job), log_lines=log_lines_of(event.log_lines))
            yield f"data: {changed.model_dump_json()}\n\n"
            reading = asyncio.ensure_future(call.read())
            while not (await asyncio.wait({reading}, timeout=KEEP_ALIVE_SECONDS))[0]:
                yield ": keep-alive\n\n"
            event = reading.result()
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:  # at the watch's own deadline the stream just ends
            answer = await on_rpc_error(request, exc)
            error = {"status": answer.status_code} | json.loads(bytes(answer.body))
            yield f"event: error\ndata: {json.dumps(error)}\n\n"
    finally:
        if reading is not None and not reading.done():
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
        call.cancel()
