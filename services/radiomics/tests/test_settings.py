"""Extraction settings: presets load, pyradiomics' schema rejects bad settings by name."""

import grpc
import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_core.grpc_server import serving
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys
from radscholar_proto.radiomics.v1 import radiomics_pb2 as pb
from radscholar_proto.radiomics.v1 import radiomics_pb2_grpc
from radscholar_radiomics.config import Settings
from radscholar_radiomics.domain.settings import presets, validate_settings
from radscholar_radiomics.server import build_server

KEYS = gateway_keys()


@pytest.mark.parametrize("preset", presets(), ids=lambda p: p.id)
def test_every_preset_is_valid(preset) -> None:  # type: ignore[no-untyped-def]
    settings = validate_settings(preset.settings_yaml)
    assert "Original" in settings.image_types
    assert "firstorder" in settings.feature_classes
    assert len(settings.settings_hash) == 64


def test_ibsi_preset_is_the_shared_phantom_configuration() -> None:
    ibsi = next(p for p in presets() if p.id == "ibsi-phantom")
    settings = validate_settings(ibsi.settings_yaml)
    assert settings.params["setting"]["binWidth"] == 1
    assert settings.image_types == ["Original"]


def test_hash_ignores_key_order_and_formatting() -> None:
    one = validate_settings("setting: {binWidth: 25, label: 1}\nimageType: {Original: {}}")
    two = validate_settings("imageType:\n  Original: {}\nsetting:\n  label: 1\n  binWidth: 25\n")
    assert one.settings_hash == two.settings_hash
    assert one.settings_hash != validate_settings("setting: {binWidth: 10}\nimageType: {Original: {}}").settings_hash


def test_comprehensive_preset_enables_every_image_type_and_feature_class() -> None:
    comprehensive = next(p for p in presets() if p.id == "comprehensive")
    settings = validate_settings(comprehensive.settings_yaml)
    assert settings.image_types == [
        "Exponential",
        "Gradient",
        "LBP3D",
        "LoG",
        "Logarithm",
        "Original",
        "Square",
        "SquareRoot",
        "Wavelet",
    ]
    assert settings.feature_classes == ["firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm", "shape"]
    assert settings.params["setting"]["resampledPixelSpacing"] == [1, 1, 1]
    assert settings.params["imageType"]["LoG"]["sigma"] == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("setting: {binWidth: -5}", "/setting/binWidth"),
        ("setting: {binWidht: 5}", "binWidht"),
        ("featureClass: {glcmm: }", "glcmm"),
        ("setting: [1, 2", "YAML"),
        ("- just a list", "mapping"),
    ],
)
def test_bad_settings_name_the_problem(text: str, named: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        validate_settings(text)
    assert named in error.value.message


async def test_server_lists_presets_and_refuses_bad_settings() -> None:
    async with serving(build_server(Settings(port=0, identity=KEYS.keys)), interceptors=KEYS.interceptors()) as channel:
        radiomics = radiomics_pb2_grpc.RadiomicsServiceStub(channel)
        listed = await radiomics.ListPresets(pb.ListPresetsRequest())
        assert {p.id for p in listed.presets} >= {"ibsi-phantom", "ct", "mr", "radiograph", "comprehensive"}
        valid = await radiomics.ValidateSettings(
            pb.ValidateSettingsRequest(settings_yaml=listed.presets[0].settings_yaml)
        )
        assert valid.settings_hash
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await radiomics.ValidateSettings(pb.ValidateSettingsRequest(settings_yaml="setting: {binCount: 0}"))
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_info(failure.value).reason == "INVALID_SETTINGS"  # type: ignore[union-attr]
        assert "binCount" in (failure.value.details() or "")
