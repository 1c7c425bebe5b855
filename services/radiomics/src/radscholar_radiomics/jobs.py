"""Batch extraction jobs: the plan written where the driver reads it, the run on Ray (``radscholar_core.ray_jobs``),
and the outcome read back into the job's result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from radscholar_core.errors import FailedPrecondition, NotFound
from radscholar_core.jobs import Job, JobState, JobStore
from radscholar_core.objectstore import ObjectStore
from radscholar_core.ray_jobs import Finish, RayJobRunner
from radscholar_radiomics.domain.batch import Outcome, Plan, outcome_key, plan_key

ENTRYPOINT = "python -m radscholar_radiomics.batch"  # Ray's PATH finds the platform's Python


def finish(objects: ObjectStore) -> Finish:
    """The ``finish`` of the runner: a batch's result from its outcome; a batch with no region extracted fails."""

    def result(job_id: str) -> dict[str, str]:
        outcome = Outcome.from_json(objects.get(outcome_key(job_id)))
        if not outcome.rows:
            reasons = ", ".join(sorted({f.reason for f in outcome.failures}))
            raise FailedPrecondition(
                f"no region could be extracted ({reasons}); see the job's failures in its log",
                reason="NO_REGION_EXTRACTED",
            )
        return {
            "feature_table": outcome.parquet_key,
            "feature_table_csv": outcome.csv_key,
            "rows": str(outcome.rows),
            "features": str(outcome.features),
            "failed": str(len(outcome.failures)),
            "reused": str(outcome.reused),
            "extraction_seconds": f"{outcome.extraction_seconds:.3f}",
        }

    return result


class BatchJobs:
    def __init__(self, runner: RayJobRunner, store: JobStore, objects: ObjectStore) -> None:
        self._runner = runner
        self._store = store
        self._objects = objects

    def start(self, plan: Plan, parameters: Mapping[str, Any], created_by: str) -> Job:
        """Writes the plan and starts the job. A retry with the same job id returns the job it started."""
        key = plan_key(plan.job_id)
        if not self._objects.exists(key):
            self._objects.put(key, plan.to_json(), "application/json")
        note = f"{len(plan.items)} images with masks"
        return self._runner.start(plan.job_id, parameters, created_by, f"{ENTRYPOINT} {key}", note)

    def cancel(self, job_id: str) -> Job:
        return self._runner.cancel(job_id)

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
