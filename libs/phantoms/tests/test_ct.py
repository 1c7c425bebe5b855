"""CT series: valid files, geometry in pydicom and SimpleITK, HU calibration, ground truth vs pixels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.pixels import apply_modality_lut
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from scipy import ndimage

from radscholar_phantoms import CT_TISSUES, build_case

if TYPE_CHECKING:
    from conftest import Cohort


def _read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _ground_truth(out: Path, relative: str) -> dict:
    return json.loads((out / relative).read_text())


def test_files_are_valid_ct_instances(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    for series in manifest.series:
        files = sorted((out / series.path).glob("*.dcm"))
        assert len(files) == series.instances == 64
        for path in files[:: len(files) // 4]:
            ds = pydicom.dcmread(path)
            assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
            assert ds.SOPClassUID == CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
            assert ds.Modality == "CT"
            assert (ds.Rows, ds.Columns) == (128, 128)
            assert (ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation) == (16, 12, 0)
            assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1
            assert [float(v) for v in ds.PixelSpacing] == [0.7, 0.7]
            assert float(ds.SliceThickness) == float(ds.SpacingBetweenSlices) == 2.5
            assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            assert len(ds.WindowCenter) == len(ds.WindowWidth) == 2
            # PHI a de-identification must remove.
            family, given = str(ds.PatientName).split("^")
            assert family and given
            assert ds.PatientID and ds.AccessionNumber and ds.PatientBirthDate and ds.PatientSex in ("M", "F")
            assert ds.PatientAge.endswith("Y") and ds.StudyDate and ds.StudyTime
            assert ds.ReferringPhysicianName and ds.OperatorsName and ds.InstitutionAddress
            assert family.upper() in ds.ImageComments and given in ds.AdditionalPatientHistory
            assert ds.pixel_array.shape == (128, 128)


def test_simpleitk_geometry_matches_ground_truth_and_memory(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    for entry in manifest.case_entries:
        series = entry.series[0]
        image = _read_series(out / series.path)
        geometry = _ground_truth(out, series.ground_truth)["geometry"]
        assert list(image.GetSize()) == geometry["size"] == [128, 128, 64]
        np.testing.assert_allclose(image.GetSpacing(), geometry["spacing_mm"], atol=1e-6)
        np.testing.assert_allclose(image.GetSpacing(), (0.7, 0.7, 2.5), atol=1e-6)
        np.testing.assert_allclose(image.GetOrigin(), geometry["origin_mm"], atol=1e-4)
        np.testing.assert_allclose(image.GetDirection(), geometry["direction"], atol=1e-6)
        # The files carry exactly the in-memory HU volume.
        case = build_case("ct", seed=ct_cohort.seed, case_index=entry.case_index, sites=ct_cohort.sites)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(image), case.series[0].image.pixels)


def test_pydicom_rescale_gives_hounsfield_units(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    entry = manifest.case_entries[0]
    case = build_case("ct", seed=ct_cohort.seed, case_index=entry.case_index, sites=ct_cohort.sites)
    ds = pydicom.dcmread(out / entry.series[0].path / "0030.dcm")
    hu = apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(hu, case.series[0].image.pixels[29])
    position = case.series[0].image.geometry.index_to_physical((0, 0, 29))
    np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], position, atol=1e-4)


@pytest.mark.parametrize("case_index", [0, 1, 2])
def test_hounsfield_calibration(case_index: int) -> None:
    image = build_case("ct", seed=5, case_index=case_index, sites=2).series[0].image
    expected = {
        "air": (-1010, -990),
        "lung": (-900, -780),
        "fat": (-130, -70),
        "soft_tissue": (20, 60),
        "bone": (700, 1000),
    }
    for tissue, (low, high) in expected.items():
        region = ndimage.binary_erosion(image.tissue_map == CT_TISSUES[tissue])
        assert region.sum() > 500, tissue
        mean = float(image.pixels[region].mean())
        assert low <= mean <= high, f"{tissue}: mean {mean:.0f} HU not in [{low}, {high}]"
    # Noise: realistic (10-20 HU) but not trivial.
    soft = ndimage.binary_erosion(image.tissue_map == CT_TISSUES["soft_tissue"], iterations=2)
    assert 8.0 < float(image.pixels[soft].std()) < 25.0


def test_mask_nifti_has_the_dicom_geometry(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    for entry in manifest.case_entries:
        series = entry.series[0]
        dicom = _read_series(out / series.path)
        mask = sitk.ReadImage(str(out / series.mask))
        assert mask.GetSize() == dicom.GetSize()
        np.testing.assert_allclose(mask.GetSpacing(), dicom.GetSpacing(), atol=1e-5)
        np.testing.assert_allclose(mask.GetOrigin(), dicom.GetOrigin(), atol=1e-4)
        np.testing.assert_allclose(mask.GetDirection(), dicom.GetDirection(), atol=1e-6)
        case = build_case("ct", seed=ct_cohort.seed, case_index=entry.case_index, sites=ct_cohort.sites)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), case.series[0].image.label_map)


def test_ground_truth_boxes_and_centres_agree_with_mask_and_dicom(ct_cohort: Cohort) -> None:
    manifest, out = ct_cohort.manifest, ct_cohort.out
    lesion_count = 0
    for entry in manifest.case_entries:
        series = entry.series[0]
        truth = _ground_truth(out, series.ground_truth)
        dicom = _read_series(out / series.path)
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / series.mask)))
        nifti = nib.load(out / series.mask)
        assert sorted(np.unique(labels)[1:].tolist()) == [le["lesion_id"] for le in truth["lesions"]]
        for lesion in truth["lesions"]:
            lesion_count += 1
            assert lesion["class"] in ("benign", "malignant")
            k, j, i = np.nonzero(labels == lesion["label_value"])
            box = lesion["bbox_voxel"]
            assert [i.min(), j.min(), k.min()] == box["min"]  # tight, min inclusive
            assert [i.max() + 1, j.max() + 1, k.max() + 1] == box["max"]  # max exclusive
            assert lesion["voxel_count"] == len(i)
            centre = lesion["centre_voxel"]
            assert labels[centre[2], centre[1], centre[0]] == lesion["lesion_id"]
            np.testing.assert_allclose(
                dicom.TransformIndexToPhysicalPoint([int(c) for c in centre]), lesion["centre_mm"], atol=1e-3
            )
            # nibabel's affine is RAS: x and y flip sign.
            ras = nib.affines.apply_affine(nifti.affine, centre)
            np.testing.assert_allclose(ras * [-1, -1, 1], lesion["centre_mm"], atol=1e-3)
            low = dicom.TransformContinuousIndexToPhysicalPoint([v - 0.5 for v in box["min"]])
            high = dicom.TransformContinuousIndexToPhysicalPoint([v - 0.5 for v in box["max"]])
            np.testing.assert_allclose(lesion["bbox_mm"]["min"], low, atol=1e-3)
            np.testing.assert_allclose(lesion["bbox_mm"]["max"], high, atol=1e-3)
            assert 3.0 <= lesion["diameter_mm"] <= 31.0
    assert lesion_count > 0


@pytest.mark.parametrize("case_index", range(4))
def test_mask_sits_on_the_nodule(case_index: int) -> None:
    image = build_case("ct", seed=23, case_index=case_index, lesion_classes=["benign", "malignant"]).series[0].image
    assert len(image.lesions) == 2
    lung = image.tissue_map == CT_TISSUES["lung"]
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = True
    for lesion in image.lesions:
        mask = image.label_map == lesion.lesion_id
        shell = ndimage.binary_dilation(mask, structure=in_plane, iterations=4) & ~mask & lung
        inside = float(image.pixels[mask].mean())
        around = float(image.pixels[shell].mean())
        assert -350.0 < inside < 120.0, f"{lesion.lesion_class}: {inside:.0f} HU is not soft-tissue-like"
        assert around < -650.0
        assert inside - around > 450.0
