"""Extraction settings: presets load, pyradiomics' schema rejects bad settings by name."""

from pathlib import Path

import grpc
import pytest

from radscholar_core.errors import InvalidArgument
from radscholar_core.grpc_server import serving
from radscholar_core.objectstore import ObjectStoreSettings
from radscholar_core.status import error_info
from radscholar_core.testing import gateway_keys, person
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


def settings(tmp_path: Path) -> Settings:
    return Settings(
        port=0,
        identity=KEYS.keys,
        database_url=f"sqlite:///{tmp_path}/radiomics.db",
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
    )


async def test_server_lists_presets_and_refuses_bad_settings(tmp_path: Path) -> None:
    async with serving(build_server(settings(tmp_path)), interceptors=KEYS.interceptors()) as channel:
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


async def test_researchers_save_their_own_presets(tmp_path: Path) -> None:
    server = build_server(settings(tmp_path))
    port = await server.start("127.0.0.1", 0)
    rita, sam = person("rita.researcher"), person("sam.researcher")
    try:
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=KEYS.interceptors(rita)) as as_rita,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}", interceptors=KEYS.interceptors(sam)) as as_sam,
        ):
            mine, theirs = (
                radiomics_pb2_grpc.RadiomicsServiceStub(as_rita),
                radiomics_pb2_grpc.RadiomicsServiceStub(as_sam),
            )
            ct = next(p for p in presets() if p.id == "ct").settings_yaml
            refusals = {
                "INVALID_PRESET_ID": pb.SavePresetRequest(id="Bad Id", display_name="x", settings_yaml=ct),
                "INVALID_PRESET_NAME": pb.SavePresetRequest(id="lung", display_name=" ", settings_yaml=ct),
                "INVALID_SETTINGS": pb.SavePresetRequest(
                    id="lung", display_name="Lung", settings_yaml="setting: {binCount: 0}"
                ),
            }
            refusals["INVALID_PRESET_ID "] = pb.SavePresetRequest(id="ct", display_name="CT", settings_yaml=ct)
            for reason, request in refusals.items():
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await mine.SavePreset(request)
                assert error_info(failure.value).reason == reason.strip()  # type: ignore[union-attr]
            saved = await mine.SavePreset(
                pb.SavePresetRequest(
                    id="lung-nodules", display_name="Lung nodules", description="bin 10", settings_yaml=ct
                )
            )
            assert saved.preset.created_by == "rita.researcher" and not saved.preset.built_in
            assert saved.settings_hash == validate_settings(ct).settings_hash
            with pytest.raises(grpc.aio.AioRpcError) as twice:
                await theirs.SavePreset(pb.SavePresetRequest(id="lung-nodules", display_name="Mine", settings_yaml=ct))
            assert twice.value.code() == grpc.StatusCode.ALREADY_EXISTS
            listed = await theirs.ListPresets(pb.ListPresetsRequest())
            assert [(p.id, p.built_in) for p in listed.presets][-1] == ("lung-nodules", False)
            with pytest.raises(grpc.aio.AioRpcError) as foreign:
                await theirs.DeletePreset(pb.DeletePresetRequest(id="lung-nodules"))
            assert foreign.value.code() == grpc.StatusCode.PERMISSION_DENIED
            await mine.DeletePreset(pb.DeletePresetRequest(id="lung-nodules"))
            assert "lung-nodules" not in {p.id for p in (await mine.ListPresets(pb.ListPresetsRequest())).presets}
    finally:
        await server.stop(0)
