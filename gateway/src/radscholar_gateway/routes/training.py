"""Training: the model zoo, default settings, training runs as jobs on Ray (their logs, curves and predictions), the
registered models (compare, promote, archive, export) and custom networks to train."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request, Response, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from radscholar_core.errors import FailedPrecondition, InvalidArgument, NotFound
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import Labeling, Training
from radscholar_gateway.jobs import (
    EVENT_STREAM,
    JOB_ID,
    WATCH_SECONDS,
    CancelledJob,
    Job,
    JobDetail,
    JobList,
    job_detail,
    job_events,
    job_of,
)
from radscholar_gateway.routes.dicom import object_response
from radscholar_gateway.staging import staged
from radscholar_proto.labeling.v1 import labeling_pb2
from radscholar_proto.training.v1 import training_pb2 as pb

training_router = APIRouter(prefix="/api/v1/training", tags=["training"])
models_router = APIRouter(prefix="/api/v1/models", tags=["models"])

Task = Literal["CLASSIFICATION", "SEGMENTATION", "DETECTION"]
ModelStatus = Literal["CANDIDATE", "PRODUCTION", "ARCHIVED"]
ExportFormat = Literal["torchscript", "onnx", "mlflow"]
CustomFormat = Literal["torchscript", "monai_bundle"]
EXPORT_FILES = {
    "torchscript": "application/octet-stream",
    "onnx": "application/octet-stream",
    "mlflow": "application/zip",
}
SETTINGS_EXAMPLE = {"architecture": "resnet18", "epochs": 20, "optimizer": {"learning_rate": 0.0003}}


class Architecture(BaseModel):
    id: str
    display_name: str
    task: Task
    spatial_dims: list[int]
    library: str
    description: str


class ArchitectureList(BaseModel):
    architectures: list[Architecture]


def _architecture(message: pb.Architecture) -> Architecture:
    return to_model(Architecture, message, task=pb.Task.Name(message.task).removeprefix("TASK_"))


def _task(task: Task) -> str:
    """The proto enumeration's name of a REST task (messages take enumeration names)."""
    return f"TASK_{task}"


@training_router.get("/architectures", summary="Networks of the model zoo (and the custom networks imported)")
async def list_architectures(
    training: Training,
    task: Task | None = None,
    spatial_dims: Annotated[int | None, Query(description="2 or 3")] = None,
) -> ArchitectureList:
    answer = await training.ListArchitectures(
        pb.ListArchitecturesRequest(task=f"TASK_{task or 'UNSPECIFIED'}", spatial_dims=spatial_dims or 0)
    )
    return ArchitectureList(architectures=[_architecture(a) for a in answer.architectures])


class DefaultSettings(BaseModel):
    task: Task
    spatial_dims: int
    settings: dict[str, Any] = Field(description="every setting with its default: what a form starts from")


@training_router.get("/defaults", summary="The default settings of a task and dimensionality")
async def default_settings(
    training: Training,
    task: Annotated[Task, Query(description="CLASSIFICATION or SEGMENTATION")],
    spatial_dims: Annotated[int, Query(description="2 or 3")],
) -> DefaultSettings:
    answer = await training.GetDefaultSettings(
        pb.GetDefaultSettingsRequest(task=_task(task), spatial_dims=spatial_dims)
    )
    return DefaultSettings(task=task, spatial_dims=spatial_dims, settings=json.loads(answer.settings_json))


# --- training runs as jobs --------------------------------------------------------------------------


class NewTrainingJob(BaseModel):
    dataset_id: str = Field(min_length=1, description="a frozen dataset version: train on its train split")
    task: Task = Field(description="CLASSIFICATION, SEGMENTATION or DETECTION")
    spatial_dims: int = Field(description="2 or 3")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        examples=[SETTINGS_EXAMPLE],
        description="changes to the task's defaults (see /defaults), nested as they are; names the architecture",
    )
    model_name: str = Field("", max_length=256, description='registered model name (default "<project>-<arch>")')
    job_id: str = Field(
        "", pattern=JOB_ID, description="an id of your choosing, so that a retried request never starts a second run"
    )
    validate_only: bool = Field(False, description="only check the settings and the dataset version")


