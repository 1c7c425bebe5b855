"""Feature robustness: ICC against Shrout & Fleiss and a direct ANOVA, perturbed masks, ICC on CT phantom nodules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import yaml
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm

import radscholar_phantoms
from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.settings import ExtractionSettings, presets, validate_settings
from radscholar_radiomics.domain.stability import (
    ICC_KINDS,
    feature_icc,
    icc,
    perturbation_stability,
    perturbed_masks,
    stable_features,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:radiomics.imageoperations")

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges, and the ICCs the paper reports (Table 4).
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
PUBLISHED = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71}

SEED = 3  # three CT cases with seven nodules between them, 4.6 to 29 mm, on 1.4 x 1.4 x 6.7 mm voxels
# In-plane erosion and dilation: a 3D ball of one voxel takes 6.7 mm off in z, emptying four of the seven nodules
# (which feature_icc then leaves out for every perturbation).
IN_PLANE = (1, 1, 0)


@pytest.mark.parametrize("kind", ICC_KINDS)
def test_icc_reproduces_shrout_and_fleiss(kind: str) -> None:
    assert round(icc(SHROUT_FLEISS, kind), 2) == PUBLISHED[kind]


def anova_icc(ratings: np.ndarray, kind: str) -> float:
    """The ICC from statsmodels' ANOVA of the long-format table, independently of ``icc``'s own sums of squares."""
    n, k = ratings.shape
    long = pd.DataFrame(
        [(value, target, rater) for (target, rater), value in np.ndenumerate(ratings)],
        columns=["value", "target", "rater"],
    )
    if kind == "ICC(1,1)":
        one_way = anova_lm(ols("value ~ C(target)", data=long).fit())
        ms_rows, ms_within = (one_way["sum_sq"] / one_way["df"]).to_numpy()
        return float((ms_rows - ms_within) / (ms_rows + (k - 1) * ms_within))
    two_way = anova_lm(ols("value ~ C(target) + C(rater)", data=long).fit())
    ms_rows, ms_columns, ms_error = (two_way["sum_sq"] / two_way["df"]).to_numpy()
    if kind == "ICC(2,1)":
        return float((ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_columns - ms_error) / n))
    return float((ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error))


@pytest.mark.parametrize("kind", ICC_KINDS)
@pytest.mark.parametrize("shape", [(6, 4), (15, 3), (40, 9)])
def test_icc_matches_a_direct_anova(kind: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    ratings = rng.normal(size=(shape[0], 1)) * 3 + rng.normal(size=shape) + rng.normal(size=(1, shape[1]))
    assert icc(ratings, kind) == pytest.approx(anova_icc(ratings, kind), abs=1e-10)
    assert icc(SHROUT_FLEISS, kind) == pytest.approx(anova_icc(SHROUT_FLEISS.astype(float), kind), abs=1e-10)


@pytest.mark.parametrize("kind", ICC_KINDS)
def test_perfect_agreement_is_one(kind: str) -> None:
    column = np.array([1.0, 4.0, 2.5, 8.0, -3.0])
    assert icc(np.column_stack([column] * 3), kind) == pytest.approx(1.0)
    assert icc(np.full((4, 3), 7.0), kind) == 1.0  # nothing to compare: taken as perfect agreement


def test_a_raters_offset_breaks_absolute_agreement_but_not_consistency() -> None:
    column = np.array([1.0, 4.0, 2.5, 8.0, -3.0])
    ratings = np.column_stack([column, column + 2.0, column - 1.0])
    assert icc(ratings, "ICC(3,1)") == pytest.approx(1.0)
    assert icc(ratings, "ICC(2,1)") < 0.95
    assert icc(ratings, "ICC(1,1)") < 0.95
    each_rater_constant = np.tile([1.0, 3.0, 5.0], (4, 1))  # targets indistinguishable, raters offset
    assert icc(each_rater_constant, "ICC(3,1)") == 1.0
    assert icc(each_rater_constant, "ICC(2,1)") == 0.0


def reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidArgument) as error:
        call()
    return error.value.reason


def test_icc_refusals() -> None:
    missing = SHROUT_FLEISS.astype(float)
    missing[2, 1] = np.nan
    assert reason(lambda: icc(missing)) == "MISSING_RATINGS"
    assert reason(lambda: icc(SHROUT_FLEISS[:1])) == "TOO_FEW_RATINGS"
    assert reason(lambda: icc(SHROUT_FLEISS[:, :1])) == "TOO_FEW_RATINGS"
    assert reason(lambda: icc(SHROUT_FLEISS, "ICC(2,k)")) == "UNKNOWN_ICC_KIND"
    assert reason(lambda: icc(SHROUT_FLEISS.ravel())) == "INVALID_RATINGS"


def test_feature_icc_uses_common_targets_and_skips_incomplete_features() -> None:
    judges = {
        f"judge{j}": {f"case{t}": {"a": float(SHROUT_FLEISS[t, j]), "b": float(t)} for t in range(6)} for j in range(4)
    }
    judges["judge0"]["case9"] = {"a": 100.0, "b": 9.0}  # rated by one judge only: not compared
    del judges["judge3"]["case2"]["b"]  # "b" lacks a rating: skipped
    judges["judge1"]["case4"]["c"] = 1.0  # "c" rated once: skipped
    iccs = feature_icc(judges, "ICC(2,1)")
    assert iccs == {"a": pytest.approx(icc(SHROUT_FLEISS, "ICC(2,1)"))}
    assert reason(lambda: feature_icc({"judge0": judges["judge0"]})) == "TOO_FEW_RATINGS"
    assert reason(lambda: feature_icc({"r1": {"case0": {"a": 1.0}}, "r2": {"case1": {"a": 2.0}}})) == "TOO_FEW_RATINGS"


def test_stable_features() -> None:
    iccs = {"zeta": 0.9, "alpha": 0.75, "mid": 0.74, "low": -0.2}
    assert stable_features(iccs) == ["alpha", "zeta"]
    assert stable_features(iccs, 0.0) == ["alpha", "mid", "zeta"]
    for threshold in (-0.1, 1.5, float("nan")):
        assert reason(lambda threshold=threshold: stable_features(iccs, threshold)) == "INVALID_THRESHOLD"


def mask_of(array: np.ndarray, spacing: tuple[float, float, float] = (0.7, 0.8, 2.5)) -> sitk.Image:
    mask = sitk.GetImageFromArray(array.astype(np.uint8))
    mask.SetSpacing(spacing)
    mask.SetOrigin((-10.0, 5.0, 3.0))
    return mask


def voxels(mask: sitk.Image, label: int) -> int:
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == label))


def test_perturbed_masks_erode_dilate_and_shift() -> None:
    array = np.zeros((12, 14, 16), np.uint8)  # numpy order (z, y, x)
    array[3:8, 4:10, 5:11] = 2
    array[0, 0, 0] = 1  # another region: left out
    mask = mask_of(array)
    variants = perturbed_masks(mask, label=2)
    shifts = ["shift+x1", "shift+y1", "shift+z1", "shift-x1", "shift-y1", "shift-z1"]
    assert list(variants) == ["original", "erode1", "dilate1", *shifts]
    counts = {name: voxels(variant, 2) for name, variant in variants.items()}
    assert counts["erode1"] < counts["original"] == 5 * 6 * 6 < counts["dilate1"]
    for variant in variants.values():
        assert set(np.unique(sitk.GetArrayViewFromImage(variant))) == {0, 2}
        assert (variant.GetSize(), variant.GetSpacing(), variant.GetOrigin()) == (
            mask.GetSize(),
            mask.GetSpacing(),
            mask.GetOrigin(),
        )

    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(variants["original"])
    centre = np.array(statistics.GetCentroid(2))
    for name, step in zip(shifts, [*np.eye(3), *-np.eye(3)], strict=True):
        assert counts[name] == counts["original"]
        statistics.Execute(variants[name])
        assert np.array(statistics.GetCentroid(2)) - centre == pytest.approx(step * mask.GetSpacing(), abs=1e-9)


def test_perturbed_masks_at_the_edge_and_for_one_voxel() -> None:
    array = np.zeros((6, 6, 6), np.uint8)
    array[2:4, 2:4, 0:2] = 1  # touches the x = 0 face
    variants = perturbed_masks(mask_of(array), shifts_voxels=[(-1, 0, 0), (0, 0, 2)])
    assert voxels(variants["shift-x1"], 1) == 4  # voxels moved past the edge are lost, not wrapped
    assert sitk.GetArrayViewFromImage(variants["shift-x1"])[:, :, -1].max() == 0
    assert voxels(variants["shift+z2"], 1) == 8

    single = np.zeros((5, 5, 5), np.uint8)
    single[2, 2, 2] = 1
    variants = perturbed_masks(mask_of(single), erode=1, dilate=2)
    assert "erode1" not in variants
    assert voxels(variants["original"], 1) == 1 < voxels(variants["dilate2"], 1)
    in_plane = perturbed_masks(mask_of(single), erode=0, dilate=(1, 1, 0), shifts_voxels=[(1, -1, 0)])
    assert list(in_plane) == ["original", "dilate[1,1,0]", "shift+x1-y1"]
    assert voxels(in_plane["dilate[1,1,0]"], 1) == 9  # SimpleITK's ball of radius 1: the 3 x 3 square in-plane
    assert sitk.GetArrayViewFromImage(in_plane["shift+x1-y1"])[2, 1, 3] == 1  # numpy order (z, y, x)

    assert reason(lambda: perturbed_masks(mask_of(single), label=3)) == "UNKNOWN_LABEL"
    assert reason(lambda: perturbed_masks(mask_of(single), shifts_voxels=[(0, 0, 0)])) == "INVALID_PERTURBATION"
    assert reason(lambda: perturbed_masks(mask_of(single), shifts_voxels=[(1, 0)])) == "INVALID_PERTURBATION"
    assert reason(lambda: perturbed_masks(mask_of(single), erode=-1)) == "INVALID_PERTURBATION"
    assert reason(lambda: perturbed_masks(mask_of(single), dilate=(1, 1))) == "INVALID_PERTURBATION"


def fast_ct() -> ExtractionSettings:
    """The "ct" preset on the original image only, first-order and shape features: a few hundred ms a region."""
    params = yaml.safe_load(next(p for p in presets() if p.id == "ct").settings_yaml)
    params["imageType"] = {"Original": {}}
    params["featureClass"] = {"firstorder": None, "shape": None}
    return validate_settings(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def nodule_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, float]]]:
    """tables[perturbation][nodule][feature] over every nodule of three phantom CT cases."""
    out = tmp_path_factory.mktemp("phantom")
    radscholar_phantoms.generate("ct", 3, 1, SEED, out, shape=(24, 64, 64))
    settings = fast_ct()
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for case in json.loads((out / "manifest.json").read_text())["cases"]:
        for series in case["series"]:
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out / series["path"])))
            image, mask = reader.Execute(), sitk.ReadImage(str(out / Path(series["mask"])))
            for lesion in series["lesions"]:
                region = f"{series['path']}#{lesion['lesion_id']}"
                by_perturbation = perturbation_stability(
                    image, mask, settings, label=lesion["lesion_id"], erode=IN_PLANE, dilate=IN_PLANE
                )
                assert {"original", "dilate[1,1,0]", "shift+x1", "shift-z1"} <= set(by_perturbation)
                for perturbation, features in by_perturbation.items():
                    tables.setdefault(perturbation, {})[region] = features
    assert len(tables["original"]) == 7
    assert 5 <= len(tables["erode[1,1,0]"]) < 7  # the smallest nodule does not survive erosion: dropped
    return tables


def test_feature_icc_on_phantom_nodules(nodule_tables: dict[str, dict[str, dict[str, float]]]) -> None:
    iccs = feature_icc(nodule_tables)
    assert iccs["original_shape_VoxelVolume"] > 0.9
    assert feature_icc(nodule_tables, "ICC(2,1)")["original_shape_VoxelVolume"] > 0.9
    assert all(name.startswith(("original_shape_", "original_firstorder_")) for name in iccs)
    stable = stable_features(iccs)
    assert stable == sorted(stable)
    assert "original_shape_VoxelVolume" in stable
    assert 0 < len(stable) < len(iccs)
    assert stable_features(iccs, 0.0) == sorted(name for name, value in iccs.items() if value >= 0)
