"""Radiomics through the gateway, the SDK and the command line: one region's features equal pyradiomics called
directly with the same settings; bad inputs are named; the IBSI report compares the phantom with IBSI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml
from radiomics.featureextractor import RadiomicsFeatureExtractor
from typer.testing import CliRunner

import radscholar_phantoms
from radscholar import ApiError, Client
from radscholar.cli import app
from radscholar_gateway.routes.radiomics import Extraction
from radscholar_radiomics.domain.stability import icc
from tests.conftest import Platform


@pytest.fixture(scope="module")
def nodule(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A phantom CT (as NIfTI) and its ground-truth lesion mask; the label of its first lesion."""
    out = tmp_path_factory.mktemp("radiomics")
    manifest = radscholar_phantoms.generate("ct", 1, 1, 17, out / "ct", shape=(24, 64, 64))
    assert manifest.root is not None
    entry = json.loads((manifest.root / "manifest.json").read_text())["cases"][0]["series"][0]
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(manifest.root / entry["path"])))
    image = out / "image.nii.gz"
    sitk.WriteImage(reader.Execute(), str(image))
    return image, manifest.root / entry["mask"], entry["lesions"][0]["lesion_id"]


def preset(platform: Platform, preset_id: str) -> str:
    presets = platform.gateway.get("/api/v1/radiomics/presets").json()["presets"]
    return str(next(p["settings_yaml"] for p in presets if p["id"] == preset_id))


def test_one_region_equals_pyradiomics(platform: Platform, nodule: tuple[Path, Path, int]) -> None:
    image, mask, label = nodule
    with Client(
        platform.url, token=platform.login(platform.admin_username, platform.admin_password)["access_token"]
    ) as client:
        result = client.extract_features(image, mask, preset="ct", label=label)
    direct = RadiomicsFeatureExtractor(yaml.safe_load(preset(platform, "ct"))).execute(
        str(image), str(mask), label=label
    )
    expected = {k: float(v) for k, v in direct.items() if not k.startswith("diagnostics_")}
    got = {f["name"]: f["value"] for f in result["features"]}
    assert got == expected  # the same floats, not approximately
    assert len(got) > 100 and len(result["settings_hash"]) == 64 and result["pyradiomics_version"]
    assert Extraction.model_validate(result).model_dump() == result  # the answer is the documented model, exactly
    ibsi = {f["name"]: f["ibsi_code"] for f in result["features"]}
    assert ibsi["original_glcm_ClusterTendency"] and ibsi["original_firstorder_Mean"]


