"""Radiomics: presets, settings validation, extraction of one region, batch extraction jobs and their feature
tables, selection, stability, the IBSI compliance report."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from pydantic_core import to_json

from radscholar_core.errors import InvalidArgument, NotFound
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import Radiomics
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
from radscholar_gateway.staging import form_json, staged
from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb

router = APIRouter(prefix="/api/v1/radiomics", tags=["radiomics"])


class NewPreset(BaseModel):
    id: str = Field(min_length=1, max_length=64, examples=["lung-nodules-bw10"])
    display_name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    settings_yaml: str = Field(max_length=100_000, description="pyradiomics parameter file as YAML")


class Preset(BaseModel):
    id: str
    display_name: str
    description: str
    settings_yaml: str
    built_in: bool
    created_by: str


class PresetList(BaseModel):
    presets: list[Preset]


class ExtractionSettings(BaseModel):
    settings_yaml: str = Field(max_length=100_000, description="pyradiomics parameter file as YAML")


class ValidatedSettings(BaseModel):
    canonical_yaml: str
    settings_hash: str
    image_types: list[str]
    feature_classes: list[str]


@router.get("/presets", summary="Extraction presets: the built-in ones, then those researchers saved")
async def list_presets(radiomics: Radiomics) -> PresetList:
    answer = await radiomics.ListPresets(pb.ListPresetsRequest())
    return PresetList(presets=[to_model(Preset, p) for p in answer.presets])


@router.post("/presets", status_code=201, summary="Save your own preset (its settings are checked first)")
async def save_preset(body: NewPreset, radiomics: Radiomics) -> Preset:
    answer = await radiomics.SavePreset(pb.SavePresetRequest(**body.model_dump()))
    return to_model(Preset, answer.preset)


@router.delete("/presets/{preset_id}", status_code=204, summary="Delete a saved preset (yours, or any as an admin)")
async def delete_preset(preset_id: str, radiomics: Radiomics) -> Response:
    await radiomics.DeletePreset(pb.DeletePresetRequest(id=preset_id))
    return Response(status_code=204)


@router.post("/settings/validate", summary="Check extraction settings before starting a job")
async def validate_settings(body: ExtractionSettings, radiomics: Radiomics) -> ValidatedSettings:
    answer = await radiomics.ValidateSettings(pb.ValidateSettingsRequest(settings_yaml=body.settings_yaml))
    return to_model(ValidatedSettings, answer)


class Feature(BaseModel):
    name: str
    value: float
    ibsi_name: str
    ibsi_code: str


class Extraction(BaseModel):
    features: list[Feature]
    settings_hash: str
    pyradiomics_version: str
    seconds: float


class IbsiRow(BaseModel):
    feature: str
    ibsi_name: str
    ibsi_code: str
    aggregation: str
    reference: float
    computed: float
    reported: float
    status: str
    note: str


class IbsiReport(BaseModel):
    rows: list[IbsiRow]
    table: str


@router.post(
    "/extractions",
    summary="Features of one region of interest: an image and its mask (NIfTI or NRRD) with a preset or settings",
    response_model=Extraction,
)
async def extract_features(
    request: Request,
    radiomics: Radiomics,
    image: UploadFile,
    mask: UploadFile,
    preset_id: Annotated[str, Form(description="a built-in preset (see /presets); or give settings_yaml")] = "",
    settings_yaml: Annotated[str, Form(max_length=100_000)] = "",
    label: Annotated[int, Form(ge=1, le=65535, description="the mask's label of the region")] = 1,
) -> Response:
    async with staged(request, [image.file, mask.file], "staging/radiomics") as (image_key, mask_key):
        answer = await radiomics.ExtractFeatures(
            pb.ExtractFeaturesRequest(
                image_object_key=image_key,
                image_name=image.filename or "image.nii.gz",
                mask_object_key=mask_key,
                mask_name=mask.filename or "mask.nii.gz",
                label=label,
                preset_id=preset_id,
                settings_yaml=settings_yaml,
            ),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    # An Extraction written straight to JSON: a thousand features through pydantic models (or MessageToDict) cost
    # 3 ms (or 10 ms) of the request. NaN becomes null, as the model writes it.
    extraction = {
        "features": [
            {"name": f.name, "value": f.value, "ibsi_name": f.ibsi_name, "ibsi_code": f.ibsi_code}
            for f in answer.features
        ],
        "settings_hash": answer.settings_hash,
        "pyradiomics_version": answer.pyradiomics_version,
        "seconds": answer.seconds,
    }
    return Response(to_json(extraction, inf_nan_mode="null"), media_type="application/json")


@router.get("/ibsi-report", summary="The IBSI digital phantom's features against the IBSI reference values")
async def ibsi_report(radiomics: Radiomics) -> IbsiReport:
    return to_model(IbsiReport, await radiomics.GetIbsiReport(pb.GetIbsiReportRequest()))


class SelectionStep(BaseModel):
    name: Literal["variance", "correlation", "univariate_fdr", "mrmr", "lasso", "rfe"]
    params: dict[str, str | int | float] = Field(default_factory=dict, examples=[{"threshold": 0.9}])


class SelectionSpec(BaseModel):
    outcome_column: str = Field(min_length=1)
    group_column: str = Field("", description="patient ids: folds keep each patient's rows together")
    id_columns: list[str] = Field(default_factory=list, description="columns that are not features")
    steps: list[SelectionStep] = Field(min_length=1, max_length=20)
    model: Literal["logistic", "random_forest"] = "logistic"
    folds: int = Field(5, ge=2, le=20)
    seed: int = Field(0, ge=0)


class Selection(BaseModel):
    selected: list[str]
    cv_auc_mean: float
    cv_auc_std: float
    fold_aucs: list[float]
    selection_frequency: dict[str, float]
    selected_table_csv: str = Field(description="the id, group and outcome columns and the selected features")


@router.post(
    "/selections",
    summary="Cross-validated feature selection on a feature table (CSV or Parquet); selection runs inside each fold",
)
async def select_features(
    request: Request,
    radiomics: Radiomics,
    table: UploadFile,
    spec: Annotated[str, Form(description="the SelectionSpec as JSON")],
) -> Selection:
    chosen = form_json(SelectionSpec, spec, "spec", "INVALID_SELECTION")
    async with staged(request, [table.file], "staging/radiomics") as (key,):
        answer = await radiomics.SelectFeatures(
            pb.SelectFeaturesRequest(
                table_object_key=key,
                table_name=table.filename or "table.csv",
                outcome_column=chosen.outcome_column,
                group_column=chosen.group_column,
                id_columns=chosen.id_columns,
                steps=[
                    pb.SelectionStep(name=s.name, params={k: str(v) for k, v in s.params.items()}) for s in chosen.steps
                ],
                model=chosen.model,
                folds=chosen.folds,
                seed=chosen.seed,
            ),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    objects: ObjectStore = request.app.state.objects
    selected = await asyncio.to_thread(objects.get, answer.selected_table_object_key)
    await asyncio.to_thread(objects.delete, answer.selected_table_object_key)
    return to_model(Selection, answer, selected_table_csv=selected.decode())


class StabilitySpec(BaseModel):
    target_column: str = Field(min_length=1, description="the column naming the region (lesion) of each row")
    rater_column: str = Field(min_length=1, description="the column naming the annotator or mask perturbation")
    id_columns: list[str] = Field(default_factory=list, description="other columns that are not features")
    kind: Literal["ICC(1,1)", "ICC(2,1)", "ICC(3,1)"] = "ICC(3,1)"
    threshold: float = Field(0.75, ge=0, le=1, description="features with an ICC at least this are stable")


class Stability(BaseModel):
    icc: dict[str, float]
    stable: list[str]
    targets: int
    raters: int


@router.post(
    "/stability",
    summary="Feature robustness between annotators or mask perturbations: ICC per feature and the stable features",
)
async def feature_stability(
    request: Request,
    radiomics: Radiomics,
    table: UploadFile,
    spec: Annotated[str, Form(description="the StabilitySpec as JSON")],
) -> Stability:
    chosen = form_json(StabilitySpec, spec, "spec", "INVALID_STABILITY")
    async with staged(request, [table.file], "staging/radiomics") as (key,):
        answer = await radiomics.FeatureStability(
            pb.FeatureStabilityRequest(
                table_object_key=key, table_name=table.filename or "table.csv", **chosen.model_dump()
            )
        )
    return to_model(Stability, answer)


# --- batch extraction jobs --------------------------------------------------------------------------

Regions = Literal["lesion", "label"]
TABLE_FILES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv"}


class MaskPerturbations(BaseModel):
    erode: int = Field(0, ge=0, le=10, description="erosion radius in voxels (0: none)")
    dilate: int = Field(0, ge=0, le=10, description="dilation radius in voxels (0: none)")
    shift: bool = Field(False, description="shifts by one voxel either way along each axis")
    icc_kind: Literal["ICC(1,1)", "ICC(2,1)", "ICC(3,1)"] = "ICC(3,1)"
    threshold: float = Field(0.75, ge=0, le=1, description="features with an ICC at least this are stable")


class JobOptions(BaseModel):
    preset_id: str = Field("", description="a built-in or saved preset (see /presets); or give settings_yaml")
    settings_yaml: str = Field("", max_length=100_000, description="pyradiomics parameter file as YAML")
    regions: Regions = Field(
        "lesion", description="lesion: each connected component of each mask label is a region; label: each label"
    )
    labels: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=list, description="only these mask labels (default: every label in the mask)"
    )
    job_id: str = Field(
        "", pattern=JOB_ID, description="an id of your choosing, so that a retried request never starts a second job"
    )
    perturbations: MaskPerturbations | None = Field(
        None, description="also extract every region with its mask perturbed, and each feature's ICC across them"
    )


class NewExtractionJob(JobOptions):
    dataset_id: str = Field("", description="a frozen dataset version: its series and their masks")


class PairsJobSpec(JobOptions):
    case_ids: list[str] = Field(default_factory=list, description="one per pair (default: the image's file name)")
    label_classes: list[str] = Field(default_factory=list, description="one per pair, for the label_class column")
    patient_ids: list[str] = Field(default_factory=list, description="one per pair (default: the case id)")


class StartedJob(BaseModel):
    job: Job
    series: int = Field(description="image/mask pairs in the batch (each gives one or more regions)")


class RegionFailure(BaseModel):
    region_id: str
    case_id: str
    reason: str = Field(examples=["EMPTY_MASK"])
    message: str


class FeatureTable(BaseModel):
    parquet_object_key: str
    csv_object_key: str
    rows: int = Field(description="regions extracted")
    features: int = Field(description="feature columns")
    id_columns: list[str] = Field(description="columns that describe a row rather than measure it")
    provenance: dict[str, str] = Field(description="settings and their hash, versions, the dataset version")
    failures: list[RegionFailure]
    reused: int = Field(description="regions reused from an earlier run with the same inputs and settings")
    stability_object_key: str = Field(description="with perturbations: each feature's ICC (download stability.csv)")
    stable_features: int = Field(description="with perturbations: the features whose ICC reached the threshold")


def _started(request: Request, answer: pb.StartExtractionJobResponse, **details: str) -> StartedJob:
    request.state.audit_resource = f"radiomics_job:{answer.job.id}"
    request.state.audit_details = {"series": str(answer.series)} | {k: v for k, v in details.items() if v}
    return StartedJob(job=job_of(answer.job), series=answer.series)


@router.post(
    "/jobs",
    status_code=202,
    summary="Start batch extraction over a dataset version (a Ray job, one task per region); follow it at /events",
)
async def start_extraction_job(body: NewExtractionJob, request: Request, radiomics: Radiomics) -> StartedJob:
    answer = await radiomics.StartExtractionJob(pb.StartExtractionJobRequest(**body.model_dump(exclude_none=True)))
    return _started(request, answer, dataset=body.dataset_id)


@router.post(
    "/jobs/pairs",
    status_code=202,
    summary="Start batch extraction over uploaded image/mask pairs (NIfTI or NRRD; the n-th mask is the n-th image's)",
)
async def start_extraction_job_on_pairs(
    request: Request,
    radiomics: Radiomics,
    image: Annotated[list[UploadFile], File(description="the images, in the order of their masks")],
    mask: Annotated[list[UploadFile], File(description="the masks, one per image, each on its image's grid")],
    spec: Annotated[str, Form(description="the PairsJobSpec as JSON")] = "{}",
) -> StartedJob:
    chosen = form_json(PairsJobSpec, spec, "spec", "INVALID_JOB_SPEC")
    if len(image) != len(mask):
        raise InvalidArgument(
            f"{len(image)} images but {len(mask)} masks: give one mask per image, in the same order",
            reason="UNPAIRED_FILES",
        )
    per_pair = {"case_id": chosen.case_ids, "label_class": chosen.label_classes, "patient_id": chosen.patient_ids}
    for field, values in per_pair.items():
        if values and len(values) != len(image):
            raise InvalidArgument(
                f"spec: {len(values)} {field}s for {len(image)} image/mask pairs", reason="INVALID_JOB_SPEC"
            )
    files = [upload.file for pair in zip(image, mask, strict=True) for upload in pair]
    async with staged(request, files, "staging/radiomics") as keys:
        pairs = [
            pb.ImagePair(
                image_object_key=keys[2 * i],
                image_name=image[i].filename or f"image-{i + 1}.nii.gz",
                mask_object_key=keys[2 * i + 1],
                mask_name=mask[i].filename or f"mask-{i + 1}.nii.gz",
                **{field: values[i] for field, values in per_pair.items() if values},
            )
            for i in range(len(image))
        ]
        answer = await radiomics.StartExtractionJob(
            pb.StartExtractionJobRequest(
                pairs=pairs, **chosen.model_dump(include=set(JobOptions.model_fields), exclude_none=True)
            ),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    return _started(request, answer)


@router.get("/jobs", summary="Batch extraction jobs you may see, newest first")
async def list_jobs(
    radiomics: Radiomics,
    page_size: Annotated[int, Query(ge=0, le=1000, description="default 50")] = 0,
    page_token: str = "",
) -> JobList:
    answer = await radiomics.ListJobs(pb.ListJobsRequest(page_size=page_size, page_token=page_token))
    return JobList(jobs=[job_of(job) for job in answer.jobs], next_page_token=answer.next_page_token)


@router.get("/jobs/{job_id}", summary="One batch job: state, progress, result, and its log")
async def get_job(job_id: str, radiomics: Radiomics) -> JobDetail:
    answer = await radiomics.GetJob(pb.GetJobRequest(job_id=job_id))
    return job_detail(answer.job, answer.log_lines)


@router.get(
    "/jobs/{job_id}/events",
    summary="Follow a job as Server-Sent Events: its snapshot, then one JobEvent per change, until it ends",
    response_class=StreamingResponse,
    responses=EVENT_STREAM,
)
async def watch_job(job_id: str, request: Request, radiomics: Radiomics) -> StreamingResponse:
    return await job_events(request, radiomics.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=WATCH_SECONDS))


@router.post("/jobs/{job_id}/cancel", summary="Stop a queued or running job; regions already extracted are kept")
async def cancel_job(job_id: str, radiomics: Radiomics) -> CancelledJob:
    answer = await radiomics.CancelJob(pb.CancelJobRequest(job_id=job_id))
    return CancelledJob(job=job_of(answer.job))


@router.get(
    "/jobs/{job_id}/features",
    summary="The feature table a finished job wrote: rows, features, provenance, and the regions that failed",
)
async def feature_table(job_id: str, radiomics: Radiomics) -> FeatureTable:
    return to_model(FeatureTable, await radiomics.GetFeatureTable(pb.GetFeatureTableRequest(job_id=job_id)))


async def _table_file(job_id: str, request: Request, radiomics: Radiomics, suffix: str) -> StreamingResponse:
    answer = await radiomics.GetFeatureTable(pb.GetFeatureTableRequest(job_id=job_id))
    key = answer.parquet_object_key if suffix == "parquet" else answer.csv_object_key
    request.state.audit_details = {"rows": str(answer.rows), "format": suffix}
    return object_response(request, key, TABLE_FILES[suffix], f"features-{job_id}.{suffix}")


@router.get(
    "/jobs/{job_id}/stability.csv",
    summary="Download each feature's ICC across the mask variants (a job started with perturbations)",
    response_class=StreamingResponse,
    responses={200: {"content": {TABLE_FILES["csv"]: {}}}},
)
async def feature_stability_csv(job_id: str, request: Request, radiomics: Radiomics) -> StreamingResponse:
    answer = await radiomics.GetFeatureTable(pb.GetFeatureTableRequest(job_id=job_id))
    if not answer.stability_object_key:
        raise NotFound(f"job {job_id!r} was started without perturbations", reason="NO_STABILITY")
    return object_response(request, answer.stability_object_key, TABLE_FILES["csv"], f"stability-{job_id}.csv")


@router.get(
    "/jobs/{job_id}/features.parquet",
    summary="Download the feature table as Parquet (provenance in its schema metadata)",
    response_class=StreamingResponse,
    responses={200: {"content": {TABLE_FILES["parquet"]: {}}}},
)
async def feature_table_parquet(job_id: str, request: Request, radiomics: Radiomics) -> StreamingResponse:
    return await _table_file(job_id, request, radiomics, "parquet")


@router.get(
    "/jobs/{job_id}/features.csv",
    summary="Download the feature table as CSV",
    response_class=StreamingResponse,
    responses={200: {"content": {TABLE_FILES["csv"]: {}}}},
)
async def feature_table_csv(job_id: str, request: Request, radiomics: Radiomics) -> StreamingResponse:
    return await _table_file(job_id, request, radiomics, "csv")
