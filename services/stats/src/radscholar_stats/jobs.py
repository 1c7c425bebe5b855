"""Analysis jobs: the request written where the driver (``radscholar_stats.job``) reads it, the run on Ray
(``radscholar_core.ray_jobs``), and the stored result's id read back into the job's result."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from radscholar_core.jobs import Job
from radscholar_core.objectstore import ObjectStore
from radscholar_core.ray_jobs import Finish, RayJobRunner
from radscholar_stats.adapters.stored import StoredTable

KIND = "stats.analysis"
ENTRYPOINT = "python -m radscholar_stats.job"  # Ray's PATH finds the platform's Python


def request_key(job_id: str) -> str:
    return f"stats/jobs/{job_id}/request.json"


def outcome_key(job_id: str) -> str:
    return f"stats/jobs/{job_id}/outcome.json"


def finish(objects: ObjectStore) -> Finish:
    """The runner's ``finish``: the job's result is the id of the result its driver stored."""

    def result(job_id: str) -> dict[str, str]:
        outcome = json.loads(objects.get(outcome_key(job_id)))
        return {"result_id": outcome["result_id"], "kind": outcome["kind"]}

    return result


class AnalysisJobs:
    def __init__(self, runner: RayJobRunner, objects: ObjectStore) -> None:
        self._runner = runner
        self._objects = objects

    def start(self, job_id: str, table: StoredTable, kind: str, parameters: Mapping[str, Any], created_by: str) -> Job:
        """Writes what the driver runs and starts the job; a retry with the same job id returns the job it started."""
        key = request_key(job_id)
        request = {"table_id": table.id, "kind": kind, "parameters": dict(parameters), "created_by": created_by}
        if not self._objects.exists(key):
            self._objects.put(key, json.dumps(request).encode(), "application/json")
        recorded = {"table_id": table.id, "kind": kind, "parameters": dict(parameters)}
        note = f"{kind} on table {table.name} ({table.rows} rows)"
        return self._runner.start(job_id, recorded, created_by, f"{ENTRYPOINT} {job_id}", note)

    def cancel(self, job_id: str) -> Job:
        return self._runner.cancel(job_id)
