"""Series become volumes with SimpleITK's geometry; broken series are refused with the problem named."""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

from radscholar_core.errors import FailedPrecondition, InvalidArgument
from radscholar_dicomstore.domain.volumes import (
    Volume,
    Window,
    nifti_affine,
    to_nifti_bytes,
    to_simpleitk,
    volume_from_instances,
)
from radscholar_phantoms import Kind, generate

SHAPES: dict[Kind, tuple[int, ...]] = {"ct": (24, 64, 64), "mr": (20, 48, 48), "dx": (64, 48), "mg": (64, 48)}
SEED = 3


class Series:
    """One generated phantom series: its folder, ground truth and SimpleITK's reading of it."""

    def __init__(self, root: Path, kind: Kind) -> None:
        manifest = generate(kind, 1, 1, SEED, root, shape=SHAPES[kind])
        entry = manifest.series[0]
        self.folder = root / entry.path
        self.truth = json.loads((root / entry.ground_truth).read_text())
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(self.folder)))
        self.itk = reader.Execute()

    def datasets(self, *, shuffle: int | None = 0) -> list[Dataset]:
        datasets: list[Dataset] = [pydicom.dcmread(path) for path in sorted(self.folder.glob("*.dcm"))]
        if shuffle is not None:
            random.Random(shuffle).shuffle(datasets)
        return datasets


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Series]:
    root = tmp_path_factory.mktemp("phantoms")
    return {kind: Series(root / kind, kind) for kind in SHAPES}


def bundled(name: str) -> str:
    """A test file shipped inside pydicom (never downloaded)."""
    path = get_testdata_file(name, download=False)
    assert isinstance(path, str), f"{name} is not bundled with pydicom"
    return path


def assert_same_geometry(volume: Volume, image: sitk.Image, *, check_z: bool = True) -> None:
    axes = 3 if check_z else 2
    np.testing.assert_allclose(volume.spacing[:axes], image.GetSpacing()[:axes], atol=1e-4)
    np.testing.assert_allclose(volume.origin, image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(volume.direction, image.GetDirection(), atol=1e-4)


# --- phantom series against SimpleITK --------------------------------------------------------


def test_ct_series_in_any_order_matches_simpleitk_in_hu(phantoms: dict[str, Series]) -> None:
    series = phantoms["ct"]
    volume = volume_from_instances(series.datasets(shuffle=1))

    assert volume.modality == "CT" and volume.units == "HU" and volume.array.dtype == np.int16
    assert volume.shape == (24, 64, 64)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(series.itk))
    assert_same_geometry(volume, series.itk)
    truth = series.truth["geometry"]
    np.testing.assert_allclose(volume.spacing, truth["spacing_mm"], atol=1e-4)
    np.testing.assert_allclose(volume.origin, truth["origin_mm"], atol=1e-4)
    assert volume.series_instance_uid == series.truth["series_instance_uid"]
    in_file_order = [ds.SOPInstanceUID for ds in series.datasets(shuffle=None)]  # NNNN.dcm = InstanceNumber
    assert list(volume.instance_uids) == in_file_order
    assert volume.windows == (Window(40.0, 400.0, "MEDIASTINUM"), Window(-600.0, 1500.0, "LUNG"))
    assert volume.patient_geometry and volume.photometric_interpretation == "MONOCHROME2"


def test_mr_series_keeps_its_sagittal_direction(phantoms: dict[str, Series]) -> None:
    series = phantoms["mr"]
    volume = volume_from_instances(series.datasets(shuffle=2))

    assert volume.direction != (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    np.testing.assert_allclose(volume.direction, series.truth["geometry"]["direction"], atol=1e-4)
    assert_same_geometry(volume, series.itk)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(series.itk))
    assert volume.units == "stored"  # MR has no rescale: the stored values are the values


@pytest.mark.parametrize("kind", ["dx", "mg"])
def test_projection_image_is_a_one_slice_volume(phantoms: dict[str, Series], kind: Kind) -> None:
    series = phantoms[kind]
    volume = volume_from_instances(series.datasets())

    rows, columns = SHAPES[kind]
    assert volume.shape == (1, rows, columns)
    assert not volume.patient_geometry
    row_mm, column_mm = (float(v) for v in series.datasets()[0].PixelSpacing)
    assert volume.spacing == pytest.approx((column_mm, row_mm, 1.0))
    np.testing.assert_allclose(volume.spacing[:2], series.truth["geometry"]["spacing_mm"], atol=1e-4)
    assert volume.origin == (0.0, 0.0, 0.0)
    assert volume.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert_same_geometry(volume, series.itk)
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(series.itk))


