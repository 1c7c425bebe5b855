"""DX, MG and MR: valid files, SOP classes, modality tags, geometry and ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import (
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalXRayImageStorageForPresentation,
    MRImageStorage,
)

from radscholar_phantoms import MR_TISSUES, Manifest, build_case, generate

MR_SHAPE = (32, 64, 64)


@pytest.fixture(scope="module")
def planar(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Manifest, Path]]:
    root = tmp_path_factory.mktemp("planar")
    return {kind: (generate(kind, 4, 2, 21, root / kind), root / kind) for kind in ("dx", "mg")}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "sop_class", "spacing"),
    [
        ("dx", DigitalXRayImageStorageForPresentation, 0.7),
        ("mg", DigitalMammographyXRayImageStorageForPresentation, 0.4),
    ],
)
def test_projection_files(planar: dict, kind: str, sop_class: str, spacing: float) -> None:
    manifest, out = planar[kind]
    for entry in manifest.case_entries:
        series = entry.series[0]
        (path,) = sorted((out / series.path).glob("*.dcm"))
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == sop_class and ds.Modality == kind.upper()
        assert ds.PresentationIntentType == "FOR PRESENTATION"
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 12, 11, 0)
        assert [float(v) for v in ds.PixelSpacing] == [spacing, spacing]
        assert [float(v) for v in ds.ImagerPixelSpacing] == [spacing, spacing]
        assert int(ds.pixel_array.max()) <= 4095
        assert ds.InstitutionName and ds.PatientName and ds.WindowWidth > 0
        if kind == "mg":
            assert ds.PatientSex == "F" and ds.ImageLaterality in ("L", "R") and ds.ViewPosition in ("CC", "MLO")
            assert ds.ViewCodeSequence[0].CodingSchemeDesignator == "SCT"
        else:
            assert ds.ViewPosition == "PA" and list(ds.PatientOrientation) == ["L", "F"]
        # The 2D NIfTI mask has the image's geometry in SimpleITK.
        image = sitk.ReadImage(str(path))
        mask = sitk.ReadImage(str(out / series.mask))
        assert mask.GetSize() == image.GetSize()[:2]
        np.testing.assert_allclose(mask.GetSpacing(), image.GetSpacing()[:2], atol=1e-5)
        np.testing.assert_allclose(mask.GetOrigin(), image.GetOrigin()[:2], atol=1e-6)
        labels = sitk.GetArrayFromImage(mask)
        truth = json.loads((out / series.ground_truth).read_text())
        assert truth["geometry"]["size"] == [ds.Columns, ds.Rows]
        for lesion in truth["lesions"]:
            j, i = np.nonzero(labels == lesion["lesion_id"])
            assert [i.min(), j.min()] == lesion["bbox_voxel"]["min"]
            assert [i.max() + 1, j.max() + 1] == lesion["bbox_voxel"]["max"]
            np.testing.assert_allclose(lesion["centre_mm"], np.asarray(lesion["centre_voxel"]) * spacing)


@pytest.mark.parametrize("kind", ["dx", "mg"])
def test_projection_lesions_are_visible(kind: str) -> None:
    """The same patient without lesions (same anatomy) is darker where the lesion masks lie."""
    for index in range(4):
        image = build_case(kind, seed=5, case_index=index, lesion_classes=["benign", "malignant"]).series[0].image
        plain = build_case(kind, seed=5, case_index=index, lesion_classes=[]).series[0].image
        assert len(image.lesions) == 2 and not plain.lesions
        for lesion in image.lesions:
            mask = image.label_map == lesion.lesion_id
            contrast = image.pixels[mask].mean() - plain.pixels[mask].mean()
            assert contrast > 40, (kind, index, lesion.lesion_class, contrast)


def test_mammogram_orientation_follows_laterality() -> None:
    for index in range(6):
        image = build_case("mg", seed=1, case_index=index).series[0].image
        columns = image.pixels.mean(axis=0)
        chest_wall_left = columns[:10].mean() > columns[-10:].mean()
        assert chest_wall_left == (image.acquisition["laterality"] == "L")


def test_mr_series(tmp_path: Path) -> None:
    manifest = generate("mr", 2, 2, 4, tmp_path / "mr", shape=MR_SHAPE)
    for entry in manifest.case_entries:
        series = entry.series[0]
        files = sorted((tmp_path / "mr" / series.path).glob("*.dcm"))
        assert len(files) == MR_SHAPE[0]
        ds = pydicom.dcmread(files[0])
        assert ds.SOPClassUID == MRImageStorage and ds.Modality == "MR"
        assert float(ds.MagneticFieldStrength) in (1.5, 3.0)
        assert float(ds.EchoTime) > 0 and float(ds.RepetitionTime) > 0 and ds.SequenceName
        assert ds.MRAcquisitionType == "3D" and ds.ScanningSequence and ds.ImagedNucleus == "1H"
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(files[0].parent)))
        image = reader.Execute()
        truth = json.loads((tmp_path / "mr" / series.ground_truth).read_text())
        geometry = truth["geometry"]
        assert list(image.GetSize()) == geometry["size"] == [64, 64, 32]
        np.testing.assert_allclose(image.GetSpacing(), geometry["spacing_mm"], atol=1e-6)
        np.testing.assert_allclose(image.GetOrigin(), geometry["origin_mm"], atol=1e-4)
        # Sagittal: columns anterior->posterior, rows superior->inferior, slices left->right.
        np.testing.assert_allclose(image.GetDirection(), [0, 0, -1, 1, 0, 0, 0, -1, 0], atol=1e-6)
        mask = sitk.ReadImage(str(tmp_path / "mr" / series.mask))
        np.testing.assert_allclose(mask.GetOrigin(), image.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(mask.GetDirection(), image.GetDirection(), atol=1e-6)
        (lesion,) = truth["lesions"]
        np.testing.assert_allclose(
            image.TransformIndexToPhysicalPoint(lesion["centre_voxel"]), lesion["centre_mm"], atol=1e-3
        )
        labels = sitk.GetArrayFromImage(mask)
        assert labels[tuple(reversed(lesion["centre_voxel"]))] == 1


def test_mr_lesion_differs_from_brain() -> None:
    for index, lesion_class in enumerate(["benign", "malignant", "benign", "malignant"]):
        image = build_case("mr", seed=8, case_index=index, lesion_classes=[lesion_class]).series[0].image
        assert [lesion.lesion_class for lesion in image.lesions] == [lesion_class]
        mask = image.label_map == 1
        white_matter = image.tissue_map == MR_TISSUES["white_matter"]
        assert image.pixels[mask].mean() < image.pixels[white_matter].mean() - 150
