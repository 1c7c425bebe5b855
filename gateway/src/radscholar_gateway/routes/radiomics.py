"""Radiomics: presets and settings validation."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

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
