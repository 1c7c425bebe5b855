"""Jobs in their wire form (radscholar.common.v1.Job / JobEvent), for every service's Watch RPCs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from radscholar_core.jobs import Job, JobState, LogLine
from radscholar_proto.common.v1 import job_pb2

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