class StartedTraining(BaseModel):
    job: Job | None = Field(description="queued on Ray; null when only validating. Its id is also the run's id")
    settings: dict[str, Any] = Field(description="the settings in full, as the run uses them")
    cases: dict[str, int] = Field(description='cases per split: "train", "validation", "test"')


class ResumedRun(BaseModel):
    job: Job = Field(description="the new job, continuing the run from its last checkpoint")


@training_router.post(
    "/jobs",
    status_code=201,
    summary="Start a training run on a dataset version as a job on Ray (or, validate_only, check it: 200); "
    "follow it at /jobs/{job_id}/events",
    responses={200: {"description": "validate_only: the settings and cases, no job", "model": StartedTraining}},
)
async def start_training(
    body: NewTrainingJob, request: Request, response: Response, training: Training
) -> StartedTraining:
    answer = await training.StartTraining(
        pb.StartTrainingRequest(
            dataset_id=body.dataset_id,
            task=_task(body.task),
            spatial_dims=body.spatial_dims,
            settings_json=json.dumps(body.settings).encode(),
            model_name=body.model_name,
            job_id=body.job_id,
            validate_only=body.validate_only,
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,  # a first run exports the dataset's volumes
    )
    settings = json.loads(answer.settings_json)
    request.state.audit_details = {"dataset": body.dataset_id, "architecture": str(settings.get("architecture", ""))}
    if body.validate_only:
        response.status_code = 200
        request.state.audit_details["validate_only"] = "true"
    else:
        request.state.audit_resource = f"training_job:{answer.job.id}"
    return StartedTraining(
        job=job_of(answer.job) if answer.HasField("job") else None, settings=settings, cases=dict(answer.cases)
    )


@training_router.get("/jobs", summary="Your training jobs (every job for an admin), newest first")
async def list_jobs(
    training: Training,
    page_size: Annotated[int, Query(ge=0, le=1000, description="default 50")] = 0,
    page_token: str = "",
) -> JobList:
    answer = await training.ListJobs(pb.ListJobsRequest(page_size=page_size, page_token=page_token))
    return JobList(jobs=[job_of(job) for job in answer.jobs], next_page_token=answer.next_page_token)


@training_router.get("/jobs/{job_id}", summary="One training job: state, progress (epochs), result, and its newest log")
async def get_job(job_id: str, training: Training) -> JobDetail:
    answer = await training.GetJob(pb.GetJobRequest(job_id=job_id))
    return job_detail(answer.job, answer.log_lines)


@training_router.get(
    "/jobs/{job_id}/events",
    summary="Follow a training job as Server-Sent Events: its snapshot, then one JobEvent per change, until it ends",
    response_class=StreamingResponse,
    responses=EVENT_STREAM,
)
async def watch_job(job_id: str, request: Request, training: Training) -> StreamingResponse:
    return await job_events(request, training.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=WATCH_SECONDS))


@training_router.post(
    "/jobs/{job_id}/cancel", summary="Stop a queued or running training job; its run resumes from its last checkpoint"
)
async def cancel_job(job_id: str, training: Training) -> CancelledJob:
    answer = await training.CancelJob(pb.CancelJobRequest(job_id=job_id))
    return CancelledJob(job=job_of(answer.job))


@training_router.get(
    "/jobs/{job_id}/logs",
    summary="The whole log of a training job as Ray kept it (driver and workers), as text",
    response_class=PlainTextResponse,
)
async def job_logs(job_id: str, training: Training) -> PlainTextResponse:
    answer = await training.GetJobLogs(pb.GetJobLogsRequest(job_id=job_id))
    return PlainTextResponse(answer.text)


@training_router.post(
    "/runs/{run_id}/resume",
    status_code=201,
    summary="Continue a cancelled or failed run from its last checkpoint, as a new job",
)
async def resume_run(run_id: str, request: Request, training: Training) -> ResumedRun:
    answer = await training.ResumeTraining(pb.ResumeTrainingRequest(run_id=run_id))
    request.state.audit_details = {"job": answer.job.id}
    return ResumedRun(job=job_of(answer.job))


class MetricPoint(BaseModel):
    epoch: int = Field(description="1-based")
    value: float


class MetricCurve(BaseModel):
    name: str = Field(examples=["val_auc"])
    points: list[MetricPoint]