def test_dx_spacing_falls_back_to_imager_pixel_spacing(phantoms: dict[str, Series]) -> None:
    (dx,) = phantoms["dx"].datasets()
    imager = [float(v) for v in dx.ImagerPixelSpacing]
    del dx.PixelSpacing
    volume = volume_from_instances([dx])
    assert volume.spacing == pytest.approx((imager[1], imager[0], 1.0))


# --- rescale and units -----------------------------------------------------------------------


def test_stored_values_without_rescale(phantoms: dict[str, Series]) -> None:
    series = phantoms["ct"]
    stored = volume_from_instances(series.datasets(), apply_rescale=False)
    hu = volume_from_instances(series.datasets())

    assert stored.units == "stored" and stored.array.dtype == np.uint16
    np.testing.assert_array_equal(stored.array.astype(np.int32) - 1024, hu.array)
    assert stored.windows[0] == Window(40.0 + 1024, 400.0, "MEDIASTINUM")  # windows follow the values


def test_rescale_is_applied_per_slice(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)
    reference = volume_from_instances(phantoms["ct"].datasets(shuffle=None)).array
    # store slice 5 as (HU + 2048) / 2, i.e. slope 2, intercept -2048 (still exact integers)
    hu = reference[5].astype(np.int32)
    datasets[5].PixelData = ((hu + 2048) // 2).astype("<u2").tobytes()
    datasets[5].RescaleSlope, datasets[5].RescaleIntercept = 2, -2048
    volume = volume_from_instances(datasets)
    assert volume.array.dtype == np.int16 and volume.units == "HU"
    np.testing.assert_array_equal(volume.array[5], (hu + 2048) // 2 * 2 - 2048)
    np.testing.assert_array_equal(np.delete(volume.array, 5, axis=0), np.delete(reference, 5, axis=0))

    datasets[7].RescaleSlope = 0.5  # not an integer any more: float32
    volume = volume_from_instances(datasets)
    assert volume.array.dtype == np.float32
    stored = np.frombuffer(datasets[7].PixelData, dtype="<u2").reshape(64, 64)
    np.testing.assert_allclose(volume.array[7], stored * 0.5 - 1024)


def test_rescaled_mr_is_float32(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["mr"].datasets()
    for ds in datasets:
        ds.RescaleSlope, ds.RescaleIntercept = 0.25, 10
    stored = volume_from_instances(phantoms["mr"].datasets()).array
    volume = volume_from_instances(datasets)
    assert volume.units == "rescaled" and volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array, stored * 0.25 + 10)


def test_monochrome1_keeps_its_values_and_says_so(phantoms: dict[str, Series]) -> None:
    (dx,) = phantoms["dx"].datasets()
    dx.PhotometricInterpretation = "MONOCHROME1"
    volume = volume_from_instances([dx])
    assert volume.photometric_interpretation == "MONOCHROME1"
    np.testing.assert_array_equal(volume.array[0], dx.pixel_array)


# --- pydicom's bundled files -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "units"), [("CT_small.dcm", "HU"), ("MR_small.dcm", "stored")])
def test_bundled_single_slices_match_simpleitk(name: str, units: str) -> None:
    path = bundled(name)
    volume = volume_from_instances([pydicom.dcmread(path)])
    image = sitk.ReadImage(path)

    assert volume.shape == ((1, 64, 64) if name == "MR_small.dcm" else (1, 128, 128))
    assert volume.units == units
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(image))
    # one slice has no position-derived spacing: ours is SpacingBetweenSlices, else SliceThickness
    assert_same_geometry(volume, image, check_z=False)


def test_bundled_colour_image_is_refused() -> None:
    path = bundled("SC_rgb_small_odd.dcm")
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances([pydicom.dcmread(path)])
    assert error.value.reason == "UNSUPPORTED_PHOTOMETRIC_INTERPRETATION"


def test_multiframe_without_functional_groups_is_refused() -> None:
    path = bundled("rtdose.dcm")
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances([pydicom.dcmread(path)])
    assert error.value.reason == "UNSUPPORTED_MULTIFRAME"


# --- enhanced multi-frame --------------------------------------------------------------------


def enhanced_ct(slices: list[Dataset]) -> Dataset:
    """One Enhanced CT instance holding ``slices`` as frames, positions in functional groups."""
    first = slices[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = EnhancedCTImageStorage
    ds.SOPInstanceUID = generate_uid()
    for keyword in ("SeriesInstanceUID", "Modality", "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit"):
        setattr(ds, keyword, getattr(first, keyword))
    ds.PixelRepresentation, ds.SamplesPerPixel, ds.PhotometricInterpretation = 0, 1, "MONOCHROME2"
    ds.NumberOfFrames = len(slices)
    measures, orientation, transform = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = first.PixelSpacing, first.SliceThickness
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 1, -1024, "HU"
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orientation])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for item in slices:
        position = Dataset()
        position.ImagePositionPatient = item.ImagePositionPatient
        frame = Dataset()
        frame.PlanePositionSequence = DicomSequence([position])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = b"".join(item.PixelData for item in slices)
    return ds


