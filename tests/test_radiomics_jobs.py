"""Batch extraction on a real Ray head: through the gateway and the SDK, from uploaded pairs and from a dataset version.

Bad regions are reported with their reasons while the batch finishes; a re-run reuses what is done; the table
equals pyradiomics; the comprehensive preset over a dataset version gives a model that tells benign from malignant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import SimpleITK as sitk
import yaml
from radiomics.featureextractor import RadiomicsFeatureExtractor
from scipy.stats import mannwhitneyu
from typer.testing import CliRunner

import radscholar_phantoms
from radscholar import Client
from radscholar.cli import app
from radscholar_radiomics.domain.batch import ID_COLUMNS
from radscholar_radiomics.domain.stability import feature_icc
from tests.conftest import Platform
from tests.lesion_datasets import lesion_dataset


def admin(platform: Platform) -> Client:
    return Client(platform.url, token=platform.login(platform.admin_username, platform.admin_password)["access_token"])


def series_image(root: Path, series: dict[str, Any]) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(root / series["path"])))
    return reader.Execute()


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three phantom CTs with their lesion masks as NIfTI, and three bad masks: empty, elsewhere, on another grid."""
    out = tmp_path_factory.mktemp("batch")
    manifest = radscholar_phantoms.generate("ct", 3, 1, 17, out / "ct", shape=(24, 64, 64))
    assert manifest.root is not None
    good = []
    for case in json.loads((manifest.root / "manifest.json").read_text())["cases"]:
        series = case["series"][0]
        image = out / f"{case['patient_id']}.nii.gz"
        sitk.WriteImage(series_image(manifest.root, series), str(image))
        good.append((image, manifest.root / series["mask"], case["patient_id"], len(series["lesions"])))
    image, mask = good[0][0], sitk.ReadImage(str(good[0][1]))
    empty, elsewhere, coarse = out / "empty.nii.gz", out / "elsewhere.nii.gz", out / "coarse.nii.gz"
    sitk.WriteImage(mask * 0, str(empty))
    moved = sitk.Image(mask)
    moved.SetOrigin(tuple(o + 500.0 for o in mask.GetOrigin()))
    sitk.WriteImage(moved, str(elsewhere))
    resampled = sitk.Image(mask)
    resampled.SetSpacing(tuple(s * 1.1 for s in mask.GetSpacing()))
    sitk.WriteImage(resampled, str(coarse))
    bad = [(image, empty, "empty"), (image, elsewhere, "elsewhere"), (image, coarse, "coarse")]
    return {"good": good, "bad": bad}


def test_a_batch_reports_bad_regions_finishes_and_reuses_what_is_done(
    platform: Platform, ray_head: str, pairs: dict[str, Any], tmp_path: Path
) -> None:
    files = [(image, mask) for image, mask, _, _ in pairs["good"]] + [(image, mask) for image, mask, _ in pairs["bad"]]
    cases = [case for _, _, case, _ in pairs["good"]] + [case for _, _, case in pairs["bad"]]
    with admin(platform) as client:
        started = client.start_extraction_job_on_pairs(files, preset="ct", case_ids=cases)
        assert started["series"] == 6 and started["job"]["state"] == "QUEUED"
        job_id = started["job"]["id"]
        events = list(client.watch_radiomics_job(job_id))
        job = events[-1]["job"]
        assert job["state"] == "SUCCEEDED", job
        # Progress came as it went: region counts rising to the total, with an ETA along the way.
        progress = [e["job"]["progress"] for e in events if e["job"]["state"] == "RUNNING"]
        completed = [p["completed"] for p in progress if p["total"]]
        assert completed == sorted(completed) and len(set(completed)) > 1
        assert any(p.get("eta_seconds") is not None for p in progress if 0 < p["fraction"] < 1)
        lesions = sum(n for _, _, _, n in pairs["good"]) + 2  # the two bad-geometry masks' lesions fail in tasks
        assert job["progress"]["completed"] == job["progress"]["total"] == lesions
        logged = [line["message"] for e in events for line in e["log_lines"]]
        assert any("features in" in line for line in logged) and any("MASK_OUTSIDE_IMAGE" in line for line in logged)

        table = client.feature_table(job_id)
        assert table["rows"] == lesions - 2 and table["reused"] == 0 and table["features"] == 1130
        reasons = {f["case_id"]: f["reason"] for f in table["failures"]}
        assert reasons == {"empty": "EMPTY_MASK", "elsewhere": "MASK_OUTSIDE_IMAGE", "coarse": "GEOMETRY_MISMATCH"}
        assert "spacing" in next(f["message"] for f in table["failures"] if f["case_id"] == "coarse")
        no_variants = platform.gateway.get(f"/api/v1/radiomics/jobs/{job_id}/stability.csv")
        assert no_variants.status_code == 404 and no_variants.json()["error"]["reason"] == "NO_STABILITY"
        parquet = client.download_feature_table(job_id, tmp_path / "features.parquet")
        csv = client.download_feature_table(job_id, tmp_path / "features.csv")
        provenance = json.loads(pq.read_schema(parquet).metadata[b"radscholar.provenance"])
        assert provenance == table["provenance"]
        assert provenance["settings_hash"] == job["parameters"]["settings_hash"] and provenance["pyradiomics_version"]

    # The values are pyradiomics' own, region by region (each phantom lesion is one connected component).
    frame = pd.read_parquet(parquet)
    assert list(frame.columns[: len(ID_COLUMNS)]) == list(ID_COLUMNS)
    pd.testing.assert_frame_equal(
        frame, pd.read_csv(csv, keep_default_na=False), check_dtype=False, check_exact=False, rtol=1e-12
    )
    settings = yaml.safe_load(next(p for p in client_presets(platform) if p["id"] == "ct")["settings_yaml"])
    image, mask, case, _ = pairs["good"][1]
    for row in frame[frame["case_id"] == case].to_dict("records"):
        direct = RadiomicsFeatureExtractor(settings).execute(str(image), str(mask), label=int(row["mask_label"]))
        expected = {k: float(v) for k, v in direct.items() if not k.startswith("diagnostics_")}
        assert {k: row[k] for k in expected} == expected

    # The same batch again: every region is reused, the table is the same.
    with admin(platform) as client:
        again = client.start_extraction_job_on_pairs(files, preset="ct", case_ids=cases)
        assert client.wait_for_radiomics_job(again["job"]["id"])["state"] == "SUCCEEDED"
        second = client.feature_table(again["job"]["id"])
        assert second["reused"] == second["rows"] == lesions - 2
        repeated = pd.read_parquet(client.download_feature_table(again["job"]["id"], tmp_path / "again.parquet"))
    pd.testing.assert_frame_equal(repeated, frame)


