from datetime import UTC, datetime, timedelta

from radscholar_core.job_proto import STATES, job_event, job_to_proto
from radscholar_core.jobs import Job, JobState, LogLevel, LogLine, Progress
from radscholar_proto.common.v1 import job_pb2

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_running_job_in_wire_form() -> None:
    job = Job(id="run-1", kind="training.run", parameters={"epochs": 10, "network": "unet"})
    job.transition(JobState.RUNNING, T0)
    job.report_progress(Progress.of_units(3, 10, "epoch 3/10"), T0 + timedelta(seconds=30))
    wire = job_to_proto(job)
    assert wire.state == job_pb2.JOB_STATE_RUNNING
    assert (wire.progress.completed, wire.progress.total, wire.progress.step) == (3, 10, "epoch 3/10")
    assert wire.progress.fraction == 0.3
    assert wire.progress.HasField("eta_seconds") and abs(wire.progress.eta_seconds - 70) < 1e-6
    assert wire.started_at.ToDatetime(tzinfo=UTC) == T0
    assert not wire.HasField("finished_at")
    assert dict(wire.parameters) == {"epochs": "10", "network": "unet"}


def test_a_queued_job_has_no_eta_and_events_carry_new_lines() -> None:
    job = Job(id="run-2", kind="radiomics.extraction")
    assert not job_to_proto(job).progress.HasField("eta_seconds")
    event = job_event(job, [LogLine.of(LogLevel.INFO, "queued", T0)])
    assert [(line.level, line.message) for line in event.log_lines] == [("INFO", "queued")]


def test_every_state_has_a_wire_value() -> None:
    assert {job_pb2.JobState.Value(name) for name in STATES.values()} == set(job_pb2.JobState.values()) - {0}