def test_enhanced_multiframe_matches_single_frames(phantoms: dict[str, Series]) -> None:
    slices = phantoms["ct"].datasets(shuffle=4)
    reference = volume_from_instances(slices)
    volume = volume_from_instances([enhanced_ct(slices)])

    np.testing.assert_array_equal(volume.array, reference.array)
    assert volume.units == "HU" and volume.array.dtype == np.int16
    assert volume.spacing == pytest.approx(reference.spacing)
    assert volume.origin == pytest.approx(reference.origin)
    assert volume.direction == pytest.approx(reference.direction)
    assert len(set(volume.instance_uids)) == 1 and len(volume.instance_uids) == 24


def test_enhanced_instances_split_in_two_form_one_volume(phantoms: dict[str, Series]) -> None:
    slices = phantoms["ct"].datasets(shuffle=None)
    reference = volume_from_instances(slices)
    volume = volume_from_instances([enhanced_ct(slices[12:]), enhanced_ct(slices[:12])])
    np.testing.assert_array_equal(volume.array, reference.array)
    assert volume.origin == pytest.approx(reference.origin)
    assert len(set(volume.instance_uids)) == 2


def test_one_frame_enhanced_instance_keeps_its_position(phantoms: dict[str, Series]) -> None:
    one = phantoms["ct"].datasets(shuffle=None)[5]
    volume = volume_from_instances([enhanced_ct([one])])
    assert volume.patient_geometry and volume.shape == (1, 64, 64)
    assert volume.origin == pytest.approx([float(v) for v in one.ImagePositionPatient])


def test_enhanced_multiframe_with_two_stacks_is_refused(phantoms: dict[str, Series]) -> None:
    slices = phantoms["ct"].datasets()
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances([enhanced_ct(slices + slices)])  # e.g. two temporal phases
    assert error.value.reason == "UNSUPPORTED_MULTIFRAME"
    assert error.value.details["cause"] == "DUPLICATE_SLICE_POSITION"


# --- broken series ---------------------------------------------------------------------------


def test_missing_middle_slice(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)
    del datasets[10]
    random.Random(5).shuffle(datasets)
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(datasets)
    assert error.value.reason == "NON_UNIFORM_SLICE_SPACING"
    assert "1 slice(s) missing" in error.value.message


def test_rounded_positions_are_tolerated(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets()
    jitter = np.random.default_rng(0).uniform(-0.01, 0.01, len(datasets))
    for ds, dz in zip(datasets, jitter, strict=True):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, round(z + dz, 2)]
    volume = volume_from_instances(datasets)
    assert volume.spacing[2] == pytest.approx(phantoms["ct"].itk.GetSpacing()[2], abs=0.01)


def test_missing_first_or_last_slice_is_just_a_shorter_volume(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)[1:]
    volume = volume_from_instances(datasets)
    assert volume.shape[0] == 23
    assert volume.origin[2] == pytest.approx(phantoms["ct"].itk.GetOrigin()[2] + volume.spacing[2], abs=1e-4)


def test_two_series_mixed(phantoms: dict[str, Series]) -> None:
    ct = phantoms["ct"].datasets()
    other = copy.deepcopy(ct[:3])
    for ds in other:
        ds.SeriesInstanceUID = "1.2.3.4"
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(ct + other)
    assert error.value.reason == "MIXED_SERIES"


def test_ct_and_mr_mixed(phantoms: dict[str, Series]) -> None:
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(phantoms["ct"].datasets() + phantoms["mr"].datasets())
    assert error.value.reason == "MIXED_SERIES"


