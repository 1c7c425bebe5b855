"""Training runs as jobs: the plan written where the driver reads it, the run on Ray (``radscholar_core.ray_jobs``),
its outcome read back into the job's result, and resumption of a stopped run as a new job of the same run."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from radscholar_core.errors import FailedPrecondition, NotFound
from radscholar_core.jobs import Job, JobState, JobStore
from radscholar_core.objectstore import ObjectStore
from radscholar_core.ray_jobs import Finish, RayJobRunner
from radscholar_training.domain.plan import (
    EVALUATION_KIND,
    BatchPrediction,
    Evaluation,
    Plan,
    checkpoint_key,
    evaluation_prefix,
    inference_prefix,
    outcome_key,
    plan_key,
    run_key,
)

ENTRYPOINT = "python -m radscholar_training.run"  # Ray's PATH finds the platform's Python
MAX_RESUMES = 99


def finish(objects: ObjectStore) -> Finish:
    """The ``finish`` of the runner: a run's result (ids of its MLflow run and model version, best metric)."""

    def result(job_id: str) -> dict[str, str]:
        outcome: dict[str, Any] = json.loads(objects.get(outcome_key(job_id)))
        return {key: value if isinstance(value, str) else json.dumps(value) for key, value in outcome.items()}

    return result


class TrainingJobs:
    def __init__(self, runner: RayJobRunner, store: JobStore, objects: ObjectStore) -> None:
        self._runner = runner
        self._store = store
        self._objects = objects

    def start(self, plan: Plan, parameters: dict[str, Any]) -> Job:
        """Writes the plan and starts the run's first job. A retry with the same job id returns the job it started."""
        if not self._objects.exists(run_key(plan.run_id)):
            self._objects.put(run_key(plan.run_id), plan.to_json(), "application/json")
        note = f"{plan.settings['architecture']} on {len(plan.cases)} cases, {plan.settings['epochs']} epochs"
        return self._submit(plan, parameters, note)

    def _submit(self, plan: Plan, parameters: dict[str, Any], note: str) -> Job:
        key = plan_key(plan.job_id)
        if not self._objects.exists(key):
            self._objects.put(key, plan.to_json(), "application/json")
        parameters = {**parameters, "run_id": plan.run_id}
        return self._runner.start(plan.job_id, parameters, plan.created_by, f"{ENTRYPOINT} {key}", note)

    def cached(self, keys: list[str]) -> bool:
        """Whether every one of the preprocessed splits is in the cache."""
        return all(self._objects.exists(key) for key in keys)

    def plan_of(self, run_id: str) -> Plan:
        try:
            return Plan.from_json(self._objects.get(run_key(run_id)))
        except NotFound:
            raise NotFound(f"training run {run_id!r} not found", reason="RUN_NOT_FOUND") from None

    def jobs_of(self, run_id: str) -> list[Job]:
        """The run's jobs, first to last."""
        jobs = []
        for job_id in (run_id, *(resume_id(run_id, n) for n in range(1, MAX_RESUMES + 1))):
            try:
                jobs.append(self._store.get(job_id))
            except NotFound:
                break
        return jobs

    def resume(self, run_id: str, created_by: str) -> Job:
        """A new job of the run, from the run's last checkpoint; refused while a job of the run is active or once
        the run has succeeded."""
        plan = self.plan_of(run_id)
        jobs = self.jobs_of(run_id)
        last = jobs[-1]
        if not last.state.is_terminal:
            raise FailedPrecondition(
                f"run {run_id!r} is {last.state} in job {last.id!r}", reason="RUN_ACTIVE", details={"job_id": last.id}
            )
        if last.state is JobState.SUCCEEDED:
            raise FailedPrecondition(f"run {run_id!r} has finished", reason="RUN_SUCCEEDED")
        if len(jobs) > MAX_RESUMES:
            raise FailedPrecondition(f"run {run_id!r} was resumed {MAX_RESUMES} times", reason="TOO_MANY_RESUMES")
        has_checkpoint = self._objects.exists(checkpoint_key(run_id))
        resumed = replace(plan, job_id=resume_id(run_id, len(jobs)), created_by=created_by)
        note = "resuming from the last checkpoint" if has_checkpoint else "no checkpoint yet: starting over"
        return self._submit(resumed, {"resumed_from": last.id}, note)

    def cancel(self, job_id: str) -> Job:
        return self._runner.cancel(job_id)


def resume_id(run_id: str, n: int) -> str:
    """The id of the run's n-th resumption."""
    return f"{run_id[:58]}.r{n}"


EVALUATION_ENTRYPOINT = "python -m radscholar_training.evaluate"


class EvaluationJobs:
    """Tests of model versions, each a job whose id is the evaluation's."""

    def __init__(self, runner: RayJobRunner, store: JobStore, objects: ObjectStore) -> None:
        self._runner = runner
        self._store = store
        self._objects = objects

    def start(self, evaluation: Evaluation, parameters: dict[str, Any]) -> Job:
        plan = evaluation.plan
        key = f"{evaluation_prefix(plan.job_id)}/evaluation.json"
        if not self._objects.exists(key):
            self._objects.put(key, evaluation.to_json(), "application/json")
        note = f"{evaluation.model_name} version {evaluation.model_version} on {len(plan.cases)} cases"
        return self._runner.start(plan.job_id, parameters, plan.created_by, f"{EVALUATION_ENTRYPOINT} {key}", note)

    def report(self, evaluation_id: str) -> tuple[bytes, Job]:
        """The report of a finished test, with its job."""
        job = self._store.get(evaluation_id)
        if job.kind != EVALUATION_KIND:
            raise NotFound(f"evaluation {evaluation_id!r} not found", reason="EVALUATION_NOT_FOUND")
        if job.state is not JobState.SUCCEEDED:
            raise FailedPrecondition(
                f"evaluation {evaluation_id!r} is {job.state}: its report exists once it has SUCCEEDED",
                reason="JOB_NOT_SUCCEEDED",
                details={"job_id": evaluation_id, "state": job.state},
            )
        return self._objects.get(f"{evaluation_prefix(evaluation_id)}/report.json"), job


INFERENCE_ENTRYPOINT = "python -m radscholar_training.infer"


class InferenceJobs:
    """Batch predictions, each a job."""

    def __init__(self, runner: RayJobRunner, objects: ObjectStore) -> None:
        self._runner = runner
        self._objects = objects

    def start(self, batch: BatchPrediction, parameters: dict[str, Any]) -> Job:
        key = f"{inference_prefix(batch.job_id)}/batch.json"
        if not self._objects.exists(key):
            self._objects.put(key, batch.to_json(), "application/json")
        note = f"{batch.model_name} version {batch.model_version} on {len(batch.series)} series"
        return self._runner.start(batch.job_id, parameters, batch.created_by, f"{INFERENCE_ENTRYPOINT} {key}", note)
