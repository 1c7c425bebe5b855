"""The training loop's session under Ray Train: rank and device from Ray, the model wrapped for data parallelism,
checkpoints in the object store, progress and log lines for the job, per-epoch metrics to MLflow (rank 0).

Checkpoints live under the run (``training/runs/<run>/checkpoints/last.pt``, which also holds the best epoch's
weights and the history), not in Ray's storage:
a worker group that Ray restarts after a failure, and a later job that resumes the run, both continue from there.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

import ray.train
import ray.train.torch
import torch
from torch import nn

from radscholar_core.errors import NotFound
from radscholar_core.job_driver import report, say
from radscholar_core.objectstore import ObjectStore
from radscholar_training.adapters.tracking import Tracking
from radscholar_training.domain.loop import EpochReport
from radscholar_training.domain.plan import checkpoint_key

PROGRESS_SECONDS = 1.0  # at most one progress line a second


def state_bytes(state: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return buffer.getvalue()


def read_state(objects: ObjectStore, key: str) -> dict[str, Any] | None:
    """A checkpoint the run wrote, if any."""
    try:
        data = objects.get(key)
    except NotFound:
        return None
    state: dict[str, Any] = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return state


class RaySession:
    def __init__(
        self, objects: ObjectStore, run_id: str, epochs: int, tracking: Tracking | None = None, mlflow_run: str = ""
    ) -> None:
        """``tracking``: where rank 0 logs each epoch's metrics (None: nowhere, as in the benchmark)."""
        context = ray.train.get_context()
        self.rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self.device = ray.train.torch.get_device()
        self._objects = objects
        self._run_id = run_id
        self._epochs = epochs
        self._tracking = tracking
        self._mlflow_run = mlflow_run
        self._last_progress = 0.0

    def prepare_model(self, model: nn.Module) -> nn.Module:
        return ray.train.torch.prepare_model(model)

    def restored(self) -> Mapping[str, Any] | None:
        state = read_state(self._objects, checkpoint_key(self._run_id))
        if state is not None and self.rank == 0:
            say("INFO", f"resuming from the checkpoint of epoch {state['epoch']}")
        return state

    def progress(self, epoch: int, step: int, steps: int, loss: float, samples_per_second: float) -> None:
        now = time.monotonic()
        if self.rank != 0 or (now - self._last_progress < PROGRESS_SECONDS and step < steps):
            return
        self._last_progress = now
        words = (
            f"epoch {epoch}/{self._epochs}, batch {step}/{steps}, loss {loss:.4f}, {samples_per_second:.1f} samples/s"
        )
        report((epoch - 1) * steps + step, self._epochs * steps, words)

    def end_epoch(self, epoch: EpochReport, state: Mapping[str, Any] | None, best: bool) -> None:
        metrics = {
            "train_loss": epoch.train_loss,
            "learning_rate": epoch.learning_rate,
            "samples_per_second": epoch.samples_per_second,
            **epoch.metrics,
        }
        if self.rank == 0:
            if state is not None:  # it holds the best epoch's weights as well
                self._objects.put(checkpoint_key(self._run_id), state_bytes(state))
            if self._tracking is not None:
                self._tracking.log_epoch(self._mlflow_run, epoch.epoch, metrics)
            shown = ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())
            saved = " (checkpoint saved)" if state is not None else ""
            say("INFO", f"epoch {epoch.epoch}/{self._epochs}: {shown}{' (best)' if best else ''}{saved}")
        ray.train.report(metrics)