def client_presets(platform: Platform) -> list[dict[str, Any]]:
    return platform.gateway.get("/api/v1/radiomics/presets").json()["presets"]  # type: ignore[no-any-return]


def test_a_job_is_cancelled_and_hidden_from_outsiders(platform: Platform, ray_head: str, pairs: dict[str, Any]) -> None:
    files = [(image, mask) for image, mask, _, _ in pairs["good"]]
    with admin(platform) as client:
        job_id = client.start_extraction_job_on_pairs(files, preset="comprehensive", job_id="cancel-me")["job"]["id"]
        assert job_id == "cancel-me"
        retried = client.start_extraction_job_on_pairs(files, preset="comprehensive", job_id="cancel-me")
        assert retried["job"]["id"] == "cancel-me"  # a retried request does not start a second job
        client.cancel_radiomics_job(job_id)
        assert client.wait_for_radiomics_job(job_id)["state"] == "CANCELLED"
        ended = platform.gateway.get(f"/api/v1/radiomics/jobs/{job_id}/features")
        assert ended.status_code == 409 and ended.json()["error"]["reason"] == "JOB_NOT_SUCCEEDED"
    _, token = platform.user(["researcher"])
    with platform.client(token) as outsider:
        hidden = outsider.get(f"/api/v1/radiomics/jobs/{job_id}")
        assert hidden.status_code == 404 and hidden.json()["error"]["reason"] == "JOB_NOT_FOUND"
        assert job_id not in [j["id"] for j in outsider.get("/api/v1/radiomics/jobs").json()["jobs"]]