class RunMetrics(BaseModel):
    run_id: str
    mlflow_run_id: str = Field(description="empty until the run has logged to MLflow")
    curves: list[MetricCurve] = Field(description="loss, validation metrics, learning rate, throughput; by name")


@training_router.get("/runs/{run_id}/metrics", summary="A run's per-epoch curves, live while it trains")
async def run_metrics(run_id: str, training: Training) -> RunMetrics:
    answer = await training.GetRunMetrics(pb.GetRunMetricsRequest(run_id=run_id))
    return to_model(RunMetrics, answer, run_id=run_id)


@training_router.get(
    "/runs/{run_id}/predictions.csv",
    summary="Download a finished run's predictions on the validation and test splits, one row per sample",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def run_predictions(run_id: str, request: Request, training: Training) -> StreamingResponse:
    key = await predictions_key(run_id, request, training)
    return object_response(request, key, "text/csv", f"predictions-{run_id}.csv")


async def predictions_key(run_id: str, request: Request, training: Training) -> str:
    """Where a finished run's predictions table is, once the caller may see the run."""
    await training.GetJob(pb.GetJobRequest(job_id=run_id))  # the run's first job: NOT_FOUND unless the caller's
    key = f"training/runs/{run_id}/predictions.csv"
    objects: ObjectStore = request.app.state.objects
    if not await asyncio.to_thread(objects.exists, key):
        raise NotFound(f"run {run_id!r} has no predictions (yet)", reason="NO_PREDICTIONS", details={"run_id": run_id})
    return key


class ImportedModel(BaseModel):
    architecture: Architecture = Field(description='train it by naming its id ("custom-...") as the architecture')
    parameters: int
    output_shape: list[int] = Field(description="its output for one input of the patch size given")


@training_router.post(
    "/custom-models",
    status_code=201,
    summary="Import a TorchScript file or a MONAI bundle (zip, with weights) as a network to train or fine-tune",
)
async def import_custom_model(
    request: Request,
    training: Training,
    file: UploadFile,
    format: Annotated[CustomFormat, Form(description="torchscript or monai_bundle")],
    task: Annotated[Task, Form(description="CLASSIFICATION or SEGMENTATION")],
    spatial_dims: Annotated[int, Form(description="2 or 3")],
    in_channels: Annotated[int, Form(ge=1, le=1024)],
    patch_size: Annotated[str, Form(description="an input size it accepts, checked by a forward pass: 32,32,32")],
    display_name: Annotated[str, Form(max_length=200, description="default: the file's name")] = "",
) -> ImportedModel:
    try:
        patch = [int(side) for side in patch_size.replace("x", ",").split(",")]
    except ValueError:
        raise InvalidArgument(
            f"patch_size must be sizes separated by commas, such as 32,32,32; got {patch_size!r}",
            reason="INVALID_CUSTOM_MODEL",
        ) from None
    async with staged(request, [file.file], "staging/training") as (key,):
        answer = await training.ImportCustomModel(
            pb.ImportCustomModelRequest(
                object_key=key,
                format=f"CUSTOM_MODEL_FORMAT_{format.upper()}",
                display_name=display_name or file.filename or "Custom model",
                task=_task(task),
                spatial_dims=spatial_dims,
                in_channels=in_channels,
                patch_size=patch,
            ),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    request.state.audit_resource = f"architecture:{answer.architecture.id}"
    return ImportedModel(
        architecture=_architecture(answer.architecture),
        parameters=answer.parameters,
        output_shape=list(answer.output_shape),
    )


class ImportedWeights(BaseModel):
    weights_key: str = Field(description='what a run\'s "pretrained.weights_key" setting names')
    tensors: int


@training_router.post(
    "/weights", status_code=201, summary="Upload weights (a PyTorch state dict) for runs to start from"
)
async def import_weights(request: Request, training: Training, file: UploadFile) -> ImportedWeights:
    async with staged(request, [file.file], "staging/training") as (key,):
        answer = await training.ImportWeights(
            pb.ImportWeightsRequest(object_key=key), timeout=request.app.state.settings.upload_timeout_seconds
        )
    request.state.audit_resource = f"weights:{answer.weights_key}"
    return ImportedWeights(weights_key=answer.weights_key, tensors=answer.tensors)


# --- registered models ------------------------------------------------------------------------------


class ModelVersion(BaseModel):
    name: str
    version: int
    status: ModelStatus
    mlflow_run_id: str
    metrics: dict[str, float] = Field(description="the best epoch's metrics, and the test split's (\"test_*\")")
    params: dict[str, str] = Field(description='the run\'s settings, flattened ("optimizer.learning_rate")')
    tags: dict[str, str] = Field(description="dataset_id, dataset_hash, architecture, task, spatial_dims, run_id...")
    created_at: str | None = None


class ModelVersionList(BaseModel):
    versions: list[ModelVersion] = Field(description="newest first")


class ModelRef(BaseModel):
    name: str = Field(min_length=1)
    version: int = Field(ge=1)


class Comparison(BaseModel):
    versions: list[ModelRef] = Field(max_length=50, description="two or more model versions")


class ComparedVersions(BaseModel):
    versions: list[ModelVersion] = Field(description="in the order asked")
    differing_params: list[str] = Field(description="settings whose values differ between them")
    common_metrics: list[str] = Field(description="metrics every one of them has")


def _version(message: pb.ModelVersion) -> ModelVersion:
    return to_model(ModelVersion, message, status=pb.ModelStatus.Name(message.status).removeprefix("MODEL_STATUS_"))


@models_router.get("", summary="Registered model versions (of one model with ?name=), newest first")
async def list_model_versions(training: Training, name: str = "") -> ModelVersionList:
    answer = await training.ListModelVersions(pb.ListModelVersionsRequest(name=name))
    return ModelVersionList(versions=[_version(v) for v in answer.versions])


@models_router.post("/compare", summary="Metrics and settings of several model versions side by side")
async def compare_model_versions(body: Comparison, training: Training) -> ComparedVersions:
    answer = await training.CompareModelVersions(
        pb.CompareModelVersionsRequest(
            versions=[pb.ModelVersionRef(name=v.name, version=v.version) for v in body.versions]
        )
    )
    return ComparedVersions(
        versions=[_version(v) for v in answer.versions],
        differing_params=list(answer.differing_params),
        common_metrics=list(answer.common_metrics),
    )


@models_router.get(
    "/{name}/versions/{version}", summary="One registered model version: status, metrics, settings, tags"
)
async def get_model_version(name: str, version: int, training: Training) -> ModelVersion:
    answer = await training.GetModelVersion(pb.GetModelVersionRequest(name=name, version=version))
    return _version(answer.version)


async def _set_status(training: Training, name: str, version: int, status: pb.ModelStatus) -> ModelVersion:
    answer = await training.SetModelVersionStatus(
        pb.SetModelVersionStatusRequest(name=name, version=version, status=status)
    )
    return _version(answer.version)


@models_router.post(
    "/{name}/versions/{version}/promote",
    summary="Make this version the model's production version (the one before becomes a candidate again)",
)
async def promote_model_version(name: str, version: int, training: Training) -> ModelVersion:
    return await _set_status(training, name, version, pb.MODEL_STATUS_PRODUCTION)


@models_router.post("/{name}/versions/{version}/archive", summary="Retire a model version (it can be promoted again)")
async def archive_model_version(name: str, version: int, training: Training) -> ModelVersion:
    return await _set_status(training, name, version, pb.MODEL_STATUS_ARCHIVED)


@models_router.get(
    "/{name}/versions/{version}/export",
    summary="Download a model version as TorchScript (.pt), ONNX (.onnx) or an MLflow model (zip)",
    response_class=StreamingResponse,
    responses={200: {"content": {media_type: {} for media_type in set(EXPORT_FILES.values())}}},
)
async def export_model_version(
    name: str,
    version: int,
    request: Request,
    training: Training,
    format: Annotated[ExportFormat, Query(description="torchscript, onnx or mlflow")],
) -> StreamingResponse:
    answer = await training.ExportModelVersion(
        pb.ExportModelVersionRequest(name=name, version=version, format=f"EXPORT_FORMAT_{format.upper()}"),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    request.state.audit_details = {"format": format, "bytes": str(answer.size_bytes)}
    return object_response(request, answer.object_key, EXPORT_FILES[format], answer.file_name)


# --- testing model versions -------------------------------------------------------------------------------------

TestSplit = Literal["test", "validation", "train", "all"]


class NewTest(BaseModel):
    dataset_id: str = Field(min_length=1, description="a dataset version with the model's classes (any sites)")
    split: TestSplit = Field("test", description="its split to test on")
    threshold: float | None = Field(
        None, gt=0, lt=1, description="classification: the positive class's threshold (default: Youden's point)"
    )
    job_id: str = Field("", pattern=JOB_ID, description="an id of your choosing; also the evaluation's id")
    sites: list[str] = Field(default_factory=list, description="only these sites' cases (external validation)")
    series_instance_uids: list[str] = Field(
        default_factory=list, description="only the cases of these series (of the dataset version); empty: all"
    )


class StartedTest(BaseModel):
    job: Job = Field(description="queued on Ray; follow it at /api/v1/training/jobs/{id}/events")
    cases: int


class Evaluation(BaseModel):
    id: str
    model: ModelRef
    dataset_id: str
    split: str
    report: dict[str, Any] = Field(description="metrics with confidence intervals, per site, per case")
    plots: list[str] = Field(description="each at /api/v1/models/evaluations/{id}/{plot}.png")


@models_router.post(
    "/{name}/versions/{version}/tests",
    status_code=201,
    summary="Test a model version on a split of a dataset version, as a job on Ray",
)
async def test_model_version(
    name: str, version: int, body: NewTest, request: Request, training: Training
) -> StartedTest:
    message = pb.TestModelVersionRequest(
        name=name,
        version=version,
        dataset_id=body.dataset_id,
        split=body.split,
        job_id=body.job_id,
        sites=body.sites,
        series_instance_uids=body.series_instance_uids,
    )
    if body.threshold is not None:
        message.threshold = body.threshold
    answer = await training.TestModelVersion(message, timeout=request.app.state.settings.upload_timeout_seconds)
    request.state.audit_resource = f"evaluation:{answer.job.id}"
    request.state.audit_details = {"dataset": body.dataset_id, "split": body.split}
    return StartedTest(job=job_of(answer.job), cases=answer.cases)


@models_router.get("/evaluations/{evaluation_id}", summary="A finished test's report")
async def get_evaluation(evaluation_id: str, training: Training) -> Evaluation:
    answer = await training.GetEvaluation(pb.GetEvaluationRequest(evaluation_id=evaluation_id))
    return Evaluation(
        id=evaluation_id,
        model=ModelRef(name=answer.model.name, version=answer.model.version),
        dataset_id=answer.dataset_id,
        split=answer.split,
        report=json.loads(answer.report_json),
        plots=list(answer.plots),
    )


@models_router.get(
    "/evaluations/{evaluation_id}/predictions.csv",
    summary="A test's predictions, one row per sample (with case, patient and site)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def evaluation_predictions(evaluation_id: str, request: Request, training: Training) -> StreamingResponse:
    key = await evaluation_predictions_key(evaluation_id, training)
    return object_response(request, key, "text/csv", f"predictions-{evaluation_id}.csv")


async def evaluation_predictions_key(evaluation_id: str, training: Training) -> str:
    """Where a finished test's predictions are, once the caller may see it."""
    answer = await training.GetEvaluation(pb.GetEvaluationRequest(evaluation_id=evaluation_id))
    return answer.predictions_object_key


@models_router.get(
    "/evaluations/{evaluation_id}/{plot}.png",
    summary="A plot of a test: roc, calibration, confusion, dice...",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/png": {}}}},
)
async def evaluation_plot(evaluation_id: str, plot: str, request: Request, training: Training) -> StreamingResponse:
    answer = await training.GetEvaluation(pb.GetEvaluationRequest(evaluation_id=evaluation_id))
    if plot not in answer.plots:
        raise NotFound(f"evaluation {evaluation_id!r} has no plot {plot!r}", reason="PLOT_NOT_FOUND")
    key = answer.predictions_object_key.rsplit("/", 1)[0] + f"/{plot}.png"
    return object_response(request, key, "image/png", f"{evaluation_id}-{plot}.png")


# --- trying one series ------------------------------------------------------------------------------------------

PREDICTION_FILES = {"overlay.png": "image/png", "seg.dcm": "application/dicom", "sc.dcm": "application/dicom"}


class NewPrediction(BaseModel):
    series_instance_uid: str = Field(min_length=1, description="a series of the DICOM store")
    dicom: bool = Field(False, description="also a DICOM SEG (segmentation) or Secondary Capture (heat map, boxes)")


class Detection(BaseModel):
    class_name: str
    score: float = Field(description="the detector's confidence, 0 to 1")
    min: list[float] = Field(description="first corner on voxel edges, index order (column, row[, slice])")
    max: list[float] = Field(description="opposite corner")


class Prediction(BaseModel):
    probabilities: dict[str, float] = Field(description="classification: each class's probability")
    predicted_class: str
    volumes: dict[str, float] = Field(description="segmentation: each class's volume, mL (mm² for 2D images)")
    detections: list[Detection] = Field(description="detection: every box found, by descending score")
    overlay: str = Field(description="URL of the PNG: Grad-CAM heat map or mask over the image")
    dicom: str = Field(description="URL of the DICOM object, when asked for")
    seconds: float = Field(description="time in the service, the model's first load included")


def _prediction_url(key: str) -> str:
    prediction, file = key.split("/")[-2:]
    return f"/api/v1/models/predictions/{prediction}/{file}"


@models_router.post(
    "/{name}/versions/{version}/predict",
    summary="Run a model version on one series: probabilities with a Grad-CAM heat map, a mask, or boxes, as PNG and "
    "DICOM",
)
async def predict_series(
    name: str, version: int, body: NewPrediction, request: Request, training: Training
) -> Prediction:
    answer = await training.PredictSeries(
        pb.PredictSeriesRequest(
            name=name, version=version, series_instance_uid=body.series_instance_uid, dicom=body.dicom
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    request.state.audit_details = {"series": body.series_instance_uid}
    return Prediction(
        probabilities=dict(answer.probabilities),
        predicted_class=answer.predicted_class,
        volumes=dict(answer.volumes),
        detections=[
            Detection(class_name=d.class_name, score=d.score, min=list(d.min), max=list(d.max))
            for d in answer.detections
        ],
        overlay=_prediction_url(answer.overlay_object_key),
        dicom=_prediction_url(answer.dicom_object_key) if answer.dicom_object_key else "",
        seconds=answer.seconds,
    )


@models_router.get(
    "/predictions/{prediction_id}/{file}",
    summary="A file of a prediction: overlay.png, seg.dcm or sc.dcm",
    response_class=StreamingResponse,
    responses={200: {"content": {media_type: {} for media_type in set(PREDICTION_FILES.values())}}},
)
async def prediction_file(prediction_id: str, file: str, request: Request) -> StreamingResponse:
    key = f"training/predictions/{prediction_id}/{file}"
    objects: ObjectStore = request.app.state.objects
    if file not in PREDICTION_FILES or not prediction_id.isalnum() or not await asyncio.to_thread(objects.exists, key):
        raise NotFound(f"no prediction file {prediction_id}/{file}", reason="PREDICTION_NOT_FOUND")
    return object_response(request, key, PREDICTION_FILES[file], f"{prediction_id}-{file}")


# --- batch prediction and pre-labels ------------------------------------------------------------------------------


class NewBatchPrediction(BaseModel):
    series_instance_uids: list[str] = Field(min_length=1, description="series of the DICOM store")
    job_id: str = Field("", pattern=JOB_ID, description="an id of your choosing")


class StartedBatchPrediction(BaseModel):
    job: Job = Field(description="queued on Ray; follow it at /api/v1/training/jobs/{id}/events")


class NewPrelabels(BaseModel):
    project_id: str = Field(
        min_length=1, description="a project of the model's task (classes, boxes or masks) holding the studies"
    )
    annotator_id: str = Field("", description="whose tasks get the pre-labels (default: yours)")
    submit: bool = Field(False, description="submit them for review (default: drafts the annotator corrects)")
    min_score: float = Field(0.5, ge=0, le=1, description="a detector's boxes scoring at least this become pre-labels")


class Prelabels(BaseModel):
    cases: int
    labels: int
    source: str = Field(description='the annotations\' source: "model:<name>/<version>"')


@models_router.post(
    "/{name}/versions/{version}/batch-predictions",
    status_code=201,
    summary="Run a model version on many series as a job; its predictions table can become pre-labels",
)
async def start_batch_prediction(
    name: str, version: int, body: NewBatchPrediction, request: Request, training: Training
) -> StartedBatchPrediction:
    answer = await training.StartBatchPrediction(
        pb.StartBatchPredictionRequest(
            name=name, version=version, series_instance_uids=body.series_instance_uids, job_id=body.job_id
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,  # the series are exported first
    )
    request.state.audit_resource = f"training_job:{answer.job.id}"
    return StartedBatchPrediction(job=job_of(answer.job))


async def _batch_result(job_id: str, training: Training) -> dict[str, str]:
    """A finished batch prediction's result (NOT_FOUND unless the caller's; FAILED_PRECONDITION until it ends)."""
    job = (await training.GetJob(pb.GetJobRequest(job_id=job_id))).job
    if "predictions_csv" not in job.result or not job.result["predictions_csv"].startswith("training/inference/"):
        raise FailedPrecondition(
            f"job {job_id!r} is not a finished batch prediction", reason="NO_PREDICTIONS", details={"job_id": job_id}
        )
    return dict(job.result)


@models_router.get(
    "/batch-predictions/{job_id}/predictions.csv",
    summary="A batch prediction's table: one row per series",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def batch_predictions(job_id: str, request: Request, training: Training) -> StreamingResponse:
    result = await _batch_result(job_id, training)
    return object_response(request, result["predictions_csv"], "text/csv", f"predictions-{job_id}.csv")


@models_router.post(
    "/batch-predictions/{job_id}/prelabels",
    summary="Write a batch prediction's classes, boxes or masks into a project's tasks as the model's pre-labels",
)
async def write_prelabels(
    job_id: str, body: NewPrelabels, request: Request, training: Training, labeling: Labeling
) -> Prelabels:
    result = await _batch_result(job_id, training)
    objects: ObjectStore = request.app.state.objects
    if result.get("task") == "detection":  # the boxes scoring at least min_score, in labeling's boxes JSON
        found = json.loads(await asyncio.to_thread(objects.get, result["boxes_json"]))["boxes"]
        kept = [box for box in found if box["score"] >= body.min_score]
        labels, fmt = json.dumps({"boxes": kept}).encode(), "json"
    elif result.get("task") in ("segmentation", "classification"):
        table = await asyncio.to_thread(objects.get, result["predictions_csv"])
        rows = list(csv.DictReader(io.StringIO(table.decode())))
        if result["task"] == "segmentation":  # each series' mask, in labeling's NIfTI zip
            labels, fmt = await asyncio.to_thread(_masks_zip, objects, rows), "nifti"
        else:
            text = "".join(f"{row['study_instance_uid']},{row['class']}\n" for row in rows)
            labels, fmt = f"study_instance_uid,class\n{text}".encode(), "csv"
    else:
        raise FailedPrecondition(
            f"a batch prediction of a {result.get('task')} model gives no pre-labels", reason="PRELABELS_NEED_CLASSES"
        )
    source = f"model:{result['model_name']}/{result['model_version']}"
    async with staged(request, [io.BytesIO(labels)], "staging/imports") as (key,):
        answer = await labeling.ImportLabels(
            labeling_pb2.ImportLabelsRequest(
                project_id=body.project_id,
                format=fmt,
                object_key=key,
                annotator_id=body.annotator_id,
                submit=body.submit,
                source=source,
            )
        )
    request.state.audit_details = {"project": body.project_id, "cases": str(answer.cases), "source": source}
    return Prelabels(cases=answer.cases, labels=answer.labels, source=source)


def _masks_zip(objects: ObjectStore, rows: list[dict[str, str]]) -> bytes:
    """A segmentation batch's masks as labeling imports them: <study>/<series>.nii.gz."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:  # NIfTI is gzipped
        for row in rows:
            out.writestr(
                f"{row['study_instance_uid']}/{row['series_instance_uid']}.nii.gz", objects.get(row["mask_key"])
            )
    return archive.getvalue()


router = APIRouter()
router.include_router(training_router)
router.include_router(models_router)
