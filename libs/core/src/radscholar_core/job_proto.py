"""Jobs in their wire form (radscholar.common.v1.Job / JobEvent), and the loop every service's WatchJob runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from radscholar_core.errors import NotFound
from radscholar_core.identity import current_identity
from radscholar_core.jobs import Job, JobEvents, JobState, JobStore, LogLine
from radscholar_proto.common.v1 import job_pb2

WATCH_RECHECK_SECONDS = 30  # a watcher re-reads the job this often even without a change notice (other replicas)

STATES = {state: f"JOB_STATE_{state.name}" for state in JobState}  # wire names of the states


def _timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def log_line_to_proto(line: LogLine) -> job_pb2.LogLine:
    return job_pb2.LogLine(time=_timestamp(line.time), level=str(line.level), message=line.message)


def job_to_proto(job: Job) -> job_pb2.Job:
    """The job as callers see it; parameters that are not strings travel as JSON."""
    progress = job.progress
    return job_pb2.Job(
        id=job.id,
        kind=job.kind,
        state=STATES[job.state],
        progress=job_pb2.Progress(
            fraction=progress.fraction,
            step=progress.step,
            completed=progress.completed,
            total=progress.total,
            eta_seconds=progress.eta_seconds,
        ),
        created_at=_timestamp(job.created_at),
        started_at=_timestamp(job.started_at),
        finished_at=_timestamp(job.finished_at),
        error=job.error or "",
        result=job.result,
        parameters={k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in job.parameters.items()},
    )


def job_event(job: Job, new_lines: Sequence[LogLine] = ()) -> job_pb2.JobEvent:
    return job_pb2.JobEvent(job=job_to_proto(job), log_lines=[log_line_to_proto(line) for line in new_lines])


def _after(lines: list[LogLine], last: LogLine | None) -> list[LogLine]:
    """The lines written after ``last`` (all of them when it has scrolled out of the kept window)."""
    if last is None or last not in lines:
        return lines
    return lines[len(lines) - lines[::-1].index(last) :]


async def watch_job(
    store: JobStore, events: JobEvents, job_id: str, visible: Callable[[Job], Job]
) -> AsyncIterator[job_pb2.JobEvent]:
    """A WatchJob stream: the job now (``visible`` may refuse it), then an event per change until it ends."""
    with events.subscribe(job_id) as changes:
        job = visible(await asyncio.to_thread(store.get, job_id))
        yield job_event(job, job.logs)
        last = job.logs[-1] if job.logs else None
        while not job.state.is_terminal:
            try:
                async with asyncio.timeout(WATCH_RECHECK_SECONDS):
                    await changes.wait()
            except TimeoutError:
                pass
            seen_version, job = job.version, await asyncio.to_thread(store.get, job_id)
            new = _after(job.logs, last)
            if job.version != seen_version or new:
                yield job_event(job, new)
                last = job.logs[-1] if job.logs else last


def owned_by_caller(job: Job) -> Job:
    """The job, if the caller started it or is an admin; another's job is NOT_FOUND (its existence is not told)."""
    caller = current_identity()
    if caller.is_admin or job.parameters.get("created_by") == caller.username:
        return job
    raise NotFound(f"job {job.id!r} not found", reason="JOB_NOT_FOUND", details={"job_id": job.id})


def visible_jobs(jobs: Iterable[Job], visible: Callable[[Job], Job]) -> list[job_pb2.Job]:
    """The jobs of a ListJobs page that ``visible`` lets the caller see, as messages."""
    shown = []
    for job in jobs:
        try:
            shown.append(job_to_proto(visible(job)))
        except NotFound:
            continue
    return shown
