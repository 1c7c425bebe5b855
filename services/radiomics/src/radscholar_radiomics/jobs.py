"""Batch jobs of the radiomics service: submitted to Ray, followed until they end, their state kept in the job store.

The service owns each job's record; Ray runs it (``radscholar_radiomics.batch``). One background loop brings every
queued or running job up to date from Ray: state, progress (with ETA) and log lines from the driver's output, and
at the end the outcome the driver wrote. Jobs survive a restart of the service: the loop picks them up again (log
lines the driver wrote while the service was down stay in Ray's log only).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any

from radscholar_core.errors import AlreadyExists, FailedPrecondition, NotFound, Unavailable
from radscholar_core.jobs import Job, JobState, JobStore, LogLevel, Progress, utc_now
from radscholar_core.objectstore import ObjectStore, ObjectStoreSettings
from radscholar_radiomics.adapters.ray_jobs import RayJobs
from radscholar_radiomics.batch import OBJECT_STORE_ENV, REGION_CPUS_ENV
from radscholar_radiomics.domain.batch import DONE, KIND, LOG, PROGRESS, Outcome, Plan, outcome_key, plan_key

log = logging.getLogger(__name__)
ENTRYPOINT = "python -m radscholar_radiomics.batch"  # Ray's PATH finds the platform's Python
ACTIVE = (JobState.QUEUED, JobState.RUNNING)
RAY_ENDED = {"SUCCEEDED", "FAILED", "STOPPED"}
SUBMISSION_GRACE = timedelta(minutes=2)  # a queued job Ray does not know after this was never submitted


def driver_environment(objects: ObjectStoreSettings, region_cpus: float) -> dict[str, str]:
    """What the driver and its tasks need: the object store (its folder made absolute) and the CPUs per region."""
    secret = objects.s3_secret_key.get_secret_value() if objects.s3_secret_key else None
    store = {**objects.model_dump(mode="json"), "root": str(objects.root.resolve()), "s3_secret_key": secret}
    return {OBJECT_STORE_ENV: json.dumps(store), REGION_CPUS_ENV: str(region_cpus)}


class BatchJobs:
    def __init__(
        self, store: JobStore, ray: RayJobs, objects: ObjectStore, environment: Mapping[str, str], poll_seconds: float
    ) -> None:
        self._store = store
        self._ray = ray
        self._objects = objects
        self._environment = dict(environment)
        self._poll_seconds = poll_seconds
        self._log_offsets: dict[str, int] = {}  # characters of each job's Ray log already read

    def start(self, plan: Plan, parameters: Mapping[str, Any], created_by: str) -> Job:
        """Records the job and submits it to Ray. A retry with the same job id returns the job it started."""
        try:
            job = self._store.create(KIND, {**parameters, "created_by": created_by}, job_id=plan.job_id)
        except AlreadyExists:
            existing = self._store.get(plan.job_id)
            if existing.parameters.get("created_by") != created_by:
                raise
            return existing
        self._objects.put(plan_key(job.id), plan.to_json(), "application/json")
        try:
            self._ray.submit(job.id, f"{ENTRYPOINT} {plan_key(job.id)}", self._environment)
        except Exception as error:
            self._store.transition(job.id, JobState.FAILED, error=f"could not submit to Ray: {error}")
            raise
        self._store.append_log(job.id, LogLevel.INFO, f"submitted to Ray: {len(plan.items)} images with masks")
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

    def outcome(self, job_id: str) -> Outcome:
        job = self._store.get(job_id)
        if job.state is not JobState.SUCCEEDED:
            raise FailedPrecondition(
                f"job {job_id!r} is {job.state}: its feature table exists once it has SUCCEEDED",
                reason="JOB_NOT_SUCCEEDED",
                details={"job_id": job_id, "state": job.state},
            )
        try:
            return Outcome.from_json(self._objects.get(outcome_key(job_id)))
        except NotFound:
            raise NotFound(f"job {job_id!r} left no feature table", reason="FEATURE_TABLE_NOT_FOUND") from None

    async def keep_syncing(self) -> None:
        """Follows every active job until the server stops."""
        while True:
            page = await asyncio.to_thread(self._store.list, kind=KIND, states=ACTIVE, page_size=1000)
            for job in page.jobs:
                try:
                    await asyncio.to_thread(self.sync, job)
                except Unavailable as error:  # Ray unreachable for now: the next round tries again
                    log.warning("job %s: %s", job.id, error)
                except Exception:  # a fault of ours: logged, and the next round tries again
                    log.exception("could not bring job %s up to date", job.id)
            await asyncio.sleep(self._poll_seconds)

    def sync(self, job: Job) -> Job:
        """Brings ``job`` up to date from Ray: state, progress, new log lines, and its outcome when it ended."""
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
        job, table_written = self._follow_log(job)
        if ray.status not in RAY_ENDED and not table_written:
            return job
        self._log_offsets.pop(job.id, None)
        if ray.status == "STOPPED":
            return self._store.transition(job.id, JobState.CANCELLED)
        with suppress(NotFound):
            outcome = Outcome.from_json(self._objects.get(outcome_key(job.id)))
            if ray.status == "SUCCEEDED" or table_written:  # the table is complete; the driver may still be exiting
                return self._store.transition(job.id, JobState.SUCCEEDED, result=_result(outcome))
            reasons = sorted({f.reason for f in outcome.failures})
            problem = f"no region could be extracted ({', '.join(reasons)}); see the job's failures in its log"
            return self._store.transition(job.id, JobState.FAILED, error=problem)
        tail = self._ray.logs(job.id).strip().splitlines()[-5:]
        return self._store.transition(job.id, JobState.FAILED, error="\n".join([ray.message, *tail]).strip())

    def _follow_log(self, job: Job) -> tuple[Job, bool]:
        """Turns the driver's new output lines into progress and log lines of the job; True once the driver said
        that its feature table is written."""
        text = self._ray.logs(job.id)
        start = self._log_offsets.get(job.id, 0)
        end = text.rfind("\n") + 1
        if end <= start:
            return job, False
        self._log_offsets[job.id] = end
        progress, table_written = None, False
        for line in text[start:end].splitlines():
            table_written |= line == DONE
            if line.startswith(PROGRESS):
                progress = json.loads(line.removeprefix(PROGRESS))
            elif line.startswith(LOG):
                entry = json.loads(line.removeprefix(LOG))
                self._store.append_log(job.id, entry["level"], entry["message"])
        if progress is not None and job.state is JobState.RUNNING:
            units = Progress.of_units(progress["completed"], progress["total"], progress["step"])
            job = self._store.update_progress(job.id, units)
        return job, table_written


def _result(outcome: Outcome) -> dict[str, str]:
    return {
        "feature_table": outcome.parquet_key,
        "feature_table_csv": outcome.csv_key,
        "rows": str(outcome.rows),
        "features": str(outcome.features),
        "failed": str(len(outcome.failures)),
        "reused": str(outcome.reused),
        "extraction_seconds": f"{outcome.extraction_seconds:.3f}",
    }
