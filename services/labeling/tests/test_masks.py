"""Masks in RLE, NIfTI and DICOM SEG, on a phantom CT series."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

import radscholar_phantoms
from radscholar_core.errors import InvalidArgument
from radscholar_labeling.domain.masks import (
    Geometry,
    RleSlice,
    decode_rle,
    encode_rle,
    geometry_of,
    read_nifti,
    read_seg,
    write_nifti,
    write_seg,
)

SHAPE = (12, 32, 40)  # z, y, x
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class Series:
    def __init__(self, root: Path, truth_file: Path) -> None:
        self.datasets = [pydicom.dcmread(path) for path in sorted(root.rglob("*.dcm"))]
        self.truth_file = truth_file.read_bytes()
        image = nib.Nifti1Image.from_bytes(gzip.decompress(self.truth_file))
        truth = np.asarray(image.dataobj).T.astype(np.uint8)  # NIfTI (i, j, k) -> [k, j, i]
        assert truth.max() >= 1
        self.truth = truth
        self.truth_affine = LPS_TO_RAS @ image.affine
        self.geometry = geometry_of(self.datasets)
        # The phantom's lesions (labels 1..n) plus a sphere of the next label, so the mask has two classes
        # at least and overlapping classes are not an issue (the sphere overwrites).
        z, y, x = np.indices(self.geometry.shape)
        sphere = (z - 4) ** 2 + ((y - 10) / 3) ** 2 + ((x - 28) / 3) ** 2 <= 6
        self.mask = self.truth.copy()
        self.mask[sphere] = self.truth.max() + 1
        self.labels = int(self.mask.max())
        self.classes = [(f"class {k}", (255, 40 * k % 256, 0)) for k in range(1, self.labels + 1)]


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Series:
    manifest = radscholar_phantoms.generate("ct", 1, 1, 3, tmp_path_factory.mktemp("ct") / "out", shape=SHAPE)
    assert manifest.root is not None
    return Series(manifest.root, manifest.root / manifest.series[0].mask)


def reason(error: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return error.value.reason


# --- geometry --------------------------------------------------------------------------------------------


def test_geometry_of_sorts_along_the_normal(series: Series) -> None:
    shuffled = series.datasets[::-1]
    geometry = geometry_of(shuffled)
    assert geometry == series.geometry
    assert geometry.shape == SHAPE
    first = min(series.datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))
    assert geometry.origin == pytest.approx([float(v) for v in first.ImagePositionPatient])
    assert np.allclose(geometry.affine(), series.truth_affine, atol=1e-4)  # the phantom's own grid


# --- RLE -------------------------------------------------------------------------------------------------


def test_rle_round_trip(series: Series) -> None:
    slices = encode_rle(series.mask)
    assert {(s.index, s.label) for s in slices} == {
        (k, int(label)) for k in range(SHAPE[0]) for label in np.unique(series.mask[k]) if label
    }
    assert all(sum(s.counts) == SHAPE[1] * SHAPE[2] for s in slices)
    assert np.array_equal(decode_rle(slices, series.geometry, series.labels), series.mask)


def test_rle_starts_with_background_and_later_slices_overwrite() -> None:
    geometry = Geometry((3, 2, 1), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    mask = np.array([[[1, 1, 0], [0, 2, 2]]], dtype=np.uint8)
    assert encode_rle(mask) == [RleSlice(0, 1, [0, 2, 4]), RleSlice(0, 2, [4, 2])]
    overlapping = [RleSlice(0, 1, [0, 6]), RleSlice(0, 2, [2, 1, 3])]
    assert decode_rle(overlapping, geometry, 2).tolist() == [[[1, 1, 2], [1, 1, 1]]]
    assert encode_rle(np.zeros((2, 2, 3), dtype=np.uint8)) == []


@pytest.mark.parametrize(
    ("rle", "expected"),
    [
        (RleSlice(0, 1, [100, 20]), "INVALID_RLE"),  # sums to less than rows x columns
        (RleSlice(0, 1, [1280, 1]), "INVALID_RLE"),  # sums to more
        (RleSlice(0, 1, [1300, -20]), "INVALID_RLE"),  # negative run
        (RleSlice(0, 1, [1279.5, 0.5]), "INVALID_RLE"),  # type: ignore[list-item]
        (RleSlice(0, 1, []), "INVALID_RLE"),  # empty
        (RleSlice(12, 1, [1280]), "INVALID_RLE"),  # slice past the last
        (RleSlice(-1, 1, [1280]), "INVALID_RLE"),  # negative slice
        (RleSlice(0, 0, [1280]), "UNKNOWN_LABEL"),  # background is not a label
        (RleSlice(0, 99, [1280]), "UNKNOWN_LABEL"),  # past the schema
    ],
)
def test_rle_errors(series: Series, rle: RleSlice, expected: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        decode_rle([RleSlice(1, 1, [5, 5, 1270]), rle], series.geometry, series.labels)
    assert reason(error) == expected


def test_encode_rle_refuses_what_is_not_a_label_map() -> None:
    with pytest.raises(InvalidArgument) as error:
        encode_rle(np.zeros((4, 4), dtype=np.uint8))
    assert reason(error) == "MASK_SHAPE_MISMATCH"
    with pytest.raises(InvalidArgument) as error:
        encode_rle(np.full((1, 2, 2), 300, dtype=np.int32))
    assert reason(error) == "UNKNOWN_LABEL"


# --- NIfTI -----------------------------------------------------------------------------------------------


def test_nifti_round_trip(series: Series) -> None:
    data = write_nifti(series.mask, series.geometry)
    assert data[:2] == b"\x1f\x8b"
    assert np.array_equal(read_nifti(data, series.geometry, series.labels), series.mask)
    assert np.array_equal(read_nifti(gzip.decompress(data), series.geometry, series.labels), series.mask)
    image = nib.Nifti1Image.from_bytes(gzip.decompress(data))
    assert image.get_data_dtype() == np.uint8
    assert int(image.header["qform_code"]) == 1 and int(image.header["sform_code"]) == 1


def test_nifti_opens_in_simpleitk_on_the_series_grid(series: Series, tmp_path: Path) -> None:
    path = tmp_path / "mask.nii.gz"
    path.write_bytes(write_nifti(series.mask, series.geometry))
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == series.geometry.size
    assert image.GetSpacing() == pytest.approx(series.geometry.spacing, abs=1e-5)
    assert image.GetOrigin() == pytest.approx(series.geometry.origin, abs=1e-4)
    assert image.GetDirection() == pytest.approx(series.geometry.direction, abs=1e-6)
    assert np.array_equal(sitk.GetArrayFromImage(image), series.mask)


def test_nifti_written_by_simpleitk_reads_back(series: Series, tmp_path: Path) -> None:
    image = sitk.GetImageFromArray(series.mask)
    image.SetOrigin(series.geometry.origin)
    image.SetSpacing(series.geometry.spacing)
    image.SetDirection(series.geometry.direction)
    path = tmp_path / "sitk.nii.gz"
    sitk.WriteImage(image, str(path))
    assert np.array_equal(read_nifti(path.read_bytes(), series.geometry, series.labels), series.mask)


def test_phantom_ground_truth_reads_on_the_series_grid(series: Series) -> None:
    assert np.array_equal(read_nifti(series.truth_file, series.geometry, series.labels), series.truth)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_nifti_with_a_flipped_axis_reads_back(series: Series, axis: int) -> None:
    ras = LPS_TO_RAS @ series.geometry.affine()
    n = series.geometry.size[axis]
    flip = np.eye(4)
    flip[axis, axis] = -1.0
    flip[axis, 3] = n - 1  # NIfTI voxel v on this axis is geometry voxel n - 1 - v
    data = np.flip(series.mask.transpose(2, 1, 0), axis=axis)
    nifti = nib.Nifti1Image(np.ascontiguousarray(data), ras @ flip)
    nifti.set_qform(ras @ flip, code=1)
    assert np.array_equal(read_nifti(nifti.to_bytes(), series.geometry, series.labels), series.mask)


def test_nifti_with_permuted_axes_reads_back(series: Series) -> None:
    ras = LPS_TO_RAS @ series.geometry.affine()
    swap = np.eye(4)[[1, 0, 2, 3]]  # NIfTI axis 0 is geometry y, axis 1 geometry x
    data = series.mask.transpose(1, 2, 0)  # (y, x, z)
    nifti = nib.Nifti1Image(np.ascontiguousarray(data), ras @ swap)
    assert np.array_equal(read_nifti(nifti.to_bytes(), series.geometry, series.labels), series.mask)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"spacing": (2.0, 2.8, 13.3333)}, "spacing"),
        ({"origin": (-40.0, -43.4, -232.333)}, "origin"),
        ({"size": (40, 32, 11)}, "size"),
        ({"direction": (0.866025, -0.5, 0.0, 0.5, 0.866025, 0.0, 0.0, 0.0, 1.0)}, "direction"),  # oblique
    ],
)
def test_nifti_on_another_grid_is_refused(series: Series, change: dict[str, object], named: str) -> None:
    other = replace(series.geometry, **change)  # type: ignore[arg-type]
    mask = np.zeros(other.shape, dtype=np.uint8)
    with pytest.raises(InvalidArgument) as error:
        read_nifti(write_nifti(mask, other), series.geometry, series.labels)
    assert reason(error) == "MASK_GEOMETRY_MISMATCH"
    assert named in error.value.message


def test_nifti_slightly_off_the_grid_is_refused(series: Series) -> None:
    ras = LPS_TO_RAS @ series.geometry.affine()
    ras[:3, 0] *= 1.0002  # 0.02 % larger columns: 0.008 voxels off at the last column
    nifti = nib.Nifti1Image(np.zeros(series.geometry.size, dtype=np.uint8), ras)
    with pytest.raises(InvalidArgument) as error:
        read_nifti(nifti.to_bytes(), series.geometry, series.labels)
    assert reason(error) == "MASK_GEOMETRY_MISMATCH"


def test_nifti_errors(series: Series) -> None:
    ras = LPS_TO_RAS @ series.geometry.affine()
    cases = [
        (b"not a nifti", "INVALID_NIFTI"),
        (b"\x1f\x8bbroken gzip", "INVALID_NIFTI"),
        (nib.Nifti1Image(np.full(series.geometry.size, 0.5, dtype=np.float32), ras).to_bytes(), "INVALID_NIFTI"),
        (nib.Nifti1Image(np.full(series.geometry.size, 9, dtype=np.int16), ras).to_bytes(), "UNKNOWN_LABEL"),
        (nib.Nifti1Image(np.full(series.geometry.size, -1, dtype=np.int16), ras).to_bytes(), "UNKNOWN_LABEL"),
        (nib.Nifti1Image(np.zeros((4, 4, 4, 2), dtype=np.uint8), ras).to_bytes(), "MASK_SHAPE_MISMATCH"),
    ]
    for data, expected in cases:
        with pytest.raises(InvalidArgument) as error:
            read_nifti(data, series.geometry, series.labels)
        assert reason(error) == expected, data[:20]
    integral = nib.Nifti1Image(series.mask.transpose(2, 1, 0).astype(np.float32), ras)
    assert np.array_equal(read_nifti(integral.to_bytes(), series.geometry, series.labels), series.mask)


def test_mask_of_the_wrong_shape_is_refused(series: Series) -> None:
    wrong = np.zeros((SHAPE[0] - 1, SHAPE[1], SHAPE[2]), dtype=np.uint8)
    for write in (
        lambda: write_nifti(wrong, series.geometry),
        lambda: write_seg(wrong, series.datasets, series.classes),
    ):
        with pytest.raises(InvalidArgument) as error:
            write()
        assert reason(error) == "MASK_SHAPE_MISMATCH"


# --- DICOM SEG -------------------------------------------------------------------------------------------


def test_seg_reads_back_in_highdicom_and_pydicom(series: Series) -> None:
    data = write_seg(series.mask, series.datasets[::-1], series.classes, description="lesions")
    ordered = sorted(series.datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))
    uids = [str(ds.SOPInstanceUID) for ds in ordered]

    seg = hd.seg.segread(data)
    assert seg.segmentation_type == hd.seg.SegmentationTypeValues.BINARY
    assert seg.segment_numbers == list(range(1, series.labels + 1))
    assert [seg.get_segment_description(n).SegmentLabel for n in seg.segment_numbers] == [
        name for name, _ in series.classes
    ]
    labels = seg.get_pixels_by_source_instance(uids, combine_segments=True, assert_missing_frames_are_empty=True)
    assert np.array_equal(labels, series.mask)

    dataset = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))
    assert dataset.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    assert dataset.SeriesNumber == 300 and dataset.Manufacturer == "RadScholar"
    referenced = dataset.ReferencedSeriesSequence
    assert [item.SeriesInstanceUID for item in referenced] == [ordered[0].SeriesInstanceUID]
    assert {item.ReferencedSOPInstanceUID for item in referenced[0].ReferencedInstanceSequence} == set(uids)
    frames = dataset.pixel_array.reshape(-1, SHAPE[1], SHAPE[2])
    rebuilt = np.zeros(SHAPE, dtype=np.uint8)
    for frame, group in zip(frames, dataset.PerFrameFunctionalGroupsSequence, strict=True):
        number = group.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        source = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        rebuilt[uids.index(source)][frame > 0] = number
    assert np.array_equal(rebuilt, series.mask)


def test_read_seg_of_our_seg(series: Series) -> None:
    data = write_seg(series.mask, series.datasets, series.classes)
    assert np.array_equal(read_seg(data, series.datasets[::-1], series.labels), series.mask)
    unused = [*series.classes, ("unused", (0, 0, 255))]  # a class of the schema with no voxels is a segment
    data = write_seg(series.mask, series.datasets, unused)
    assert hd.seg.segread(data).segment_numbers == list(range(1, series.labels + 2))
    assert np.array_equal(read_seg(data, series.datasets, series.labels + 1), series.mask)


def test_empty_mask_makes_a_seg(series: Series) -> None:
    empty = np.zeros(SHAPE, dtype=np.uint8)
    data = write_seg(empty, series.datasets, series.classes)
    assert np.array_equal(read_seg(data, series.datasets, series.labels), empty)


def test_overlapping_segments_take_the_highest_label(series: Series) -> None:
    stacked = np.zeros((*SHAPE, 2), dtype=np.uint8)
    stacked[2:6, 5:15, 5:15, 0] = 1
    stacked[4:8, 10:20, 10:20, 1] = 1
    seg = _stacked_seg(series.datasets, stacked)
    expected = np.zeros(SHAPE, dtype=np.uint8)
    expected[stacked[..., 0] == 1] = 1
    expected[stacked[..., 1] == 1] = 2
    assert np.array_equal(read_seg(seg, series.datasets, 2), expected)
    with pytest.raises(InvalidArgument) as error:
        read_seg(seg, series.datasets, 1)
    assert reason(error) == "UNKNOWN_LABEL"


def test_seg_of_another_series_is_refused(series: Series, tmp_path: Path) -> None:
    other_manifest = radscholar_phantoms.generate("ct", 1, 1, 4, tmp_path / "other", shape=SHAPE)
    assert other_manifest.root is not None
    other = [pydicom.dcmread(path) for path in sorted(other_manifest.root.rglob("*.dcm"))]
    data = write_seg(series.mask, other, series.classes)
    with pytest.raises(InvalidArgument) as error:
        read_seg(data, series.datasets, series.labels)
    assert reason(error) == "INVALID_SEG"
    assert str(other[0].SeriesInstanceUID) in error.value.message


def test_seg_of_part_of_a_series_still_reads_but_foreign_images_are_refused(series: Series) -> None:
    data = write_seg(series.mask, series.datasets, series.classes)
    with pytest.raises(InvalidArgument) as error:
        read_seg(data, series.datasets[:-1], series.labels)  # the SEG references an image we do not have
    assert reason(error) == "INVALID_SEG"


def test_seg_errors(series: Series) -> None:
    with pytest.raises(InvalidArgument) as error:
        read_seg(b"not dicom", series.datasets, series.labels)
    assert reason(error) == "INVALID_SEG"
    with pytest.raises(InvalidArgument) as error:
        write_seg(series.mask, series.datasets, series.classes[:-1])  # the last label has no class
    assert reason(error) == "UNKNOWN_LABEL"


def _stacked_seg(source: Sequence[Dataset], stacked: NDArray[np.uint8]) -> bytes:
    """A SEG with overlapping segments, which a label map cannot express (made by highdicom directly)."""
    ordered = sorted(source, key=lambda ds: float(ds.ImagePositionPatient[2]))
    segments = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=f"segment {n}",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n in range(1, stacked.shape[-1] + 1)
    ]
    seg = hd.seg.Segmentation(
        source_images=ordered,
        pixel_array=stacked,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments,
        series_instance_uid=hd.UID(),
        series_number=1,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    buffer = pydicom.filebase.DicomBytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    return bytes(buffer.getvalue())


def test_a_radiograph_is_a_one_slice_grid_with_seg_and_nifti(tmp_path: Path) -> None:
    """A projection image (no patient geometry): one slice, PixelSpacing, origin 0, identity direction, as
    SimpleITK and the DICOM store's volumes see it; its SEG reads back with highdicom and its NIfTI with
    SimpleITK."""
    radscholar_phantoms.generate("dx", 1, 1, 5, tmp_path / "dx")
    (path,) = sorted((tmp_path / "dx").rglob("*.dcm"))
    image = pydicom.dcmread(path)
    geometry = geometry_of([image])
    reference = sitk.ReadImage(str(path))
    assert geometry.size == (*reference.GetSize()[:2], 1)
    assert geometry.spacing[:2] == pytest.approx(reference.GetSpacing()[:2])
    assert geometry.origin == (0.0, 0.0, 0.0) and geometry.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    mask = np.zeros(geometry.shape, np.uint8)
    mask[0, 100:180, 120:260] = 1
    mask[0, 300:330, 20:60] = 2
    seg = write_seg(mask, [image], [("nodule", (255, 0, 0)), ("rib fracture", (0, 0, 255))])
    read = hd.seg.segread(seg)
    assert read.ReferencedSeriesSequence[0].SeriesInstanceUID == image.SeriesInstanceUID
    pixels = read.get_pixels_by_source_instance([image.SOPInstanceUID], combine_segments=True)
    assert np.array_equal(pixels, mask)
    assert np.array_equal(read_seg(seg, [image], 2), mask)
    nifti = write_nifti(mask, geometry)
    assert np.array_equal(read_nifti(nifti, geometry, 2), mask)
    written = tmp_path / "mask.nii.gz"
    written.write_bytes(nifti)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(written))), mask)
