"""Statistics: two-group comparisons; tables (uploaded, or a radiomics job's features) and the analyses run on them,
at once or as jobs on Ray, with their results, plots and trained models to download."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from radscholar_core.errors import InvalidArgument, NotFound
from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import Radiomics, Stats, Training
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
from radscholar_gateway.routes.training import evaluation_predictions_key, predictions_key
from radscholar_gateway.staging import staged
from radscholar_proto.radiomics.v1 import radiomics_pb2
from radscholar_proto.stats.v1 import stats_pb2 as pb

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

Test = Literal["STUDENT_T", "WELCH_T", "PAIRED_T", "MANN_WHITNEY_U"]


class TwoGroupComparison(BaseModel):
    group_a: list[float] = Field(max_length=1_000_000)
    group_b: list[float] = Field(max_length=1_000_000)
    test: Test
    confidence_level: float = Field(0.95, gt=0, lt=1)


class TwoGroupResult(BaseModel):
    test: str
    statistic: float
    degrees_of_freedom: float | None = Field(description="null for rank tests")
    p_value: float
    estimate: float
    ci_low: float
    ci_high: float
    confidence_level: float
    effect_size: float
    n_a: int
    n_b: int


@router.post("/two-group-comparisons", summary="Compare a numeric variable between two groups")
async def compare_two_groups(body: TwoGroupComparison, stats: Stats) -> TwoGroupResult:
    answer = await stats.CompareTwoGroups(
        pb.CompareTwoGroupsRequest(
            group_a=body.group_a,
            group_b=body.group_b,
            test=f"TWO_GROUP_TEST_{body.test}",
            confidence_level=body.confidence_level,
        )
    )
    return TwoGroupResult(
        test=answer.test,
        statistic=answer.statistic,
        degrees_of_freedom=None if math.isnan(answer.degrees_of_freedom) else answer.degrees_of_freedom,
        p_value=answer.p_value,
        estimate=answer.estimate,
        ci_low=answer.ci_low,
        ci_high=answer.ci_high,
        confidence_level=body.confidence_level,
        effect_size=answer.effect_size,
        n_a=answer.n_a,
        n_b=answer.n_b,
    )


# --- tables and analyses ----------------------------------------------------------------------------

AnalysisKind = Literal[
    "test",
    "p-adjust",
    "table-one",
    "regression",
    "kaplan-meier",
    "log-rank",
    "cox",
    "classifier",
    "delong",
    "kmeans",
    "score",
]
RESULTS = "/api/v1/stats/results"
FILE_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "joblib": "application/octet-stream",
    "png": "image/png",
    "svg": "image/svg+xml",
}


class Column(BaseModel):
    name: str
    type: str = Field(examples=["numeric"], description="numeric, binary, categorical, date, text or empty")
    missing: int = Field(description="rows without a value")
    distinct: int
    values: list[str] = Field(description="the categories of a binary or categorical column, sorted")


class Table(BaseModel):
    id: str
    name: str
    rows: int
    columns: list[Column]
    created_by: str
    source: str = Field(examples=["upload", "radiomics:<job id>"])


class FromRadiomics(BaseModel):
    job_id: str = Field(min_length=1, max_length=64, description="a finished radiomics batch job")


class FromTraining(BaseModel):
    run_id: str = Field("", max_length=64, description="a finished training run: its validation and test predictions")
    evaluation_id: str = Field("", max_length=64, description="or a finished test of a model version")


class NewAnalysis(BaseModel):
    kind: AnalysisKind
    parameters: dict[str, Any] = Field(
        default_factory=dict, examples=[{"test": "welch_t", "variable": "age", "group": "sex"}]
    )


class NewAnalysisJob(NewAnalysis):
    job_id: str = Field(
        "", pattern=JOB_ID, description="an id of your choosing, so that a retried request never starts a second job"
    )


class StartedAnalysisJob(BaseModel):
    job: Job = Field(description='queued on Ray; once it succeeded, its result holds "result_id"')


class Plot(BaseModel):
    name: str = Field(examples=["roc", "kaplan-meier", "forest"])
    png_url: str
    svg_url: str
    data: Any = Field(description="what is drawn, for a browser to draw it")


class AnalysisResult(BaseModel):
    id: str
    kind: AnalysisKind
    result: Any = Field(description="the result (numbers as the libraries give them; null where none exists)")
    rows_used: list[int] = Field(description="row numbers (1-based) the analysis used")
    rows_dropped: list[int] = Field(description="row numbers left out for missing values")
    plots: list[Plot]
    provenance: dict[str, str] = Field(description="package versions, seeds and parameters")
    json_url: str
    csv_url: str | None = Field(description="the result's main table as CSV, where it has one")
    model_url: str | None = Field(description="the trained model (joblib), where the analysis trained one")


def _table(request: Request, table: pb.Table) -> Table:
    request.state.audit_resource = f"stats_table:{table.id}"
    request.state.audit_details = {"rows": str(table.rows), "source": table.source}
    return to_model(Table, table)


def _file_url(result_id: str, name: str) -> str:
    """The gateway's download route of one of a result's files (a path on this gateway)."""
    return f"{RESULTS}/{quote(result_id, safe='')}/{quote(name, safe='')}"


@router.post(
    "/tables",
    status_code=201,
    summary="Store a table (CSV, Excel .xlsx or Parquet) and type its columns",
)
async def upload_table(
    request: Request,
    stats: Stats,
    file: UploadFile,
    name: Annotated[str, Form(max_length=200, description="its name (default: the file's)")] = "",
) -> Table:
    async with staged(request, [file.file], "staging/stats") as (key,):
        answer = await stats.CreateTable(
            pb.CreateTableRequest(object_key=key, name=name or file.filename or "table.csv", source="upload"),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    return _table(request, answer.table)


@router.post(
    "/tables/from-radiomics",
    status_code=201,
    summary="Store a finished radiomics job's feature table as a table to analyse",
)
async def table_from_radiomics(body: FromRadiomics, request: Request, stats: Stats, radiomics: Radiomics) -> Table:
    features = await radiomics.GetFeatureTable(radiomics_pb2.GetFeatureTableRequest(job_id=body.job_id))
    answer = await stats.CreateTable(
        pb.CreateTableRequest(
            object_key=features.parquet_object_key,
            name=f"features-{body.job_id}.parquet",
            source=f"radiomics:{body.job_id}",
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    return _table(request, answer.table)


@router.post(
    "/tables/from-training",
    status_code=201,
    summary="Store a finished training run's predictions (validation and test splits), or a model test's, as a table",
)
async def table_from_training(body: FromTraining, request: Request, stats: Stats, training: Training) -> Table:
    if bool(body.run_id) == bool(body.evaluation_id):
        raise InvalidArgument("give run_id or evaluation_id", reason="INVALID_SOURCE")
    if body.run_id:
        key, source = await predictions_key(body.run_id, request, training), f"training:{body.run_id}"
    else:
        key, source = await evaluation_predictions_key(body.evaluation_id, training), f"evaluation:{body.evaluation_id}"
    answer = await stats.CreateTable(
        pb.CreateTableRequest(
            object_key=key,
            name=f"predictions-{body.run_id or body.evaluation_id}.csv",
            source=source,
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    return _table(request, answer.table)


@router.get("/tables/{table_id}", summary="A stored table: its columns' types, missing values and categories")
async def get_table(table_id: str, stats: Stats) -> Table:
    return to_model(Table, (await stats.GetTable(pb.GetTableRequest(table_id=table_id))).table)


@router.post(
    "/tables/{table_id}/analyses",
    summary="Run an analysis on a stored table: a test, Table 1, a regression, survival, machine learning",
)
async def run_analysis(table_id: str, body: NewAnalysis, request: Request, stats: Stats) -> AnalysisResult:
    answer = await stats.RunAnalysis(
        pb.RunAnalysisRequest(table_id=table_id, kind=body.kind, parameters_json=json.dumps(body.parameters).encode()),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    request.state.audit_details = {"kind": answer.kind, "result": answer.id}
    return AnalysisResult(
        id=answer.id,
        kind=body.kind,
        result=json.loads(answer.result_json or b"null"),
        rows_used=list(answer.rows_used),
        rows_dropped=list(answer.rows_dropped),
        plots=[
            Plot(
                name=plot.name,
                png_url=_file_url(answer.id, f"{plot.name}.png"),
                svg_url=_file_url(answer.id, f"{plot.name}.svg"),
                data=json.loads(plot.data_json or b"null"),
            )
            for plot in answer.plots
        ],
        provenance=dict(answer.provenance),
        json_url=_file_url(answer.id, "result.json"),
        csv_url=_file_url(answer.id, "result.csv") if answer.csv_object_key else None,
        model_url=_file_url(answer.id, "model.joblib") if answer.model_object_key else None,
    )


@router.get(
    "/results/{result_id}/{file}",
    summary="Download a result's file: result.json, result.csv, model.joblib, or a plot as <name>.png / <name>.svg",
    response_class=StreamingResponse,
    responses={200: {"content": {media_type: {} for media_type in FILE_TYPES.values()}}},
)
async def result_file(result_id: str, file: str, request: Request, stats: Stats) -> StreamingResponse:
    name, _, suffix = file.rpartition(".")
    plot = name if suffix in ("png", "svg") else ""  # drawn by the service when first asked for
    answer = await stats.GetResult(pb.GetResultRequest(result_id=result_id, plot=plot))
    keys = {
        "result.json": answer.json_object_key,
        "result.csv": answer.csv_object_key,
        "model.joblib": answer.model_object_key,
    }
    for plot in answer.plots:
        keys |= {f"{plot.name}.png": plot.png_object_key, f"{plot.name}.svg": plot.svg_object_key}
    if not keys.get(file):
        raise NotFound(
            f"result {result_id!r} has no file {file!r}; it has {', '.join(sorted(k for k, v in keys.items() if v))}",
            reason="RESULT_FILE_NOT_FOUND",
        )
    return object_response(request, keys[file], FILE_TYPES[file.rpartition(".")[2]], f"{result_id}-{file}")


# --- analyses as jobs -------------------------------------------------------------------------------


@router.post(
    "/tables/{table_id}/analysis-jobs",
    status_code=202,
    summary="Run an analysis on a stored table as a job on Ray, with progress (hyperparameter searches on large "
    "tables); follow it at /jobs/{job_id}/events, then download its result_id's files",
)
async def start_analysis_job(table_id: str, body: NewAnalysisJob, request: Request, stats: Stats) -> StartedAnalysisJob:
    answer = await stats.StartAnalysisJob(
        pb.StartAnalysisJobRequest(
            table_id=table_id,
            kind=body.kind,
            parameters_json=json.dumps(body.parameters).encode(),
            job_id=body.job_id,
        )
    )
    request.state.audit_resource = f"stats_job:{answer.job.id}"
    request.state.audit_details = {"table": table_id, "kind": body.kind}
    return StartedAnalysisJob(job=job_of(answer.job))


@router.get("/jobs", summary="Your analysis jobs (every job for an admin), newest first")
async def list_jobs(
    stats: Stats,
    page_size: Annotated[int, Query(ge=0, le=1000, description="default 50")] = 0,
    page_token: str = "",
) -> JobList:
    answer = await stats.ListJobs(pb.ListJobsRequest(page_size=page_size, page_token=page_token))
    return JobList(jobs=[job_of(job) for job in answer.jobs], next_page_token=answer.next_page_token)


@router.get("/jobs/{job_id}", summary="One analysis job: state, progress, result (its result_id), and its log")
async def get_job(job_id: str, stats: Stats) -> JobDetail:
    answer = await stats.GetJob(pb.GetJobRequest(job_id=job_id))
    return job_detail(answer.job, answer.log_lines)


@router.get(
    "/jobs/{job_id}/events",
    summary="Follow an analysis job as Server-Sent Events: its snapshot, then one JobEvent per change, until it ends",
    response_class=StreamingResponse,
    responses=EVENT_STREAM,
)
async def watch_job(job_id: str, request: Request, stats: Stats) -> StreamingResponse:
    return await job_events(request, stats.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=WATCH_SECONDS))


@router.post("/jobs/{job_id}/cancel", summary="Stop a queued or running analysis job")
async def cancel_job(job_id: str, stats: Stats) -> CancelledJob:
    answer = await stats.CancelJob(pb.CancelJobRequest(job_id=job_id))
    return CancelledJob(job=job_of(answer.job))
