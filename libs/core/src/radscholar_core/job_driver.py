"""The driver's side of a job on Ray: its progress and log lines on stdout, and the object store from the environment.

Kept free of Ray's client and of the job store, so that a driver's tasks import little (``radscholar_core.ray_jobs``
is the service's side).
"""

from __future__ import annotations

import json
import os
import sys

from radscholar_core.objectstore import ObjectStore, ObjectStoreSettings, open_object_store

PROGRESS = "RADSCHOLAR_PROGRESS "  # a driver's stdout line: this prefix, then JSON {completed, total, step}
LOG = "RADSCHOLAR_LOG "  # a driver's stdout line: this prefix, then JSON {level, message}
DONE = "RADSCHOLAR_DONE"  # a driver's last stdout line once its outcome is written
OBJECT_STORE_ENV = "RADSCHOLAR_JOB_OBJECT_STORE"  # the object store's settings, as JSON, for drivers and tasks


def _emit(line: str) -> None:
    # stderr: Ray Train echoes a worker's stdout twice into the job's log, its stderr once.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def say(level: str, message: str) -> None:
    """A line for the job's log."""
    _emit(LOG + json.dumps({"level": level, "message": message}))


def report(completed: int, total: int, step: str) -> None:
    """How far the job has come, in units of work."""
    _emit(PROGRESS + json.dumps({"completed": completed, "total": total, "step": step}))


def done() -> None:
    """The outcome is written: the job has succeeded, whatever happens while the driver exits."""
    _emit(DONE)


def job_environment(objects: ObjectStoreSettings) -> dict[str, str]:
    """The environment a driver needs to reach the object store (its folder made absolute)."""
    secret = objects.s3_secret_key.get_secret_value() if objects.s3_secret_key else None
    store = {**objects.model_dump(mode="json"), "root": str(objects.root.resolve()), "s3_secret_key": secret}
    # RAY_DEDUP_LOGS=0: Ray would fold the same line of several workers into one, "[repeated 2x]" appended.
    return {OBJECT_STORE_ENV: json.dumps(store), "RAY_DEDUP_LOGS": "0"}


def objects_from_environment() -> ObjectStore:
    return open_object_store(ObjectStoreSettings.model_validate_json(os.environ[OBJECT_STORE_ENV]))