def test_same_instance_twice(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets()
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances([*datasets, datasets[3]])
    assert error.value.reason == "DUPLICATE_SLICE_POSITION"
    assert "same instance" in error.value.message


def test_two_instances_at_one_position(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)
    datasets[4].ImagePositionPatient = datasets[5].ImagePositionPatient
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(datasets)
    assert error.value.reason == "DUPLICATE_SLICE_POSITION"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda ds: setattr(ds, "ImageOrientationPatient", [0, 1, 0, 0, 0, -1]), "INCONSISTENT_ORIENTATION"),
        (lambda ds: setattr(ds, "PixelSpacing", [0.5, 0.5]), "INCONSISTENT_PIXEL_SPACING"),
        (lambda ds: setattr(ds, "Columns", 32), "INCONSISTENT_IMAGE_SIZE"),
        (lambda ds: delattr(ds, "ImagePositionPatient"), "MISSING_IMAGE_PLANE"),
        (lambda ds: delattr(ds, "PixelData"), "NO_PIXEL_DATA"),
        (lambda ds: setattr(ds, "ImagePositionPatient", [1, 2]), "MALFORMED_ATTRIBUTE"),
    ],
    ids=["orientation", "pixel-spacing", "size", "no-position", "no-pixels", "malformed"],
)
def test_inconsistent_slice(phantoms: dict[str, Series], change: Callable[[Dataset], None], reason: str) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)
    change(datasets[7])
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(datasets)
    assert error.value.reason == reason


def test_gantry_tilt_is_refused(phantoms: dict[str, Series]) -> None:
    datasets = phantoms["ct"].datasets(shuffle=None)
    for k, ds in enumerate(datasets):
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + 0.3 * k, z]  # 0.3 mm per slice: a tilted gantry
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances(datasets)
    assert error.value.reason == "SHEARED_SLICE_STACK"


def test_several_projection_images_are_not_a_volume(phantoms: dict[str, Series]) -> None:
    (dx,) = phantoms["dx"].datasets()
    lateral = copy.deepcopy(dx)
    lateral.SOPInstanceUID = generate_uid()
    with pytest.raises(FailedPrecondition) as error:
        volume_from_instances([dx, lateral])
    assert error.value.reason == "NOT_A_VOLUME"


def test_no_instances() -> None:
    with pytest.raises(InvalidArgument) as error:
        volume_from_instances([])
    assert error.value.reason == "NO_INSTANCES"


# --- conversions -----------------------------------------------------------------------------


def test_nifti_bytes_keep_the_dicom_geometry(phantoms: dict[str, Series], tmp_path: Path) -> None:
    series = phantoms["mr"]
    volume = volume_from_instances(series.datasets())
    path = tmp_path / "mr.nii.gz"
    path.write_bytes(to_nifti_bytes(volume))

    image = sitk.ReadImage(str(path))  # SimpleITK converts NIfTI's RAS back to LPS
    assert_same_geometry(volume, image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), volume.array)
    ras = nifti_affine(volume)
    np.testing.assert_allclose(ras[:3, 3], [-volume.origin[0], -volume.origin[1], volume.origin[2]])
    assert to_nifti_bytes(volume) == to_nifti_bytes(volume)  # deterministic (no gzip timestamp)


def test_to_simpleitk(phantoms: dict[str, Series]) -> None:
    series = phantoms["ct"]
    image = to_simpleitk(volume_from_instances(series.datasets()))
    assert_same_geometry(volume_from_instances(series.datasets()), image)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(series.itk))


# --- size ------------------------------------------------------------------------------------


def test_a_512_by_512_by_300_ct_assembles_quickly() -> None:
    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 4096, (512, 512), dtype=np.uint16).tobytes() for _ in range(4)]
    series_uid = generate_uid()
    datasets = []
    for k in range(300):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.Modality = (
            CTImageStorage,
            generate_uid(),
            series_uid,
            "CT",
        )
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.ImagePositionPatient = [-250.0, -250.0, -400.0 + 0.625 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.977, 0.977]
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = pixels[k % 4]
        datasets.append(ds)
    random.Random(0).shuffle(datasets)

    started = time.perf_counter()
    volume = volume_from_instances(datasets)
    elapsed = time.perf_counter() - started

    assert volume.shape == (300, 512, 512) and volume.array.dtype == np.int16
    assert volume.spacing == pytest.approx((0.977, 0.977, 0.625))
    expected = np.frombuffer(pixels[7 % 4], dtype="<u2").reshape(512, 512).astype(np.int16) - 1024
    np.testing.assert_array_equal(volume.array[7], expected)
    assert elapsed < 3.0, f"assembling took {elapsed:.2f} s"
