"""The training servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from radscholar_core.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from radscholar_core.identity import current_identity
from radscholar_core.job_proto import job_to_proto, log_line_to_proto, owned_by_caller, visible_jobs, watch_job
from radscholar_core.jobs import Job, JobEvents, JobStore
from radscholar_core.ray_jobs import RayJobs
from radscholar_proto.common.v1 import job_pb2
from radscholar_proto.training.v1 import training_pb2 as pb
from radscholar_proto.training.v1 import training_pb2_grpc
from radscholar_training.adapters.custom import CustomModels, UploadedWeights
from radscholar_training.adapters.datasets import DatasetSource
from radscholar_training.adapters.exports import ModelExports
from radscholar_training.adapters.inference import Predictor
from radscholar_training.adapters.tracking import ModelVersion, Tracking
from radscholar_training.domain import settings as run_settings
from radscholar_training.domain.networks import CustomFormat, check_network
from radscholar_training.domain.plan import (
    MAX_BATCH_SERIES,
    SPLITS,
    BatchPrediction,
    Evaluation,
    Plan,
    cache_prefix,
    check_dataset,
    evaluation_prefix,
    labeled_cases,
    split_key,
    tested_cases,
)
from radscholar_training.domain.preprocess import INSTANCE_SEGMENTATION
from radscholar_training.domain.zoo import Architecture, Task, architectures
from radscholar_training.jobs import EvaluationJobs, InferenceJobs, TrainingJobs

log = logging.getLogger(__name__)
TASKS = {
    pb.TASK_CLASSIFICATION: Task.CLASSIFICATION,
    pb.TASK_SEGMENTATION: Task.SEGMENTATION,
    pb.TASK_DETECTION: Task.DETECTION,
}
TASK_PROTO = {task: value for value, task in TASKS.items()}
STATUS = {
    "candidate": pb.MODEL_STATUS_CANDIDATE,
    "production": pb.MODEL_STATUS_PRODUCTION,
    "archived": pb.MODEL_STATUS_ARCHIVED,
}
EXPORT_FORMATS = {
    pb.EXPORT_FORMAT_TORCHSCRIPT: "torchscript",
    pb.EXPORT_FORMAT_ONNX: "onnx",
    pb.EXPORT_FORMAT_MLFLOW: "mlflow",
}
CUSTOM_FORMATS: dict[int, CustomFormat] = {
    pb.CUSTOM_MODEL_FORMAT_TORCHSCRIPT: "torchscript",
    pb.CUSTOM_MODEL_FORMAT_MONAI_BUNDLE: "monai_bundle",
}
_MODEL_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _architecture_to_proto(a: Architecture) -> pb.Architecture:
    return pb.Architecture(
        id=a.id,
        display_name=a.display_name,
        task=TASK_PROTO[a.task],
        spatial_dims=a.spatial_dims,
        library=a.library,
        description=a.description,
    )


def _version_to_proto(version: ModelVersion) -> pb.ModelVersion:
    created = Timestamp()
    created.FromDatetime(version.created_at)
    return pb.ModelVersion(
        name=version.name,
        version=version.version,
        status=STATUS[version.status],
        mlflow_run_id=version.run_id,
        metrics=version.metrics,
        params=version.params,
        tags=version.tags,
        created_at=created,
    )


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError as error:
        raise InvalidArgument(f"{what} are not JSON: {error}", reason="INVALID_SETTING") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object", reason="INVALID_SETTING")
    return value


def _task(value: int, spatial_dims: int) -> tuple[str, int]:
    """The task's name and the dimensionality of a request, checked."""
    task = TASKS.get(value)  # type: ignore[call-overload]
    if task is None:
        raise InvalidArgument(
            "task must be TASK_CLASSIFICATION, TASK_SEGMENTATION or TASK_DETECTION", reason="INVALID_TASK"
        )
    if spatial_dims not in (2, 3):
        raise InvalidArgument(f"spatial_dims must be 2 or 3, got {spatial_dims}", reason="INVALID_SPATIAL_DIMS")
    return task.value, spatial_dims


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(
        self,
        jobs: TrainingJobs,
        store: JobStore,
        events: JobEvents,
        ray: RayJobs,
        datasets: DatasetSource,
        tracking: Tracking,
        custom: CustomModels,
        exports: ModelExports,
        weights: UploadedWeights,
        evaluations: EvaluationJobs,
        predictor: Predictor,
        inference: InferenceJobs,
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._events = events
        self._ray = ray
        self._datasets = datasets
        self._tracking = tracking
        self._custom = custom
        self._exports = exports
        self._weights = weights
        self._evaluations = evaluations
        self._predictor = predictor
        self._inference = inference

    async def ListArchitectures(
        self, request: pb.ListArchitecturesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListArchitecturesResponse:
        if request.spatial_dims not in (0, 2, 3):
            raise InvalidArgument(
                f"spatial_dims must be 0 (any), 2 or 3, got {request.spatial_dims}",
                reason="INVALID_SPATIAL_DIMS",
            )
        if request.task not in (pb.TASK_UNSPECIFIED, *TASKS):
            raise InvalidArgument(f"unknown task {request.task}", reason="INVALID_TASK")
        task, dims = TASKS.get(request.task), request.spatial_dims or None  # type: ignore[call-overload]
        custom = await asyncio.to_thread(self._custom.list)
        found = [
            *architectures(task, dims),
            *(a for a in custom if task in (None, a.task) and dims in (None, *a.spatial_dims)),
        ]
        return pb.ListArchitecturesResponse(architectures=[_architecture_to_proto(a) for a in found])

    async def GetDefaultSettings(
        self, request: pb.GetDefaultSettingsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDefaultSettingsResponse:
        task, dims = _task(request.task, request.spatial_dims)
        settings = run_settings.parse_settings(task, dims, {})
        return pb.GetDefaultSettingsResponse(settings_json=json.dumps(settings.canonical()).encode())

    async def StartTraining(
        self, request: pb.StartTrainingRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartTrainingResponse:
        caller = current_identity()
        task, dims = _task(request.task, request.spatial_dims)
        settings = run_settings.parse_settings(task, dims, _json_object(request.settings_json, "settings"))
        custom: dict[str, str] = {}
        if settings.architecture.startswith("custom-"):
            custom = await asyncio.to_thread(self._custom.check, settings.architecture, task, dims)
        else:
            check_network(settings.architecture, task, dims, settings.preprocessing.shape)
        if settings.pretrained.model_version:
            await self._pretrained_exists(settings.pretrained.model_version)
        if settings.pretrained.weights_key:
            await asyncio.to_thread(self._weights.check, settings.pretrained.weights_key)
        version = await self._datasets.version(request.dataset_id)
        cases = check_dataset(task, dims, settings.preprocessing.crop, version.labels, version.cases)
        if settings.architecture in INSTANCE_SEGMENTATION and version.labels.task_type != "segmentation":
            raise InvalidArgument(
                f"{settings.architecture} learns lesion outlines: it trains on a lesion segmentation dataset version",
                reason="NEEDS_LESION_MASKS",
                details={"setting": "architecture"},
            )
        counts = {split: sum(case.split == split for case in cases) for split in SPLITS}
        answer = pb.StartTrainingResponse(settings_json=json.dumps(settings.canonical()).encode(), cases=counts)
        if request.validate_only:
            return answer
        cache = cache_prefix(version.dataset_hash, settings.preprocessing_key(), version.labels.class_names)
        cached = await asyncio.to_thread(self._jobs.cached, [split_key(cache, s) for s in SPLITS if counts[s]])
        if not cached:
            cases = await self._datasets.with_volumes(cases)
        job_id = request.job_id or uuid.uuid4().hex
        name = request.model_name or _MODEL_NAME.sub("-", f"{version.project_name}-{settings.architecture}").strip("-")
        plan = Plan(
            job_id=job_id,
            run_id=job_id,
            task=task,
            spatial_dims=dims,
            settings=settings.canonical(),
            model_name=name,
            experiment=f"radscholar/{version.project_name}",
            dataset={
                "dataset_id": version.dataset_id,
                "dataset_hash": version.dataset_hash,
                "project_id": version.project_id,
            },
            class_names=version.labels.class_names,
            cases=tuple(cases),
            cache_key=cache,
            created_by=caller.username,
            custom=custom,
        )
        parameters = {
            "dataset_id": version.dataset_id,
            "task": task,
            "spatial_dims": dims,
            "architecture": settings.architecture,
            "model_name": name,
        }
        job = await asyncio.to_thread(self._jobs.start, plan, parameters)
        answer.job.CopyFrom(job_to_proto(owned_by_caller(job)))
        return answer

    async def _pretrained_exists(self, reference: str) -> None:
        name, _, number = reference.rpartition("/")
        try:
            await asyncio.to_thread(self._tracking.version, name, int(number))
        except (NotFound, ValueError):
            raise InvalidArgument(
                f"setting pretrained.model_version: no registered model version {reference!r}",
                reason="INVALID_SETTING",
                details={"setting": "pretrained.model_version"},
            ) from None

    async def ResumeTraining(
        self, request: pb.ResumeTrainingRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResumeTrainingResponse:
        caller = current_identity()
        plan = await asyncio.to_thread(self._jobs.plan_of, request.run_id)
        if not (caller.is_admin or plan.created_by == caller.username):
            raise NotFound(f"training run {request.run_id!r} not found", reason="RUN_NOT_FOUND")
        job = await asyncio.to_thread(self._jobs.resume, request.run_id, caller.username)
        return pb.ResumeTrainingResponse(job=job_to_proto(job))

    async def _job(self, job_id: str) -> Job:
        return owned_by_caller(await asyncio.to_thread(self._store.get, job_id))

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.GetJobResponse:
        job = await self._job(request.job_id)
        return pb.GetJobResponse(job=job_to_proto(job), log_lines=[log_line_to_proto(line) for line in job.logs])

    async def ListJobs(self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext) -> pb.ListJobsResponse:
        page = await asyncio.to_thread(  # runs, tests and batch predictions: every job of this service
            self._store.list, page_size=request.page_size, page_token=request.page_token
        )
        return pb.ListJobsResponse(jobs=visible_jobs(page.jobs, owned_by_caller), next_page_token=page.next_page_token)

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[job_pb2.JobEvent]:
        async for event in watch_job(self._store, self._events, request.job_id, owned_by_caller):
            yield event

    async def CancelJob(self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext) -> pb.CancelJobResponse:
        await self._job(request.job_id)
        job = await asyncio.to_thread(self._jobs.cancel, request.job_id)
        run_id = job.parameters.get("run_id")
        if run_id:  # MLflow shows the run as killed until it is resumed, not as running for ever
            try:
                mlflow_run = await asyncio.to_thread(self._tracking.find_run, str(run_id))
                if mlflow_run:
                    await asyncio.to_thread(self._tracking.end_run, mlflow_run, "KILLED")
            except Unavailable as error:  # the job is cancelled all the same
                log.warning("run %s cancelled, but MLflow was not told: %s", run_id, error)
        return pb.CancelJobResponse(job=job_to_proto(job))

    async def GetJobLogs(
        self, request: pb.GetJobLogsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobLogsResponse:
        await self._job(request.job_id)
        return pb.GetJobLogsResponse(text=await asyncio.to_thread(self._ray.logs, request.job_id))

    async def GetRunMetrics(
        self, request: pb.GetRunMetricsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRunMetricsResponse:
        await self._job(request.run_id)
        mlflow_run = await asyncio.to_thread(self._tracking.find_run, request.run_id)
        if mlflow_run is None:
            return pb.GetRunMetricsResponse()
        history = await asyncio.to_thread(self._tracking.metric_history, mlflow_run)
        curves = [
            pb.MetricCurve(name=name, points=[pb.MetricPoint(epoch=step, value=value) for step, value in points])
            for name, points in sorted(history.items())
        ]
        return pb.GetRunMetricsResponse(curves=curves, mlflow_run_id=mlflow_run)

    async def ListModelVersions(
        self, request: pb.ListModelVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelVersionsResponse:
        versions = await asyncio.to_thread(self._tracking.versions, request.name or None)
        return pb.ListModelVersionsResponse(versions=[_version_to_proto(v) for v in versions])

    async def GetModelVersion(
        self, request: pb.GetModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelVersionResponse:
        version = await asyncio.to_thread(self._tracking.version, request.name, request.version)
        return pb.GetModelVersionResponse(version=_version_to_proto(version))

    async def CompareModelVersions(
        self, request: pb.CompareModelVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompareModelVersionsResponse:
        if len(request.versions) < 2:
            raise InvalidArgument("compare two or more model versions", reason="TOO_FEW_VERSIONS")
        refs = [(ref.name, ref.version) for ref in request.versions]
        versions = [await asyncio.to_thread(self._tracking.version, name, number) for name, number in refs]
        keys = set().union(*(v.params for v in versions))
        differing = sorted(k for k in keys if len({v.params.get(k) for v in versions}) > 1)
        common = sorted(set.intersection(*(set(v.metrics) for v in versions)))
        return pb.CompareModelVersionsResponse(
            versions=[_version_to_proto(v) for v in versions], differing_params=differing, common_metrics=common
        )

    async def SetModelVersionStatus(
        self, request: pb.SetModelVersionStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetModelVersionStatusResponse:
        version = await asyncio.to_thread(self._tracking.version, request.name, request.version)
        caller = current_identity()
        if not (caller.is_admin or version.tags.get("created_by") == caller.username):
            raise PermissionDenied(
                "only an admin or the researcher who trained it changes a model version's status",
                reason="NOT_MODEL_OWNER",
            )
        if request.status == pb.MODEL_STATUS_PRODUCTION:
            await asyncio.to_thread(self._tracking.promote, request.name, request.version)
        elif request.status == pb.MODEL_STATUS_ARCHIVED:
            await asyncio.to_thread(self._tracking.archive, request.name, request.version)
        else:
            raise InvalidArgument(
                "status must be MODEL_STATUS_PRODUCTION or MODEL_STATUS_ARCHIVED", reason="INVALID_MODEL_STATUS"
            )
        changed = await asyncio.to_thread(self._tracking.version, request.name, request.version)
        return pb.SetModelVersionStatusResponse(version=_version_to_proto(changed))

    async def ExportModelVersion(
        self, request: pb.ExportModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportModelVersionResponse:
        form = EXPORT_FORMATS.get(request.format)  # type: ignore[call-overload]
        if form is None:
            raise InvalidArgument("format must be TORCHSCRIPT, ONNX or MLFLOW", reason="INVALID_EXPORT_FORMAT")
        exported = await asyncio.to_thread(self._exports.export, request.name, request.version, form)
        return pb.ExportModelVersionResponse(
            object_key=exported.object_key, file_name=exported.file_name, size_bytes=exported.size_bytes
        )

    async def ImportCustomModel(
        self, request: pb.ImportCustomModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportCustomModelResponse:
        form = CUSTOM_FORMATS.get(request.format)  # type: ignore[call-overload]
        if form is None:
            raise InvalidArgument("format must be TORCHSCRIPT or MONAI_BUNDLE", reason="INVALID_CUSTOM_MODEL")
        task, dims = _task(request.task, request.spatial_dims)
        if request.in_channels < 1 or len(request.patch_size) != dims or min(request.patch_size, default=0) < 1:
            raise InvalidArgument(
                f"in_channels must be at least 1 and patch_size must have {dims} positive sizes",
                reason="INVALID_CUSTOM_MODEL",
            )
        imported = await asyncio.to_thread(
            self._custom.add,
            request.object_key,
            form,
            request.display_name or "Custom model",
            task,
            dims,
            request.in_channels,
            tuple(request.patch_size),
            current_identity().username,
        )
        return pb.ImportCustomModelResponse(
            architecture=_architecture_to_proto(imported.architecture),
            parameters=imported.parameters,
            output_shape=imported.output_shape,
        )

    async def ImportWeights(
        self, request: pb.ImportWeightsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ImportWeightsResponse:
        key, tensors = await asyncio.to_thread(self._weights.add, request.object_key)
        return pb.ImportWeightsResponse(weights_key=key, tensors=tensors)

    async def TestModelVersion(
        self, request: pb.TestModelVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.TestModelVersionResponse:
        caller = current_identity()
        version = await asyncio.to_thread(self._tracking.version, request.name, request.version)
        run = await asyncio.to_thread(self._jobs.plan_of, version.tags.get("run_id", ""))
        settings = run_settings.parse_settings(run.task, run.spatial_dims, run.settings)
        dataset = await self._datasets.version(request.dataset_id)
        cases = labeled_cases(run.task, run.spatial_dims, settings.preprocessing.crop, dataset.labels, dataset.cases)
        split = request.split or "test"
        cases = tested_cases(
            split,
            dataset.labels.class_names,
            run.class_names,
            cases,
            list(request.sites),
            list(request.series_instance_uids),
        )
        cache = cache_prefix(dataset.dataset_hash, settings.preprocessing_key(), dataset.labels.class_names)
        splits = sorted({case.split for case in cases})
        if not await asyncio.to_thread(self._jobs.cached, [split_key(cache, s) for s in splits]):
            cases = await self._datasets.with_volumes(cases)
        evaluation_id = request.job_id or uuid.uuid4().hex
        plan = replace(
            run,
            job_id=evaluation_id,
            dataset={
                "dataset_id": dataset.dataset_id,
                "dataset_hash": dataset.dataset_hash,
                "project_id": dataset.project_id,
            },
            cases=tuple(cases),
            cache_key=cache,
            created_by=caller.username,
        )
        threshold = request.threshold if request.HasField("threshold") else None
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise InvalidArgument(f"threshold must be within (0, 1), got {threshold}", reason="INVALID_THRESHOLD")
        evaluation = Evaluation(plan, version.name, version.version, split, threshold)
        parameters = {
            "model": f"{version.name}/{version.version}",
            "dataset_id": dataset.dataset_id,
            "split": split,
            "sites": ",".join(request.sites),
        }
        job = await asyncio.to_thread(self._evaluations.start, evaluation, parameters)
        return pb.TestModelVersionResponse(job=job_to_proto(owned_by_caller(job)), cases=len(cases))

    async def GetEvaluation(
        self, request: pb.GetEvaluationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEvaluationResponse:
        await self._job(request.evaluation_id)
        document, job = await asyncio.to_thread(self._evaluations.report, request.evaluation_id)
        result = job.result
        return pb.GetEvaluationResponse(
            report_json=document,
            plots=[name for name in result.get("plots", "").split(",") if name],
            predictions_object_key=f"{evaluation_prefix(request.evaluation_id)}/predictions.csv",
            model=pb.ModelVersionRef(name=result["model_name"], version=int(result["model_version"])),
            dataset_id=result["dataset_id"],
            split=result["split"],
        )

    async def PredictSeries(
        self, request: pb.PredictSeriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictSeriesResponse:
        if not request.series_instance_uid:
            raise InvalidArgument("name the series to predict on", reason="MISSING_SERIES")
        await asyncio.to_thread(self._tracking.version, request.name, request.version)  # NOT_FOUND before any export
        volume = await self._datasets.series_volume(request.series_instance_uid)
        headers = await self._datasets.series_headers(request.series_instance_uid) if request.dicom else None
        found = await asyncio.to_thread(self._predictor.predict, request.name, request.version, volume, headers)
        return pb.PredictSeriesResponse(
            probabilities=found.probabilities,
            predicted_class=found.predicted_class,
            volumes=found.volumes,
            overlay_object_key=found.overlay_key,
            dicom_object_key=found.dicom_key,
            seconds=found.seconds,
            detections=[
                pb.Detection(class_name=d.class_name, score=d.score, min=d.min, max=d.max) for d in found.detections
            ],
        )

    async def StartBatchPrediction(
        self, request: pb.StartBatchPredictionRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartBatchPredictionResponse:
        caller = current_identity()
        uids = list(dict.fromkeys(request.series_instance_uids))
        if not uids or len(uids) > MAX_BATCH_SERIES:
            raise InvalidArgument(f"name 1 to {MAX_BATCH_SERIES} series", reason="INVALID_SERIES_LIST")
        version = await asyncio.to_thread(self._tracking.version, request.name, request.version)
        run = await asyncio.to_thread(self._jobs.plan_of, version.tags.get("run_id", ""))
        if run.settings["preprocessing"]["crop"] == "lesion":
            raise InvalidArgument(
                f"{version.name} version {version.version} classifies lesions: it needs their masks, not whole series",
                reason="NEEDS_LESION_MASKS",
            )
        series = await self._datasets.series_to_predict(uids)
        job_id = request.job_id or uuid.uuid4().hex
        batch = BatchPrediction(job_id, version.name, version.version, tuple(series), caller.username)
        parameters = {"model": f"{version.name}/{version.version}", "series": len(series)}
        job = await asyncio.to_thread(self._inference.start, batch, parameters)
        return pb.StartBatchPredictionResponse(job=job_to_proto(owned_by_caller(job)))