def test_comprehensive_features_of_a_dataset_version_separate_benign_from_malignant(
    platform: Platform, ray_head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phantom CTs are uploaded, their lesions segmented and reviewed, the labels frozen; the batch job extracts the
    comprehensive preset per lesion, and features selected inside the folds tell benign from malignant."""
    labeled = lesion_dataset(
        platform, tmp_path / "ct", 40, 43, {"train": 0.7, "validation": 0.0, "test": 0.3, "seed": 3}
    )
    root, cases, dataset = labeled.root, labeled.cases, labeled.dataset

    # Through the command line: the batch job followed to its end, its table downloaded, then shown.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    login = ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url]
    assert runner.invoke(app, login, input=platform.admin_password).exit_code == 0
    path, job_id = tmp_path / "features.parquet", f"nodules-{root.name}"
    extract = ["radiomics", "extract", "--dataset", dataset["id"], "--preset", "comprehensive", "--job-id", job_id]
    extracted = runner.invoke(app, [*extract, "--out", str(path), "--url", platform.url])
    assert extracted.exit_code == 0 and "SUCCEEDED" in extracted.output, extracted.output
    shown = runner.invoke(app, ["radiomics", "features", job_id, "--url", platform.url])
    assert shown.exit_code == 0 and "EMPTY_MASK" in shown.output and "4478" in shown.output, shown.output
    status = runner.invoke(app, ["radiomics", "status", job_id, "--url", platform.url])
    assert status.exit_code == 0 and "SUCCEEDED" in status.output, status.output
    with admin(platform) as client:
        table = client.feature_table(job_id)
    lesions = [(c, lesion) for c in cases for lesion in c["series"][0]["lesions"]]
    assert table["rows"] == len(lesions) and table["features"] > 4000
    # A case without lesions was saved with an empty mask: reported, and the others went on.
    normal = {c["study_instance_uid"] for c in cases if not c["series"][0]["lesions"]}
    case_studies = {item["case_id"]: item["study_instance_uid"] for item in dataset["manifest"]["items"]}
    assert {case_studies[f["case_id"]] for f in table["failures"]} == normal
    assert {f["reason"] for f in table["failures"]} <= {"EMPTY_MASK"}
    assert table["provenance"]["dataset_id"] == dataset["id"]
    assert table["provenance"]["dataset_hash"] == dataset["content_hash"]
    frame = pd.read_parquet(path)
    splits = dataset["manifest"]["splits"]
    assert {(r["case_id"], r["split"]) for r in frame.to_dict("records")} <= set(splits.items())
    truth = sorted(lesion["class"] for _, lesion in lesions)
    assert sorted(frame["label_name"]) == truth and set(truth) == {"benign", "malignant"}

    with admin(platform) as client:
        selection = client.select_features(
            path,
            "label_name",
            [("variance", {}), ("correlation", {"threshold": 0.9}), ("mrmr", {"k": 5})],
            group="patient_id",  # the table's describing columns are known: none is taken for a feature
            folds=5,
            seed=7,
        )
    assert selection["cv_auc_mean"] > 0.75, selection

    # The feature table goes to the statistics service as a table of its own.
    with admin(platform) as client:
        stored = client.table_from_radiomics(job_id)
        compared = client.analyse(
            stored["id"], "test", test="mann_whitney_u", variable="original_shape_Sphericity", group="label_name"
        )
    assert stored["rows"] == len(frame) and stored["source"] == f"radiomics:{job_id}"
    by_class = [frame.loc[frame["label_name"] == name, "original_shape_Sphericity"] for name in ("benign", "malignant")]
    exact = mannwhitneyu(*by_class, method="exact").pvalue  # as R's wilcox.test: fewer than 50 a group, no ties
    assert compared["result"]["p_value"] == pytest.approx(exact, rel=1e-9)


def test_stability_as_a_job_gives_each_features_icc_across_mask_variants(
    platform: Platform, ray_head: str, pairs: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [(image, mask) for image, mask, _, _ in pairs["good"]]
    perturbations = {"erode": 1, "dilate": 1, "shift": False, "icc_kind": "ICC(2,1)", "threshold": 0.5}
    with admin(platform) as client:
        started = client.start_extraction_job_on_pairs(files, preset="ct", perturbations=perturbations)
        job = client.wait_for_radiomics_job(started["job"]["id"])
        assert job["state"] == "SUCCEEDED", job
        table = client.feature_table(job["id"])
        frame = pd.read_parquet(client.download_feature_table(job["id"], tmp_path / "variants.parquet"))
        stability = pd.read_csv(client.download_feature_table(job["id"], tmp_path / "icc.csv", stability=True))
        plain = platform.gateway.get(f"/api/v1/radiomics/jobs/{job['id']}/features").json()
    regions = frame["region_id"].nunique()
    assert regions == sum(n for _, _, _, n in pairs["good"])
    # Every region on its original mask and each variant (a variant too small to extract is left out): the rows
    # say which.
    assert sorted(frame["perturbation"].unique()) == ["dilate1", "erode1", "original"]
    assert (frame["perturbation"] == "original").sum() == (frame["perturbation"] == "dilate1").sum() == regions
    assert table["rows"] == len(frame) > 2 * regions and table["features"] == 1130
    assert plain["stable_features"] == table["stable_features"] == int(stability["stable"].sum()) > 0
    # The ICCs are those of the table's own values (domain/stability.py is checked against Shrout & Fleiss).
    features = [c for c in frame.columns if c not in ID_COLUMNS]
    rated = {
        variant: {row["region_id"]: {f: row[f] for f in features} for row in rows.to_dict("records")}
        for variant, rows in frame.groupby("perturbation")
    }
    expected = feature_icc(rated, "ICC(2,1)")
    got = dict(zip(stability["feature"], stability["icc"], strict=True))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert set(stability.loc[stability["stable"], "feature"]) == {f for f, v in expected.items() if v >= 0.5}
    # The command line shows the count and writes the same ICCs.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()
    login = ["login", "--username", platform.admin_username, "--password-stdin", "--url", platform.url]
    assert runner.invoke(app, login, input=platform.admin_password).exit_code == 0
    written = tmp_path / "from-cli.csv"
    shown = runner.invoke(
        app, ["radiomics", "features", job["id"], "--stability-out", str(written), "--url", platform.url]
    )
    assert shown.exit_code == 0 and f"{table['stable_features']} features stable" in shown.output, shown.output
    pd.testing.assert_frame_equal(pd.read_csv(written), stability)
