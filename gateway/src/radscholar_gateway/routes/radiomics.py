"""Radiomics: presets, settings validation, extraction of one region, the IBSI compliance report."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field

from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import Radiomics
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
)
async def extract_features(
    request: Request,
    radiomics: Radiomics,
    image: UploadFile,
    mask: UploadFile,
    preset_id: Annotated[str, Form(description="a built-in preset (see /presets); or give settings_yaml")] = "",
    settings_yaml: Annotated[str, Form(max_length=100_000)] = "",
    label: Annotated[int, Form(ge=1, le=65535, description="the mask's label of the region")] = 1,
) -> Extraction:
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
    return to_model(Extraction, answer)


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
