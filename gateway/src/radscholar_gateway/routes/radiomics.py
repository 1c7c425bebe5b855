"""Radiomics: presets, settings validation, extraction of one region, the IBSI compliance report."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from pydantic import BaseModel, Field

from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import Radiomics
from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb

router = APIRouter(prefix="/api/v1/radiomics", tags=["radiomics"])


class Preset(BaseModel):
    id: str
    display_name: str
    description: str
    settings_yaml: str


class PresetList(BaseModel):
    presets: list[Preset]


class ExtractionSettings(BaseModel):
    settings_yaml: str = Field(max_length=100_000, description="pyradiomics parameter file as YAML")


class ValidatedSettings(BaseModel):
    canonical_yaml: str
    settings_hash: str
    image_types: list[str]
    feature_classes: list[str]


@router.get("/presets", summary="Built-in extraction presets")
async def list_presets(radiomics: Radiomics) -> PresetList:
    answer = await radiomics.ListPresets(pb.ListPresetsRequest())
    return PresetList(presets=[to_model(Preset, p) for p in answer.presets])


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
    objects: ObjectStore = request.app.state.objects
    folder = f"staging/radiomics/{uuid.uuid4().hex}"
    staged = {"image": (image, f"{folder}/image"), "mask": (mask, f"{folder}/mask")}
    try:
        for upload, key in staged.values():
            await asyncio.to_thread(objects.put, key, upload.file)
        answer = await radiomics.ExtractFeatures(
            pb.ExtractFeaturesRequest(
                image_object_key=staged["image"][1],
                image_name=image.filename or "image.nii.gz",
                mask_object_key=staged["mask"][1],
                mask_name=mask.filename or "mask.nii.gz",
                label=label,
                preset_id=preset_id,
                settings_yaml=settings_yaml,
            ),
            timeout=request.app.state.settings.upload_timeout_seconds,
        )
    finally:
        for _, key in staged.values():
            await asyncio.to_thread(objects.delete, key)
    return to_model(Extraction, answer)


@router.get("/ibsi-report", summary="The IBSI digital phantom's features against the IBSI reference values")
async def ibsi_report(radiomics: Radiomics) -> IbsiReport:
    return to_model(IbsiReport, await radiomics.GetIbsiReport(pb.GetIbsiReportRequest()))
