"""Extraction settings: presets, validation by pyradiomics' own schema, and the provenance hash."""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
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
    built_in: bool = True
    created_by: str = ""  # a researcher's own preset: who saved it


PRESET_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def new_preset(preset_id: str, display_name: str, description: str, settings_yaml: str, created_by: str) -> Preset:
    """A researcher's own preset, its id not one of the built-in ones (the settings are checked by the caller)."""
    if not PRESET_ID.match(preset_id):
        raise InvalidArgument(
            f"preset id '{preset_id}' must be 1 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
            reason="INVALID_PRESET_ID",
        )
    if preset_id in PRESETS:
        raise InvalidArgument(f"'{preset_id}' is a built-in preset; choose another id", reason="INVALID_PRESET_ID")
    if not display_name.strip() or len(display_name) > 200:
        raise InvalidArgument("display_name must be 1 to 200 characters", reason="INVALID_PRESET_NAME")
    return Preset(preset_id, display_name.strip(), description, settings_yaml, built_in=False, created_by=created_by)


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
    checked_by: RadiomicsFeatureExtractor = field(repr=False, compare=False)  # the extractor built from params

    def extractor(self) -> RadiomicsFeatureExtractor:
        """A fresh pyradiomics extractor of these settings: a copy of the one that checked them, the same state
        that ``RadiomicsFeatureExtractor(params)`` builds without checking the schema again (tens of ms)."""
        return copy.deepcopy(self.checked_by)


def _schema_problems(error: SchemaError) -> list[str]:
    return re.findall(r"- (.+?)\.(?:: Path: '/')?$", str(error.msg), re.MULTILINE) or [str(error.msg)]


@lru_cache(maxsize=256)
def validate_settings(settings_yaml: str) -> ExtractionSettings:
    """Parse and check a pyradiomics parameter file; INVALID_ARGUMENT names each bad setting.

    The one way to settings that extraction accepts, for the built-in presets and users' own alike. Checking
    builds an extractor (tens of milliseconds), so the answer is kept per text: its ``params`` are shared, and
    whoever hands them to pyradiomics gives it a copy.
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
        checked_by=extractor,
    )
