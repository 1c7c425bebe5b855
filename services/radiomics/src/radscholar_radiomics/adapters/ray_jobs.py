"""Ray's Jobs API (``JobSubmissionClient``), as the batch jobs use it. Calls block: run them in a thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ray.job_submission import JobStatus, JobSubmissionClient

from radscholar_core.errors import FailedPrecondition, Unavailable


@dataclass(frozen=True)
class RayJobState:
    status: str  # PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED; "" when Ray does not know the job
    message: str


class RayJobs:
    """Submits, follows and stops Ray jobs at ``address`` (the dashboard URL); connects on first use."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._client: JobSubmissionClient | None = None
        self._lock = threading.Lock()

    def _connected(self) -> JobSubmissionClient:
        if not self._address:
            raise FailedPrecondition(
                "batch jobs need Ray: set RADSCHOLAR_RADIOMICS_RAY_ADDRESS", reason="RAY_NOT_CONFIGURED"
            )
        with self._lock:
            if self._client is None:
                try:
                    self._client = JobSubmissionClient(self._address)
                except (OSError, RuntimeError) as error:
                    raise Unavailable(
                        f"Ray's Jobs API at {self._address} does not answer: {error}", reason="RAY_UNAVAILABLE"
                    ) from None
            return self._client

    def submit(self, job_id: str, entrypoint: str, env: Mapping[str, str]) -> None:
        """Submits ``entrypoint`` as Ray job ``job_id``; a job already submitted under that id is left as it is."""
        client = self._connected()
        try:
            with self._reaching():
                client.submit_job(
                    entrypoint=entrypoint,
                    submission_id=job_id,
                    runtime_env={"env_vars": dict(env)},
                    entrypoint_num_cpus=0,  # the driver only waits; the regions' tasks take the CPUs
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

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """Ray's answers pass; a connection error (requests' are OSErrors) becomes UNAVAILABLE."""
        try:
            yield
        except OSError as error:
            message = f"Ray's Jobs API at {self._address} does not answer: {error}"
            raise Unavailable(message, reason="RAY_UNAVAILABLE") from None
