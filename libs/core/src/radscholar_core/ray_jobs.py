"""Long work on Ray: submitted through Ray's Jobs API, followed by the service that owns the job record.

A service writes a job's inputs to the object store and starts it with ``RayJobRunner.start`` (the job id is Ray's
``submission_id``). The driver (``python -m <service>.<module> ...``, run by Ray) reports on stdout through
``radscholar_core.job_driver`` (``report``, ``say``, ``done`` once its outcome is written) and finds the object store
in its environment (``job_driver.job_environment``). One background loop of the service (``keep_following``)
brings every queued or running job up to date from Ray: state, progress with ETA, log lines, and at the end the
result its ``finish`` reads from the outcome. Jobs survive a restart of the service (log lines written while it was
down stay in Ray's log only). Requires the ``ray`` package (the services that run jobs depend on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ray.job_submission import JobStatus, JobSubmissionClient

from radscholar_core.errors import AlreadyExists, DomainError, FailedPrecondition, NotFound, Unavailable
from radscholar_core.job_driver import DONE, LOG, PROGRESS
from radscholar_core.jobs import Job, JobState, JobStore, LogLevel, Progress, utc_now

log = logging.getLogger(__name__)

ACTIVE = (JobState.QUEUED, JobState.RUNNING)
RAY_ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}
SUBMISSION_GRACE = timedelta(minutes=2)  # a queued job Ray does not know after this was never submitted

Finish = Callable[[str], dict[str, str]]  # a job's result from its outcome; NotFound: none written; DomainError: failed


# --- Ray's Jobs API ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayJobState:
    status: str  # PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED; "" when Ray does not know the job
    message: str


class RayJobs:
    """Submits, follows and stops Ray jobs at ``address`` (the dashboard URL); connects on first use. Calls block:
    run them in a thread."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._client: JobSubmissionClient | None = None
        self._lock = threading.Lock()

    def _connected(self) -> JobSubmissionClient:
        if not self._address:
            raise FailedPrecondition("jobs need Ray: set the service's RAY_ADDRESS", reason="RAY_NOT_CONFIGURED")
        with self._lock:
            if self._client is None:
                try:
                    self._client = JobSubmissionClient(self._address)
                except (OSError, RuntimeError) as error:
                    raise Unavailable(
                        f"Ray's Jobs API at {self._address} does not answer: {error}", reason="RAY_UNAVAILABLE"
                    ) from None
            return self._client

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Ray's answers pass; a connection error (requests' are OSErrors) becomes UNAVAILABLE."""
        try:
            yield
        except OSError as error:
            message = f"Ray's Jobs API at {self._address} does not answer: {error}"
            raise Unavailable(message, reason="RAY_UNAVAILABLE") from None

    def submit(self, job_id: str, entrypoint: str, env: Mapping[str, str]) -> None:
        """Submits ``entrypoint`` as Ray job ``job_id``; a job already submitted under that id is left as it is."""
        client = self._connected()
        try:
            with self._reaching():
                client.submit_job(
                    entrypoint=entrypoint,
                    submission_id=job_id,
                    runtime_env={"env_vars": dict(env)},
                    entrypoint_num_cpus=0,  # a driver waits; the tasks it starts take the CPUs
                )
        except RuntimeError as error:
            if "already exists" not in str(error):
                raise Unavailable(f"Ray refused the job: {error}", reason="RAY_UNAVAILABLE") from None

    def state(self, job_id: str) -> RayJobState:
        client = self._connected()
        try:
            with self._reaching():
                info = client.get_job_info(job_id)
        except RuntimeError as error:
            if "does not exist" in str(error) or "404" in str(error):
                return RayJobState("", str(error))
            raise
        status = info.status.value if isinstance(info.status, JobStatus) else str(info.status)
        return RayJobState(status, info.message or "")

    def logs(self, job_id: str) -> str:
        with self._reaching():
            return str(self._connected().get_job_logs(job_id))

    def stop(self, job_id: str) -> None:
        with self._reaching():
            self._connected().stop_job(job_id)


# --- the service's side -----------------------------------------------------------------------------------------


class RayJobRunner:
    """Jobs of one ``kind``: started on Ray, followed into the job store, finished by ``finish``."""

    def __init__(
        self,
        store: JobStore,
        ray: RayJobs,
        kind: str,
        environment: Mapping[str, str],
        finish: Finish,
        poll_seconds: float = 0.5,
    ) -> None:
        self._store = store
        self._ray = ray
        self._kind = kind
        self._environment = dict(environment)
        self._finish = finish
        self._poll_seconds = poll_seconds
        self._log_offsets: dict[str, int] = {}  # characters of each job's Ray log already read

    def start(self, job_id: str, parameters: Mapping[str, Any], created_by: str, entrypoint: str, note: str) -> Job:
        """Records the job and submits ``entrypoint`` to Ray (its inputs are already stored). A retry with the same
        job id by the same person returns the job it started."""
        try:
            job = self._store.create(self._kind, {**parameters, "created_by": created_by}, job_id=job_id)
        except AlreadyExists:
            existing = self._store.get(job_id)
            if existing.parameters.get("created_by") != created_by:
                raise
            return existing
        try:
            self._ray.submit(job.id, entrypoint, self._environment)
        except Exception as error:
            self._store.transition(job.id, JobState.FAILED, error=f"could not submit to Ray: {error}")
            raise
        self._store.append_log(job.id, LogLevel.INFO, f"submitted to Ray: {note}")
        return self._store.get(job.id)

    def cancel(self, job_id: str) -> Job:
        job = self._store.get(job_id)
        if job.state.is_terminal:
            raise FailedPrecondition(
                f"job {job_id!r} has already ended ({job.state})", reason="JOB_ENDED", details={"job_id": job_id}
            )
        self._ray.stop(job_id)
        self._store.append_log(job_id, LogLevel.INFO, "cancel requested")
        return self._store.get(job_id)  # CANCELLED once the loop sees that Ray has stopped it

    async def keep_following(self) -> None:
        """Follows every active job of this kind until the server stops."""
        while True:
            page = await asyncio.to_thread(self._store.list, kind=self._kind, states=ACTIVE, page_size=1000)
            for job in page.jobs:
                try:
                    await asyncio.to_thread(self.sync, job)
                except Unavailable as error:  # Ray unreachable for now: the next round tries again
                    log.warning("job %s: %s", job.id, error)
                except Exception:  # a fault of ours: logged, and the next round tries again
                    log.exception("could not bring job %s up to date", job.id)
            await asyncio.sleep(self._poll_seconds)

    def sync(self, job: Job) -> Job:
        """Brings ``job`` up to date from Ray: state, progress, new log lines, and its result when it ended."""
        ray = self._ray.state(job.id)
        if not ray.status:
            if job.state is JobState.QUEUED and utc_now() - job.created_at < SUBMISSION_GRACE:
                return job  # being submitted right now
            return self._store.transition(job.id, JobState.FAILED, error=f"Ray has no record of the job: {ray.message}")
        if job.id not in self._log_offsets:  # first seen by this process: after a restart, skip what was read
            self._log_offsets[job.id] = 0 if job.state is JobState.QUEUED else self._ray.logs(job.id).rfind("\n") + 1
        if ray.status == "STOPPED" and job.state is JobState.QUEUED:
            return self._store.transition(job.id, JobState.CANCELLED)
        if ray.status != "PENDING" and job.state is JobState.QUEUED:
            job = self._store.transition(job.id, JobState.RUNNING)
        job, outcome_written = self._follow_log(job)
        if ray.status not in RAY_ENDED and not outcome_written:
            return job
        self._log_offsets.pop(job.id, None)
        if ray.status == "STOPPED":
            return self._store.transition(job.id, JobState.CANCELLED)
        try:
            result = self._finish(job.id)
        except NotFound:
            tail = self._ray.logs(job.id).strip().splitlines()[-5:]
            return self._store.transition(job.id, JobState.FAILED, error="\n".join([ray.message, *tail]).strip())
        except DomainError as problem:
            return self._store.transition(job.id, JobState.FAILED, error=str(problem))
        if ray.status == "SUCCEEDED" or outcome_written:  # the outcome is complete; the driver may still be exiting
            return self._store.transition(job.id, JobState.SUCCEEDED, result=result)
        return self._store.transition(job.id, JobState.FAILED, error=ray.message or "the driver failed")

    def _follow_log(self, job: Job) -> tuple[Job, bool]:
        """Turns the driver's new output lines into progress and log lines of the job; True once the driver said
        that its outcome is written."""
        text = self._ray.logs(job.id)
        start = self._log_offsets.get(job.id, 0)
        end = text.rfind("\n") + 1
        if end <= start:
            return job, False
        self._log_offsets[job.id] = end
        progress, outcome_written = None, False
        for line in text[start:end].splitlines():
            outcome_written |= line == DONE
            # Lines of Ray's worker processes come prefixed with "(RayTrainWorker pid=...) ".
            if PROGRESS in line:
                progress = json.loads(line.partition(PROGRESS)[2])
            elif LOG in line:
                entry = json.loads(line.partition(LOG)[2])
                self._store.append_log(job.id, entry["level"], entry["message"])
        if progress is not None and job.state is JobState.RUNNING:
            units = Progress.of_units(progress["completed"], progress["total"], progress["step"])
            job = self._store.update_progress(job.id, units)
        return job, outcome_written
