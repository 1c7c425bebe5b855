"""Extraction on a CT phantom nodule: pyradiomics' exact values, the comprehensive preset, each input error."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from radiomics.featureextractor import RadiomicsFeatureExtractor

import radscholar_phantoms
from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain import extraction
from radscholar_radiomics.domain.extraction import extract, provenance, read_image
from radscholar_radiomics.domain.settings import ExtractionSettings, presets, validate_settings

# pyradiomics' LBP 3D imports scipy.special.sph_harm (deprecated, gone in SciPy 1.17, when LBP 3D would silently
# yield no image: the comprehensive test counts its images) and warns at every call.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:radiomics.imageoperations")

SEED = 5  # one case, one 10 mm nodule (label 1, 35 voxels at 1.4 x 1.4 x 6.7 mm): quick to extract


@dataclass(frozen=True)
class Nodule:
    image: sitk.Image
    mask: sitk.Image


def preset(preset_id: str) -> ExtractionSettings:
    return validate_settings(next(p for p in presets() if p.id == preset_id).settings_yaml)


@pytest.fixture(scope="module")
def nodule(tmp_path_factory: pytest.TempPathFactory) -> Nodule:
    out = tmp_path_factory.mktemp("phantom")
    radscholar_phantoms.generate("ct", 1, 1, SEED, out, shape=(24, 64, 64))
    series = json.loads((out / "manifest.json").read_text())["cases"][0]["series"][0]
    assert [lesion["lesion_id"] for lesion in series["lesions"]] == [1]
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out / series["path"])))
    return Nodule(reader.Execute(), sitk.ReadImage(str(out / series["mask"])))


def like(mask: sitk.Image, array: np.ndarray) -> sitk.Image:
    """A mask with the given voxels on the grid of ``mask``."""
    made = sitk.GetImageFromArray(array.astype(np.uint8))
    made.CopyInformation(mask)
    return made


def failure(nodule: Nodule, mask: sitk.Image, settings: ExtractionSettings, label: int = 1) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as error:
        extract(nodule.image, mask, settings, label=label)
    return error.value


def test_ct_values_are_exactly_pyradiomics(nodule: Nodule) -> None:
    settings = preset("ct")
    features = extract(nodule.image, nodule.mask, settings)
    direct = RadiomicsFeatureExtractor(settings.params).execute(nodule.image, nodule.mask, label=1)
    expected = {name: value for name, value in direct.items() if not name.startswith("diagnostics_")}
    assert list(features) == list(expected)
    assert all(type(value) is float for value in features.values())
    np.testing.assert_array_equal(list(features.values()), [float(value) for value in expected.values()])
    assert len(features) == 14 + 12 * 93  # shape + (original, 3 LoG, 8 wavelet) x first-order and texture
    assert 300 < features["original_shape_VoxelVolume"] < 1000  # a 10 mm nodule, in mm3


def test_sum_average_is_extracted_without_a_warning_per_image(nodule: Nodule, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="radiomics"):
        features = extract(nodule.image, nodule.mask, preset("ct"))
    assert "original_glcm_SumAverage" in features
    assert features["original_glcm_SumAverage"] == pytest.approx(2 * features["original_glcm_JointAverage"])
    assert not [r for r in caplog.records if r.name == "radiomics.glcm"]  # pyradiomics warned once per image (12)


def test_comprehensive_preset_gives_over_4000_features(nodule: Nodule) -> None:
    features = extract(nodule.image, nodule.mask, preset("comprehensive"))
    assert len(features) > 4000
    assert len(features) == 14 + 48 * 93
    images = Counter(name.split("_")[0] for name in features)
    assert len(images) == 48
    for image in ("original", "wavelet-HLH", "wavelet4-LLL", "log-sigma-5-0-mm-3D", "square", "squareroot"):
        assert image in images
    for image in ("logarithm", "exponential", "gradient", "lbp-3D-m1", "lbp-3D-m3", "lbp-3D-k"):
        assert image in images
    assert {name.split("_")[1] for name in features} == {
        "shape",
        "firstorder",
        "glcm",
        "glrlm",
        "glszm",
        "ngtdm",
        "gldm",
    }
    assert np.isfinite(list(features.values())).mean() > 0.99


def test_provenance_names_versions_hash_and_what_was_computed() -> None:
    settings = preset("ct")
    record = provenance(settings)
    assert record["pyradiomics_version"].lstrip("v").startswith("3.")
    assert record["settings_hash"] == settings.settings_hash
    assert record["image_types"] == "LoG,Original,Wavelet"
    assert record["feature_classes"] == "firstorder,glcm,gldm,glrlm,glszm,ngtdm,shape"
    assert record["simpleitk_version"]


def test_empty_mask(nodule: Nodule) -> None:
    error = failure(nodule, like(nodule.mask, np.zeros(nodule.mask.GetSize()[::-1])), preset("ct"))
    assert error.reason == "EMPTY_MASK"


def test_unknown_label_lists_the_labels_present(nodule: Nodule) -> None:
    error = failure(nodule, nodule.mask, preset("ct"), label=2)
    assert error.reason == "UNKNOWN_LABEL"
    assert "label 2" in error.message
    assert error.details["labels"] == "1"


def test_mask_shifted_outside_the_image(nodule: Nodule) -> None:
    shifted = sitk.Image(nodule.mask)
    shifted.SetOrigin((nodule.mask.GetOrigin()[0] + 200.0, *nodule.mask.GetOrigin()[1:]))
    error = failure(nodule, shifted, preset("ct"))
    assert error.reason == "MASK_OUTSIDE_IMAGE"
    assert "entirely outside" in error.message
    assert error.details["overlap"] == "none"

    straddling = sitk.Image(nodule.mask)  # the nodule (columns 44-50 of 64) moved 25 mm: over the right-hand edge
    straddling.SetOrigin((nodule.mask.GetOrigin()[0] + 25.0, *nodule.mask.GetOrigin()[1:]))
    error = failure(nodule, straddling, preset("ct"))
    assert error.reason == "MASK_OUTSIDE_IMAGE"
    assert "partly outside" in error.message
    assert error.details["overlap"] == "partial"


def test_mask_on_another_grid_names_what_differs(nodule: Nodule) -> None:
    coarse_spacing = [2 * s for s in nodule.mask.GetSpacing()]
    coarse_size = [n // 2 for n in nodule.mask.GetSize()]
    coarse = sitk.Resample(
        nodule.mask,
        coarse_size,
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        nodule.mask.GetOrigin(),
        coarse_spacing,
        nodule.mask.GetDirection(),
    )
    error = failure(nodule, coarse, preset("ct"))
    assert error.reason == "GEOMETRY_MISMATCH"
    assert set(error.details) == {"size", "spacing"}
    assert "(64, 64, 24)" in error.message
    assert "(32, 32, 12)" in error.message
    assert "differs by up to 6.667 mm" in error.message

    nudged = sitk.Image(nodule.mask)
    nudged.SetOrigin((nodule.mask.GetOrigin()[0] + 0.5, *nodule.mask.GetOrigin()[1:]))
    error = failure(nodule, nudged, preset("ct"))
    assert error.reason == "GEOMETRY_MISMATCH"
    assert set(error.details) == {"origin"}
    assert "differs by up to 0.5 mm" in error.message

    # Opting in to pyradiomics' mask correction (or a wider tolerance) accepts both.
    correcting = validate_settings(preset("ct").canonical_yaml.replace("setting:\n", "setting:\n  correctMask: true\n"))
    assert extract(nodule.image, coarse, correcting)["original_shape_VoxelVolume"] > 0
    tolerant = validate_settings("setting: {geometryTolerance: 1.0}\nimageType: {Original: {}}\nfeatureClass: {shape:}")
    assert extract(nodule.image, nudged, tolerant)["original_shape_VoxelVolume"] > 0


def test_mask_of_another_dimension(nodule: Nodule) -> None:
    flat = sitk.GetImageFromArray(np.ones((64, 64), dtype=np.uint8))
    error = failure(nodule, flat, preset("ct"))
    assert error.reason == "GEOMETRY_MISMATCH"
    assert "2D" in error.message


def test_single_voxel_region(nodule: Nodule) -> None:
    voxels = np.zeros(nodule.mask.GetSize()[::-1])
    voxels[12, 30, 30] = 1
    error = failure(nodule, like(nodule.mask, voxels), preset("ct"))
    assert error.reason == "TOO_FEW_VOXELS"
    assert "single voxel" in error.message


def test_flat_region_is_refused_by_pyradiomics_check(nodule: Nodule) -> None:
    # A line of voxels along x passes our checks; pyradiomics' minimumROIDimensions (2) refuses it after resampling.
    voxels = np.zeros(nodule.mask.GetSize()[::-1])
    voxels[12, 30, 28:33] = 1
    error = failure(nodule, like(nodule.mask, voxels), validate_settings(preset("ct").canonical_yaml))
    assert error.reason == "TOO_FEW_VOXELS"
    assert "too few dimensions" in error.message


def test_region_emptied_by_resegmentation(nodule: Nodule) -> None:
    # Every voxel at -1024 HU, below the CT preset's resegmentRange [-1000, 3000]: nothing is left to extract from.
    air = sitk.Image(nodule.image.GetSize(), nodule.image.GetPixelID()) - 1024
    air.CopyInformation(nodule.image)
    error = failure(Nodule(air, nodule.mask), nodule.mask, preset("ct"))
    assert error.reason == "TOO_FEW_VOXELS"
    assert "resegment" in error.message.lower()


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nii", "CT.NRRD"])
def test_read_image_round_trip(nodule: Nodule, tmp_path: Path, name: str) -> None:
    path = tmp_path / name.lower()
    sitk.WriteImage(nodule.image, str(path))
    image = read_image(path.read_bytes(), name)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(nodule.image))
    np.testing.assert_allclose(image.GetSpacing(), nodule.image.GetSpacing(), rtol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), nodule.image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(image.GetDirection(), nodule.image.GetDirection(), atol=1e-6)


def same_image(read: sitk.Image, expected: sitk.Image) -> None:
    """Voxel for voxel and the geometry to the last bit: what ITK itself reads from the file."""
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(read), sitk.GetArrayViewFromImage(expected))
    assert (read.GetSpacing(), read.GetOrigin(), read.GetDirection()) == (
        expected.GetSpacing(),
        expected.GetOrigin(),
        expected.GetDirection(),
    )


@pytest.mark.parametrize("over_limit", [False, True])
def test_a_gzipped_nifti_reads_exactly_as_itk_reads_it(
    nodule: Nodule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, over_limit: bool
) -> None:
    # Inflated by ISA-L, then read by ITK's NIfTI reader; over the limit, ITK reads the .nii.gz itself.
    if over_limit:
        monkeypatch.setattr(extraction, "INFLATED_LIMIT", 1000)
    for picture, name in ((nodule.image, "ct.nii.gz"), (nodule.mask, "mask.nii.gz")):
        path = tmp_path / name
        sitk.WriteImage(picture, str(path), useCompression=True)
        same_image(read_image(path.read_bytes(), name), sitk.ReadImage(str(path)))


def test_a_gzipped_nifti_with_trailing_bytes_is_read_and_a_truncated_one_refused(
    nodule: Nodule, tmp_path: Path
) -> None:
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(nodule.image, str(path), useCompression=True)
    trailing = path.read_bytes() + b"\0" * 100  # zlib's gzread ignores what follows the last member, ISA-L does not
    (tmp_path / "trailing.nii.gz").write_bytes(trailing)
    same_image(read_image(trailing, "trailing.nii.gz"), sitk.ReadImage(str(tmp_path / "trailing.nii.gz")))
    truncated = path.read_bytes()[: path.stat().st_size // 2]  # ITK would read it, the lost half zeros
    with pytest.raises(InvalidArgument) as error:
        read_image(truncated, "truncated.nii.gz")
    assert error.value.reason == "INVALID_IMAGE"
    assert "cannot read 'truncated.nii.gz' as Nifti: it is truncated" in error.value.message


@pytest.mark.parametrize(
    ("data", "name", "said"),
    [
        (b"not an image at all", "scan.nii.gz", "cannot read 'scan.nii.gz' as Nifti: the file is not recognized"),
        (b"NRRD0004\ngarbage", "scan.nrrd", "cannot read 'scan.nrrd' as Nrrd"),
        (b"", "empty.nii", "cannot read 'empty.nii'"),
        (b"\x89PNG\r\n", "scan.png", "'scan.png' is not a NIfTI or NRRD file"),
    ],
)
def test_read_image_refuses_what_it_cannot_read(data: bytes, name: str, said: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        read_image(data, name)
    assert error.value.reason == "INVALID_IMAGE"
    assert said in error.value.message
    assert error.value.details["file"] == name
