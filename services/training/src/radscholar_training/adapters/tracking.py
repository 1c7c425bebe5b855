"""MLflow as the training service uses it: one MLflow run per training run, metrics per epoch, the model registry.

Every method blocks (the service calls them in threads) and goes through one ``MlflowClient`` bound to the
tracking URI given: nothing here sets MLflow's process-wide tracking URI or uses its active run, so threads
with different runs do not interfere. MLflow logs a model through the fluent API; ``register`` does the same
steps with the client instead (create the logged model, save it locally, upload, finalize, register).

MLflow reads its HTTP retry policy from the process environment only, and its default (7 retries with
exponential backoff) takes minutes to give up on an unreachable server. The service puts
``client_environment()`` into its environment at start-up (and into its Ray jobs' runtime env) so that an
outage surfaces as ``Unavailable(reason="MLFLOW_UNAVAILABLE")`` within seconds.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import logging
import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal, TypeVar

import mlflow.artifacts
import mlflow.pytorch
import numpy as np
import requests
import torch
from mlflow import MlflowClient
from mlflow.entities import LoggedModel, LoggedModelOutput, LoggedModelStatus, Metric, Param, Run, RunTag
from mlflow.entities.model_registry import ModelVersion as MlflowModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.utils.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)

from radscholar_core.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable

log = logging.getLogger(__name__)

#: The run tag holding the platform's training run id: what makes ``start_run`` idempotent.
RUN_ID_TAG = "radscholar.run_id"
#: The model version tag holding its status; the "production" alias is the authority for production.
STATUS_TAG = "radscholar.status"
PRODUCTION_ALIAS = "production"
#: The name of the logged model under its run.
MODEL_NAME_IN_RUN = "model"

VersionStatus = Literal["candidate", "production", "archived"]
RunEnd = Literal["FINISHED", "FAILED", "KILLED"]

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,255}")
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_ALREADY_EXISTS_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
_REGISTRATION_WAIT_S = 60.0
_EXPERIMENTS_PER_SEARCH = 100  # search_runs takes a list of experiments; keep each request small

T = TypeVar("T")


def client_environment(max_retries: int = 2, backoff_factor: int = 1, timeout_s: int = 30) -> dict[str, str]:
    """MLflow client settings as environment variables (MLflow reads no other source for them).

    The defaults give up on a refused connection after about 2-4 s (three tries, the last two 0 s and 2 s later,
    plus up to 1 s of jitter each) instead of minutes; ``timeout_s`` bounds each wait for a response. Artifact
    transfers print no progress bars into the service's log.
    """
    return {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(backoff_factor),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version with the metrics and params of the run that trained it."""

    name: str
    version: int
    run_id: str
    status: VersionStatus
    tags: Mapping[str, str]  # the version's tags (dataset_id, dataset_hash, val_auc, architecture, task...)
    metrics: Mapping[str, float]  # the run's latest value of each metric
    params: Mapping[str, str]  # the run's params (its settings)
    created_at: datetime
    description: str
    source: str  # where MLflow keeps the model's files (``models:/m-<id>``, MLflow 3's logged model)

    @property
    def uri(self) -> str:
        """The registry URI MLflow loads the model from."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class Comparison:
    """Model versions side by side: each with its metrics and params, and the params that differ among them."""

    versions: tuple[ModelVersion, ...]
    differing_params: tuple[str, ...]


class Tracking:
    """Runs, metrics, artifacts and registered models in the MLflow server at ``tracking_uri``."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    # Runs

    def start_run(self, experiment: str, run_name: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """The MLflow run id of a training run, created (with the experiment) unless it already exists.

        A run whose ``tags`` carry ``radscholar.run_id`` is found again by it, so a resumed training run
        continues the same MLflow run (marked running again). Params already logged keep their first value;
        values are truncated to MLflow's limit.
        """
        platform_run_id = tags.get(RUN_ID_TAG)
        if platform_run_id is not None:
            _check_filter_value(platform_run_id, "run_id")
        run_tags = {key: value[:MAX_TAG_VAL_LENGTH] for key, value in tags.items()}
        with self._errors():
            experiment_id = self._experiment_id(experiment)
            run = self._find_run([experiment_id], platform_run_id) if platform_run_id is not None else None
            if run is None:
                run = self._client.create_run(experiment_id, run_name=run_name, tags=run_tags)
            else:
                if run.info.status != "RUNNING":
                    self._client.update_run(run.info.run_id, status="RUNNING")
                self._log_in_batches(run.info.run_id, tags=[RunTag(key, value) for key, value in run_tags.items()])
            run_id: str = run.info.run_id
            logged = run.data.params
            wanted = {key: value[:MAX_PARAM_VAL_LENGTH] for key, value in params.items()}
            changed = sorted(key for key, value in wanted.items() if key in logged and logged[key] != value)
            if changed:
                log.warning("run %s keeps the first value of params %s", run_id, ", ".join(changed))
            new = [Param(key, value) for key, value in wanted.items() if key not in logged]
            self._log_in_batches(run_id, params=new)
        return run_id

    def find_run(self, platform_run_id: str) -> str | None:
        """The MLflow run id of the training run ``platform_run_id`` in any experiment; None before it starts."""
        _check_filter_value(platform_run_id, "run_id")
        with self._errors():
            experiment_ids: list[str] = []
            page_token: str | None = None
            while True:
                page = self._client.search_experiments(page_token=page_token)
                experiment_ids.extend(experiment.experiment_id for experiment in page)
                page_token = page.token
                if not page_token:
                    break
            for start in range(0, len(experiment_ids), _EXPERIMENTS_PER_SEARCH):
                run = self._find_run(experiment_ids[start : start + _EXPERIMENTS_PER_SEARCH], platform_run_id)
                if run is not None:
                    return str(run.info.run_id)
        return None

    def log_epoch(self, run_id: str, epoch: int, metrics: Mapping[str, float]) -> None:
        """Logs one epoch's metrics at step ``epoch``."""
        timestamp = int(time.time() * 1000)
        entries = [Metric(key, float(value), timestamp, epoch) for key, value in metrics.items()]
        with self._errors(_run_not_found(run_id)):
            self._log_in_batches(run_id, metrics=entries)

    def log_text(self, run_id: str, name: str, text: str) -> None:
        """Stores ``text`` as the run's artifact ``name`` (a relative path such as ``logs/worker-0.txt``)."""
        _check_artifact_path(name)
        with self._errors(_run_not_found(run_id)):
            self._client.log_text(run_id, text, name)

    def log_artifact_bytes(self, run_id: str, path: str, data: bytes) -> None:
        """Stores ``data`` as the run's artifact at the relative ``path``."""
        target = _check_artifact_path(path)
        directory = None if target.parent == PurePosixPath(".") else str(target.parent)
        with self._errors(_run_not_found(run_id)), tempfile.TemporaryDirectory(prefix="rs-artifact-") as scratch:
            local = Path(scratch) / target.name
            local.write_bytes(data)
            self._client.log_artifact(run_id, str(local), artifact_path=directory)

    def end_run(self, run_id: str, status: RunEnd) -> None:
        with self._errors(_run_not_found(run_id)):
            self._client.set_terminated(run_id, status)

    def metric_history(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric's ``(step, value)`` in step order; of values logged twice at one step, the latest."""
        with self._errors(_run_not_found(run_id)):
            run = self._client.get_run(run_id)
            histories = {key: self._client.get_metric_history(run_id, key) for key in run.data.metrics}
        history: dict[str, list[tuple[int, float]]] = {}
        for key, metrics in sorted(histories.items()):
            latest: dict[int, Metric] = {}
            for metric in metrics:
                kept = latest.get(metric.step)
                if kept is None or metric.timestamp >= kept.timestamp:
                    latest[metric.step] = metric
            history[key] = [(step, latest[step].value) for step in sorted(latest)]
        return history

    # The model registry

    def register(
        self,
        run_id: str,
        model_name: str,
        model: torch.nn.Module,
        input_example: np.ndarray | None,
        tags: Mapping[str, str],
        description: str,
    ) -> ModelVersion:
        """Logs ``model`` as an MLflow PyTorch model of the run and registers it as a new candidate version.

        A CPU copy of the model in eval mode is saved (the caller's model is left as it is); its signature is
        inferred by running it on ``input_example`` (none: no signature). The registered model is created if missing.
        """
        _check_model_name(model_name)
        with self._errors(_run_not_found(run_id)):
            run = self._client.get_run(run_id)
            logged = self._log_model(run, model, input_example)
            self._ensure_registered_model(model_name)
            created = self._client.create_model_version(
                name=model_name,
                source=f"models:/{logged.model_id}",
                run_id=run_id,
                tags={**tags, STATUS_TAG: "candidate"},
                description=description,
                await_creation_for=0,
                model_id=logged.model_id,
            )
            ready = self._await_ready(created)
            return self._model_version(ready, {run_id: run}, production=False)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version of the registered model ``name`` (of all models when None), newest first."""
        if name is not None:
            _check_model_name(name)
        query = f"name = '{name}'" if name is not None else None
        with self._errors():
            found: list[MlflowModelVersion] = []
            page_token: str | None = None
            while True:
                page = self._client.search_model_versions(query, page_token=page_token)
                found.extend(page)
                page_token = page.token
                if not page_token:
                    break
            # Search results carry no aliases: ask each registered model for its production version.
            production = {
                model: str(self._client.get_registered_model(model).aliases.get(PRODUCTION_ALIAS))
                for model in {v.name for v in found}
            }
            runs: dict[str, Run | None] = {}
            versions = [self._model_version(v, runs, production=str(v.version) == production[v.name]) for v in found]
        return sorted(versions, key=lambda v: (v.created_at, v.name, v.version), reverse=True)

    def version(self, name: str, version: int) -> ModelVersion:
        with self._errors(_version_not_found(name, version)):
            found = self._client.get_model_version(name, str(version))
            return self._model_version(found, {}, production=PRODUCTION_ALIAS in found.aliases)

    def compare(self, refs: Sequence[tuple[str, int]]) -> Comparison:
        """The versions ``refs`` (model name, version) side by side."""
        versions = tuple(self.version(name, version) for name, version in refs)
        keys = sorted({key for version in versions for key in version.params})
        differing = tuple(key for key in keys if len({version.params.get(key) for version in versions}) > 1)
        return Comparison(versions=versions, differing_params=differing)

    def promote(self, name: str, version: int) -> ModelVersion:
        """Makes the version the model's production version; the previous one becomes a candidate again."""
        with self._errors(_version_not_found(name, version)):
            self._client.get_model_version(name, str(version))
            previous = self._production(name)
            self._client.set_registered_model_alias(name, PRODUCTION_ALIAS, str(version))
            self._client.set_model_version_tag(name, str(version), STATUS_TAG, "production")
            if previous is not None and int(previous.version) != version:
                self._client.set_model_version_tag(name, previous.version, STATUS_TAG, "candidate")
        return self.version(name, version)

    def archive(self, name: str, version: int) -> ModelVersion:
        """Archives the version: its aliases (production included) are removed; it can be promoted again."""
        with self._errors(_version_not_found(name, version)):
            current = self._client.get_model_version(name, str(version))
            for alias in current.aliases:
                self._client.delete_registered_model_alias(name, alias)
            self._client.set_model_version_tag(name, str(version), STATUS_TAG, "archived")
        return self.version(name, version)

    def download_model(self, name: str, version: int, destination: Path) -> str:
        """Downloads the registered version's MLflow model (MLmodel, weights, environment) under ``destination``.

        Returns the model's local directory.
        """
        with self._errors(_version_not_found(name, version)):
            # Where the files are, resolved here: MLflow resolves "models:/name/version" with the process-wide URI.
            location = self._client.get_model_version_download_uri(name, str(version))
            destination.mkdir(parents=True, exist_ok=True)
            return str(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=location, dst_path=str(destination), tracking_uri=self.tracking_uri
                )
            )

    def load_state_dict(self, name: str, version: int) -> dict[str, torch.Tensor]:
        """The registered version's weights (on the CPU), for a pretrained start or an export.

        Loading unpickles the model, so the classes of its layers must be importable here.
        """
        with tempfile.TemporaryDirectory(prefix="rs-model-") as scratch:
            local = self.download_model(name, version, Path(scratch))
            model = mlflow.pytorch.load_model(local, map_location="cpu")
        return dict(model.state_dict())

    # Helpers

    def _experiment_id(self, name: str) -> str:
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return str(self._client.create_experiment(name))
            except MlflowException as error:
                if error.error_code not in _ALREADY_EXISTS_CODES:
                    raise
            experiment = self._client.get_experiment_by_name(name)  # created by another thread meanwhile
            if experiment is None:
                raise FailedPrecondition(f"MLflow experiment '{name}' vanished", reason="MLFLOW_EXPERIMENT_GONE")
        if experiment.lifecycle_stage == "deleted":
            self._client.restore_experiment(experiment.experiment_id)
        return str(experiment.experiment_id)

    def _find_run(self, experiment_ids: list[str], platform_run_id: str) -> Run | None:
        runs = self._client.search_runs(
            experiment_ids,
            filter_string=f"tags.`{RUN_ID_TAG}` = '{platform_run_id}'",
            max_results=1,
            order_by=["attributes.start_time ASC"],
        )
        return runs[0] if runs else None

    def _log_in_batches(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        for metric_chunk in _chunks(metrics, MAX_METRICS_PER_BATCH):
            self._client.log_batch(run_id, metrics=metric_chunk, synchronous=True)
        for param_chunk in _chunks(params, MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(run_id, params=param_chunk, synchronous=True)
        for tag_chunk in _chunks(tags, MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(run_id, tags=tag_chunk, synchronous=True)

    def _log_model(self, run: Run, model: torch.nn.Module, input_example: np.ndarray | None) -> LoggedModel:
        """What ``mlflow.pytorch.log_model`` does, through this client rather than the process-wide one."""
        snapshot = copy.deepcopy(model).to("cpu").eval()
        run_id = run.info.run_id
        logged = self._client.create_logged_model(
            run.info.experiment_id, name=MODEL_NAME_IN_RUN, source_run_id=run_id, params=dict(run.data.params)
        )
        try:
            self._client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
            with tempfile.TemporaryDirectory(prefix="rs-model-") as scratch:
                local = Path(scratch) / MODEL_NAME_IN_RUN
                description = Model(
                    artifact_path=logged.artifact_location,
                    model_uuid=logged.model_id,
                    run_id=run_id,
                    model_id=logged.model_id,
                )
                mlflow.pytorch.save_model(
                    snapshot,
                    str(local),
                    mlflow_model=description,
                    input_example=input_example,
                    pip_requirements=_requirements(snapshot),
                    # MLflow 3 otherwise picks "pt2" (torch.export), which not every zoo network survives.
                    serialization_format="pickle",
                )
                self._client.log_model_artifacts(logged.model_id, str(local))
        except BaseException:
            with contextlib.suppress(Exception):
                self._client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
            raise
        return self._client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)

    def _ensure_registered_model(self, name: str) -> None:
        try:
            self._client.create_registered_model(name)
        except MlflowException as error:
            if error.error_code not in _ALREADY_EXISTS_CODES:
                raise

    def _await_ready(self, version: MlflowModelVersion) -> MlflowModelVersion:
        deadline = time.monotonic() + _REGISTRATION_WAIT_S
        while version.status == "PENDING_REGISTRATION" and time.monotonic() < deadline:
            time.sleep(0.5)
            version = self._client.get_model_version(version.name, version.version)
        if version.status != "READY":
            raise FailedPrecondition(
                f"model version '{version.name}' {version.version} is {version.status}: {version.status_message}",
                reason="MODEL_REGISTRATION_FAILED",
                details={"model": version.name, "version": str(version.version)},
            )
        return version

    def _production(self, name: str) -> MlflowModelVersion | None:
        try:
            return self._client.get_model_version_by_alias(name, PRODUCTION_ALIAS)
        except MlflowException as error:
            # MLflow answers a missing alias with INVALID_PARAMETER_VALUE (older versions: RESOURCE_DOES_NOT_EXIST).
            if error.error_code in _NOT_FOUND_CODES or error.error_code == "INVALID_PARAMETER_VALUE":
                return None
            raise

    def _model_version(
        self, found: MlflowModelVersion, runs: dict[str, Run | None], *, production: bool
    ) -> ModelVersion:
        run_id = found.run_id or ""
        if run_id and run_id not in runs:
            try:
                runs[run_id] = self._client.get_run(run_id)
            except MlflowException as error:
                if error.error_code not in _NOT_FOUND_CODES:
                    raise
                runs[run_id] = None  # the run was deleted: the version stays
        run = runs.get(run_id)
        tags = dict(found.tags)
        marked = tags.pop(STATUS_TAG, "candidate")
        status: VersionStatus = "production" if production else "archived" if marked == "archived" else "candidate"
        return ModelVersion(
            name=found.name,
            version=int(found.version),
            run_id=run_id,
            status=status,
            tags=tags,
            metrics=dict(run.data.metrics) if run is not None else {},
            params=dict(run.data.params) if run is not None else {},
            created_at=datetime.fromtimestamp(found.creation_timestamp / 1000, UTC),
            description=found.description or "",
            source=found.source or "",
        )

    @contextlib.contextmanager
    def _errors(self, not_found: NotFound | None = None) -> Iterator[None]:
        """Turns MLflow's errors into the platform's: unreachable -> Unavailable, missing -> ``not_found``."""
        try:
            yield
        except DomainError:
            raise
        except (MlflowException, requests.RequestException) as error:
            if _unreachable(error):
                raise Unavailable(
                    f"MLflow at {self.tracking_uri} is unavailable: {_first_line(error)}",
                    reason="MLFLOW_UNAVAILABLE",
                    details={"tracking_uri": self.tracking_uri},
                ) from error
            code = error.error_code if isinstance(error, MlflowException) else ""
            if code in _NOT_FOUND_CODES and not_found is not None:
                raise not_found from error
            if code == "INVALID_PARAMETER_VALUE":
                raise InvalidArgument(_first_line(error), reason="MLFLOW_INVALID_ARGUMENT") from error
            raise


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a failed connection, a timeout or exhausted retries."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, requests.ConnectionError | requests.Timeout | requests.exceptions.RetryError):
            return True
        if isinstance(current, MlflowException) and current.error_code == "TEMPORARILY_UNAVAILABLE":
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _first_line(error: BaseException) -> str:
    message = error.message if isinstance(error, MlflowException) else str(error)
    return str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__


def _run_not_found(run_id: str) -> NotFound:
    return NotFound(f"MLflow run '{run_id}' not found", reason="RUN_NOT_FOUND", details={"run_id": run_id})


def _version_not_found(name: str, version: int) -> NotFound:
    return NotFound(
        f"model version '{name}' {version} not found",
        reason="MODEL_VERSION_NOT_FOUND",
        details={"model": name, "version": str(version)},
    )


def _check_model_name(name: str) -> None:
    if not _MODEL_NAME.fullmatch(name):
        raise InvalidArgument(
            f"model name '{name}' must start with a letter or digit and hold only letters, digits, "
            "spaces, '.', '_' and '-' (at most 256 characters)",
            reason="INVALID_MODEL_NAME",
            details={"model": name},
        )


def _check_filter_value(value: str, what: str) -> None:
    if "'" in value or "\\" in value:
        raise InvalidArgument(f"{what} '{value}' must not hold quotes or backslashes", reason="INVALID_RUN_ID")


def _check_artifact_path(path: str) -> PurePosixPath:
    target = PurePosixPath(path)
    if not path or target.is_absolute() or ".." in target.parts or not target.name:
        raise InvalidArgument(
            f"artifact path '{path}' must be relative and stay within the run",
            reason="INVALID_ARTIFACT_PATH",
            details={"path": path},
        )
    return target


def _chunks(entries: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(entries), size):
        yield list(entries[start : start + size])


def _requirements(model: torch.nn.Module) -> list[str]:
    """Pinned pip requirements to load the pickled model: torch, cloudpickle and the packages of its layers.

    Listing them spares MLflow's inference of requirements, which loads the model again in a subprocess.
    """
    roots = {"torch", "cloudpickle"} | {type(module).__module__.partition(".")[0] for module in model.modules()}
    distributions = importlib.metadata.packages_distributions()
    pinned: set[str] = set()
    for root in roots:
        for distribution in distributions.get(root, []):
            pinned.add(f"{distribution}=={importlib.metadata.version(distribution)}")
    return sorted(pinned)
