"""Extraction settings: presets, validation by pyradiomics' own schema, and the provenance hash."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pykwalify.errors import SchemaError
from radiomics.featureextractor import RadiomicsFeatureExtractor

from radscholar_core.errors import InvalidArgument

logging.getLogger("pykwalify").setLevel(logging.CRITICAL)  # its errors reach callers as InvalidArgument


@dataclass(frozen=True)
class Preset:
    id: str
    display_name: str
    description: str
    settings_yaml: str


PRESETS = {
    "ibsi-phantom": (
        "IBSI digital phantom",
        "Reproduces the IBSI-1 digital phantom reference values (3D, no resampling).",
    ),
    "ct": ("CT", "3D CT: 1 mm isotropic resampling, bin width 25 HU, original + LoG + wavelet images."),
    "mr": ("MR", "3D MR: 1 mm isotropic, z-score normalisation, 32 bins, original + LoG + wavelet images."),
    "radiograph": ("Radiograph / mammogram", "2D: normalised, 64 bins, shape2D and in-plane texture."),
    "comprehensive": (
        "CT, comprehensive",
        "3D CT: 1 mm isotropic, 25 HU bins (32 bins on filtered images), all seven feature classes on original,"
        " wavelet (4 levels), LoG (1-5 mm), square, square root, logarithm, exponential, gradient and LBP 3D"
        " images: about 4,500 features per region.",
    ),
}


@cache
def presets() -> list[Preset]:
    folder = resources.files(__package__) / "presets"
    return [
        Preset(pid, name, description, (folder / f"{pid}.yaml").read_text())
        for pid, (name, description) in sorted(PRESETS.items())
    ]


@dataclass(frozen=True)
class ExtractionSettings:
    """Settings pyradiomics accepted, in canonical form, with their hash for provenance."""

    params: dict[str, Any]
    canonical_yaml: str
    settings_hash: str
    image_types: list[str]
    feature_classes: list[str]


def _schema_problems(error: SchemaError) -> list[str]:
    return re.findall(r"- (.+?)\.(?:: Path: '/')?$", str(error.msg), re.MULTILINE) or [str(error.msg)]


def validate_settings(settings_yaml: str) -> ExtractionSettings:
    """Parse and check a pyradiomics parameter file; INVALID_ARGUMENT names each bad setting.

    The one way to settings that extraction accepts, for the built-in presets and users' own alike.
    """
    try:
        params = yaml.safe_load(settings_yaml)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"settings are not valid YAML: {exc}", reason="INVALID_SETTINGS_YAML") from None
    if not isinstance(params, dict):
        raise InvalidArgument(
            "settings must be a YAML mapping with setting, imageType and featureClass",
            reason="INVALID_SETTINGS_YAML",
        )
    try:
        extractor = RadiomicsFeatureExtractor(params)
    except SchemaError as exc:
        problems = _schema_problems(exc)
        raise InvalidArgument(
            "invalid extraction settings: " + "; ".join(problems),
            reason="INVALID_SETTINGS",
            details={"problems": "\n".join(problems)},
        ) from None
    except ValueError as exc:
        raise InvalidArgument(f"invalid extraction settings: {exc}", reason="INVALID_SETTINGS") from None
    canonical = yaml.safe_dump(params, sort_keys=True)
    return ExtractionSettings(
        params=params,
        canonical_yaml=canonical,
        settings_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        image_types=sorted(extractor.enabledImagetypes),
        feature_classes=sorted(extractor.enabledFeatures),
    )