def test_bad_inputs_are_named(platform: Platform, nodule: tuple[Path, Path, int], tmp_path: Path) -> None:
    image, mask, label = nodule
    empty = sitk.ReadImage(str(mask)) * 0
    sitk.WriteImage(empty, str(tmp_path / "empty.nii.gz"))
    shifted = sitk.ReadImage(str(mask))
    shifted.SetOrigin([v + 37.0 for v in shifted.GetOrigin()])
    sitk.WriteImage(shifted, str(tmp_path / "elsewhere.nii.gz"))
    original = sitk.ReadImage(str(mask))
    coarser = sitk.Resample(
        original,
        [max(1, n // 2) for n in original.GetSize()],
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        original.GetOrigin(),
        [2 * v for v in original.GetSpacing()],
        original.GetDirection(),
    )
    sitk.WriteImage(coarser, str(tmp_path / "coarser.nii.gz"))
    (tmp_path / "garbage.nii.gz").write_bytes(b"not an image")
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as client:
        cases = {
            "EMPTY_MASK": (tmp_path / "empty.nii.gz", {"preset": "ct"}),
            "MASK_OUTSIDE_IMAGE": (tmp_path / "elsewhere.nii.gz", {"preset": "ct"}),
            "GEOMETRY_MISMATCH": (tmp_path / "coarser.nii.gz", {"preset": "ct"}),
            "INVALID_IMAGE": (tmp_path / "garbage.nii.gz", {"preset": "ct"}),
            "INVALID_SETTINGS": (mask, {"settings_yaml": "setting:\n  binWidth: -3\n"}),
            "PRESET_NOT_FOUND": (mask, {"preset": "ultrasound"}),
        }
        for reason, (given, how) in cases.items():
            with pytest.raises(ApiError) as refused:
                client.extract_features(image, given, label=label, **how)  # type: ignore[arg-type]
            assert refused.value.reason == reason, (reason, refused.value)
            assert refused.value.status in (404, 422)


def test_the_ibsi_report_on_the_command_line(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    signed = runner.invoke(
        app,
        ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url],
        input=platform.admin_password,
    )
    assert signed.exit_code == 0, signed.output
    report = runner.invoke(app, ["radiomics", "ibsi-report", "--url", platform.url])
    assert report.exit_code == 0, report.output
    assert "RNU0" in report.output and "match" in report.output and "mismatch" not in report.output.split("\n")[-2]
    rows = platform.gateway.get("/api/v1/radiomics/ibsi-report").json()["rows"]
    assert len(rows) > 100 and not [r for r in rows if r["status"] == "mismatch"]


def test_features_of_phantom_nodules_select_a_model_above_chance(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A feature table of phantom nodules (shape and first order, extracted directly), selected through the command
    line: benign and malignant nodules are told apart well above chance, with selection inside the folds."""
    manifest = radscholar_phantoms.generate("ct", 12, 2, 41, tmp_path / "ct", shape=(24, 64, 64))
    assert manifest.root is not None
    params = {
        "setting": {"binWidth": 25, "label": 1},
        "imageType": {"Original": {}},
        "featureClass": {"shape": [], "firstorder": []},
    }
    rows = []
    for case in json.loads((manifest.root / "manifest.json").read_text())["cases"]:
        series = case["series"][0]
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(manifest.root / series["path"])))
        image, mask = reader.Execute(), sitk.ReadImage(str(manifest.root / series["mask"]))
        mask.CopyInformation(image)
        for lesion in series["lesions"]:
            values = RadiomicsFeatureExtractor(params).execute(image, mask, label=lesion["lesion_id"])
            features = {k: float(v) for k, v in values.items() if not k.startswith("diagnostics_")}
            rows.append(
                {
                    "patient": case["patient_id"],
                    "lesion": f"{series['series_instance_uid']}/{lesion['lesion_id']}",
                    "malignant": int(lesion["class"] == "malignant"),
                    **features,
                }
            )
    table = tmp_path / "features.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    signed = runner.invoke(
        app,
        ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url],
        input=platform.admin_password,
    )
    assert signed.exit_code == 0, signed.output
    selected = tmp_path / "selected.csv"
    result = runner.invoke(
        app,
        ["radiomics", "select", str(table), "--outcome", "malignant", "--group", "patient", "--id", "lesion",
         "--step", "variance", "--step", "correlation:threshold=0.9", "--step", "mrmr:k=5", "--folds", "3",
         "--seed", "7", "--out", str(selected), "--url", platform.url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    auc = float(result.output.split("ROC AUC ")[1].split(" ")[0])
    assert auc > 0.75, result.output
    written = pd.read_csv(selected)
    assert {"patient", "lesion", "malignant"} <= set(written.columns) and 1 <= written.shape[1] - 3 <= 5
    bad = runner.invoke(
        app, ["radiomics", "select", str(table), "--outcome", "nope", "--step", "mrmr", "--url", platform.url]
    )
    assert bad.exit_code == 1 and "UNKNOWN_COLUMN" in bad.output


def test_a_saved_preset_extracts_like_its_settings(
    platform: Platform, nodule: tuple[Path, Path, int], tmp_path: Path
) -> None:
    image, mask, label = nodule
    settings = {
        "setting": {"binWidth": 10, "label": 1},
        "imageType": {"Original": {}},
        "featureClass": {"firstorder": []},
    }
    (tmp_path / "fo.yaml").write_text(yaml.safe_dump(settings))
    runner = CliRunner()
    home = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    signed = runner.invoke(
        app, ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url],
        input=platform.admin_password, env=home,
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    preset_id = f"first-order-{tmp_path.name[-6:].lower().replace('_', '-')}"
    settings_file = str(tmp_path / "fo.yaml")
    saved = runner.invoke(
        app,
        ["radiomics", "save-preset", preset_id, settings_file, "--name", "First order", "--url", platform.url],
        env=home,
    )
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(app, ["radiomics", "presets", "--url", platform.url], env=home)
    assert preset_id in listed.output and platform.admin_username in listed.output
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as client:
        result = client.extract_features(image, mask, preset=preset_id, label=label)
        direct = RadiomicsFeatureExtractor(settings).execute(str(image), str(mask), label=label)
        assert {f["name"]: f["value"] for f in result["features"]} == {
            k: float(v) for k, v in direct.items() if not k.startswith("diagnostics_")
        }
        bad = tmp_path / "bad.yaml"
        bad.write_text("setting: {binCount: 0}\n")
        with pytest.raises(ApiError) as refused:
            client.save_preset("broken", "Broken", bad.read_text())
        assert refused.value.reason == "INVALID_SETTINGS"
    deleted = runner.invoke(app, ["radiomics", "delete-preset", preset_id, "--url", platform.url], env=home)
    assert deleted.exit_code == 0, deleted.output


def test_feature_stability_between_annotators(platform: Platform, tmp_path: Path) -> None:
    """Two annotators' features of 12 regions: one feature agrees closely, one not at all; the ICCs equal the
    stability module's, and only the agreeing feature is stable."""
    rng = np.random.default_rng(3)
    truth = rng.normal(100, 20, 12)
    rows = []
    for rater, noise in (("anna", 0.0), ("ben", 1.0)):
        for region, value in enumerate(truth):
            rows.append({"lesion": f"L{region}", "reader": rater, "patient": f"P{region // 2}",
                         "volume": value + noise * rng.normal(0, 1), "texture": rng.normal(0, 1)})  # fmt: skip
    table = tmp_path / "readers.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    token = platform.login(platform.admin_username, platform.admin_password)["access_token"]
    with Client(platform.url, token=token) as client:
        result = client.feature_stability(table, "lesion", "reader", ids=["patient"], threshold=0.9)
        assert (result["targets"], result["raters"], result["stable"]) == (12, 2, ["volume"])
        frame = pd.DataFrame(rows)
        for feature in ("volume", "texture"):
            ratings = frame.pivot(index="lesion", columns="reader", values=feature).to_numpy()
            assert result["icc"][feature] == pytest.approx(icc(ratings, "ICC(3,1)"), abs=1e-12)
        with pytest.raises(ApiError) as refused:
            client.feature_stability(table, "lesion", "nobody")
        assert refused.value.reason == "UNKNOWN_COLUMN"
