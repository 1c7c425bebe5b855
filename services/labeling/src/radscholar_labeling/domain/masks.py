"""Segmentation masks of a series as label maps, and their three encodings: RLE, NIfTI and DICOM SEG.

Conventions (the same as ``radscholar_dicomstore.domain.volumes`` and SimpleITK):

* a mask is a numpy label map ``[z, y, x]`` (slice, row, column) of dtype uint8; 0 is background and
  ``k`` the k-th class of the project's schema (1-based);
* ``Geometry.size``, ``spacing`` and ``origin`` are in index order ``(x, y, z)``; ``origin`` is the
  centre of voxel ``(0, 0, 0)`` in DICOM patient coordinates (LPS, mm); ``direction`` is the row-major
  3x3 matrix whose *columns* are the unit vectors of the i, j and k axes. Slices are sorted along the
  slice normal (the cross product of the row and column cosines).

NIfTI files are RAS: their affine is the LPS affine with the first two rows negated. A DICOM SEG has
one segment per class of the schema, segment number ``k`` = label ``k``.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from radscholar_core.errors import InvalidArgument

Mask = NDArray[np.uint8]

GRID_TOLERANCE = 1e-3  # voxel centres of two grids agree within this fraction of a voxel
SLICE_GAP_TOLERANCE = 0.01  # slice gaps of a series agree within this fraction of their median
IN_PLANE_DRIFT = 0.05  # slice origins may drift in-plane by this fraction of a pixel
SEG_THRESHOLD = 0.5  # a FRACTIONAL SEG voxel belongs to a segment from this probability/occupancy on
MAX_LABEL = 255  # a uint8 label map

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
_LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"


@dataclass(frozen=True)
class Geometry:
    """The voxel grid of a series: where each voxel of a ``[z, y, x]`` array lies in the patient."""

    size: tuple[int, int, int]  # (x, y, z) = columns, rows, slices
    spacing: tuple[float, float, float]  # (x, y, z) mm
    origin: tuple[float, float, float]  # (x, y, z) LPS mm, centre of voxel (0, 0, 0)
    direction: tuple[float, ...]  # 3x3 row-major, columns = unit vectors of the i, j, k axes

    def __post_init__(self) -> None:
        if len(self.size) != 3 or len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ValueError("size, spacing and origin need 3 values and direction 9")
        if any(n < 1 for n in self.size) or any(s <= 0 for s in self.spacing):
            raise ValueError(f"size and spacing must be positive, got {self.size} and {self.spacing}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The numpy shape of a mask on this grid, ``(z, y, x)``."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def direction_matrix(self) -> NDArray[np.float64]:
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    def index_to_physical(self, index: Any) -> NDArray[np.float64]:
        """LPS mm of continuous ``(i, j, k)`` indices (shape ``(..., 3)``)."""
        scaled = np.asarray(index, dtype=np.float64) * np.asarray(self.spacing)
        return np.asarray(self.origin) + scaled @ self.direction_matrix.T

    def affine(self) -> NDArray[np.float64]:
        """The 4x4 voxel ``(i, j, k)`` to LPS mm affine."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction_matrix * np.asarray(self.spacing)[None, :]
        affine[:3, 3] = self.origin
        return affine


@dataclass(frozen=True)
class RleSlice:
    """The voxels of one class on one slice, run-length encoded.

    ``counts`` are run lengths over the slice in row-major order (rows, then columns), alternating
    background and foreground and starting with background (the first count may be 0).
    """

    index: int  # slice index k, 0-based
    label: int  # class, 1-based
    counts: list[int]


# --- RLE ---------------------------------------------------------------------------------------------


def decode_rle(slices: Sequence[RleSlice], geometry: Geometry, labels: int) -> Mask:
    """The label map of ``slices``; a later slice overwrites an earlier one where they overlap."""
    _check_labels(labels)
    depth, rows, columns = geometry.shape
    mask = np.zeros(geometry.shape, dtype=np.uint8)
    for position, rle in enumerate(slices):
        where = f"slice {position} (index {rle.index}, label {rle.label})"
        if isinstance(rle.index, bool) or not isinstance(rle.index, int | np.integer) or not 0 <= rle.index < depth:
            raise InvalidArgument(
                f"{where}: the slice index must be 0 to {depth - 1}",
                reason="INVALID_RLE",
                details={"slice": str(position)},
            )
        if isinstance(rle.label, bool) or not isinstance(rle.label, int | np.integer) or not 1 <= rle.label <= labels:
            raise InvalidArgument(
                f"{where}: the label must be 1 to {labels}", reason="UNKNOWN_LABEL", details={"slice": str(position)}
            )
        counts = _run_lengths(rle.counts, where, position)
        if int(counts.sum()) != rows * columns:
            raise InvalidArgument(
                f"{where}: the counts sum to {int(counts.sum())}, not rows x columns = {rows * columns}",
                reason="INVALID_RLE",
                details={"slice": str(position)},
            )
        foreground = np.repeat(np.arange(counts.size) % 2 == 1, counts).reshape(rows, columns)
        mask[rle.index][foreground] = rle.label
    return mask


def encode_rle(mask: NDArray[Any]) -> list[RleSlice]:
    """The RLE slices of a label map: one per non-empty (slice, label) pair, by slice then label."""
    labels = _label_map(mask)
    encoded = []
    for index, plane in enumerate(labels):
        flat = plane.reshape(-1)
        for label in np.unique(flat[flat > 0]):
            foreground = flat == label
            edges = np.flatnonzero(foreground[1:] != foreground[:-1]) + 1
            runs = np.diff(np.concatenate(([0], edges, [flat.size])))
            counts = [int(n) for n in runs]
            encoded.append(RleSlice(index, int(label), [0, *counts] if foreground[0] else counts))
    return encoded


def _run_lengths(counts: Sequence[int], where: str, position: int) -> NDArray[np.int64]:
    details = {"slice": str(position)}
    if len(counts) == 0:
        raise InvalidArgument(f"{where}: counts are empty", reason="INVALID_RLE", details=details)
    if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in counts):
        raise InvalidArgument(f"{where}: counts must be integers", reason="INVALID_RLE", details=details)
    runs = np.asarray(counts, dtype=np.int64)
    if (runs < 0).any():
        raise InvalidArgument(f"{where}: counts must not be negative", reason="INVALID_RLE", details=details)
    return runs


# --- NIfTI -------------------------------------------------------------------------------------------


def read_nifti(data: bytes, geometry: Geometry, labels: int) -> Mask:
    """The label map of a .nii or .nii.gz file on the grid of ``geometry``.

    The file's grid must be the same as ``geometry``'s up to axis flips and permutations (its array is
    reoriented); its values must be whole numbers 0 to ``labels``.
    """
    import nibabel as nib  # a heavy import, only needed here

    _check_labels(labels)
    raw = _gunzip(data) if data[:2] == b"\x1f\x8b" else data
    image: Any = None
    problems = []
    for kind in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            image = kind.from_bytes(raw)
            break
        except Exception as error:  # nibabel raises many kinds; try the next format
            problems.append(f"{kind.__name__}: {error}")
    if image is None:
        raise InvalidArgument(f"not a NIfTI-1 or NIfTI-2 file ({'; '.join(problems)})", reason="INVALID_NIFTI")
    try:
        values = np.asanyarray(image.dataobj)
    except Exception as error:
        raise InvalidArgument(f"the NIfTI voxels cannot be read: {error}", reason="INVALID_NIFTI") from error
    while values.ndim > 3 and values.shape[-1] == 1:
        values = values[..., 0]
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3:
        raise InvalidArgument(
            f"a mask is 3D, the NIfTI has shape {values.shape}",
            reason="MASK_SHAPE_MISMATCH",
            details={"shape": str(values.shape)},
        )
    if values.dtype.kind not in "biuf":
        raise InvalidArgument(f"NIfTI voxels of type {values.dtype} are not labels", reason="INVALID_NIFTI")
    if values.dtype.kind == "f" and not (np.isfinite(values).all() and (values == np.round(values)).all()):
        raise InvalidArgument("the NIfTI has non-integer values; a mask holds class numbers", reason="INVALID_NIFTI")
    axes, flips = _nifti_to_geometry_axes(
        _LPS_TO_RAS @ np.asarray(image.affine, dtype=np.float64), values.shape, geometry
    )
    _check_values(values, labels)
    oriented = np.transpose(values, axes)  # (i, j, k) of the geometry
    for axis in np.flatnonzero(flips):
        oriented = np.flip(oriented, axis=int(axis))
    return np.ascontiguousarray(oriented.transpose(2, 1, 0), dtype=np.uint8)


def write_nifti(mask: NDArray[Any], geometry: Geometry) -> bytes:
    """A gzipped NIfTI-1 file of ``mask`` (uint8, RAS affine of ``geometry``, qform and sform codes 1)."""
    import nibabel as nib

    labels = _label_map(mask, geometry)
    affine = _LPS_TO_RAS @ geometry.affine()
    image = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)), affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units(xyz="mm")
    image.header.set_data_dtype(np.uint8)
    image.header["descrip"] = b"radscholar label map"
    return gzip.compress(image.to_bytes(), compresslevel=6, mtime=0)


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise InvalidArgument(f"the .nii.gz file is not valid gzip: {error}", reason="INVALID_NIFTI") from error


def _nifti_to_geometry_axes(
    affine: NDArray[np.float64], shape: tuple[int, ...], geometry: Geometry
) -> tuple[tuple[int, int, int], NDArray[np.bool_]]:
    """How the NIfTI's (LPS) voxel grid maps onto ``geometry``: the NIfTI axis of each geometry axis
    and whether it runs backwards. Raises MASK_GEOMETRY_MISMATCH naming what differs."""
    linear = affine[:3, :3]
    nifti_spacing = np.linalg.norm(linear, axis=0)
    if (nifti_spacing <= 0).any():
        raise InvalidArgument("the NIfTI affine is singular", reason="INVALID_NIFTI")
    cosines = geometry.direction_matrix.T @ (linear / nifti_spacing)  # [geometry axis, NIfTI axis]
    axis_of = np.argmax(np.abs(cosines), axis=0)  # geometry axis of each NIfTI axis
    if sorted(axis_of) != [0, 1, 2] or (np.abs(cosines[axis_of, [0, 1, 2]]) < 0.99).any():
        raise _geometry_mismatch("direction", _rounded(linear / nifti_spacing), geometry.direction_matrix.round(4))
    nifti_axis = tuple(int(np.flatnonzero(axis_of == g)[0]) for g in range(3))
    flips = np.array([cosines[g, nifti_axis[g]] < 0 for g in range(3)])
    size = tuple(int(shape[nifti_axis[g]]) for g in range(3))
    spacing = nifti_spacing[list(nifti_axis)]
    differences = []
    if size != geometry.size:
        differences.append(f"size (x, y, z) {size} vs {geometry.size}")
    if not np.allclose(spacing, geometry.spacing, rtol=GRID_TOLERANCE / max(geometry.size), atol=0):
        differences.append(f"spacing (x, y, z) {_rounded(spacing)} mm vs {_rounded(geometry.spacing)} mm")
    if not differences:
        first = np.where(flips, np.asarray(geometry.size) - 1, 0)  # where NIfTI voxel (0, 0, 0) should be
        expected = geometry.index_to_physical(first)
        offset = geometry.direction_matrix.T @ (affine[:3, 3] - expected) / np.asarray(geometry.spacing)
        if (np.abs(offset) > GRID_TOLERANCE).any():
            differences.append(f"origin {_rounded(affine[:3, 3])} mm (LPS) vs {_rounded(expected)} mm")
    if not differences:
        # Same size, spacing and first voxel: check every corner, which bounds the error of all voxels.
        corners = np.array([[(c >> a) & 1 for a in range(3)] for c in range(8)]) * (np.asarray(shape) - 1)
        physical = corners @ linear.T + affine[:3, 3]
        index = (physical - np.asarray(geometry.origin)) @ geometry.direction_matrix / np.asarray(geometry.spacing)
        drift = float(np.abs(index - np.round(index)).max())
        if drift > GRID_TOLERANCE:
            differences.append(f"voxel centres off the grid by up to {drift:.4f} voxels")
    if differences:
        raise InvalidArgument(
            "the NIfTI grid is not the series grid: " + "; ".join(differences),
            reason="MASK_GEOMETRY_MISMATCH",
            details={"differences": "; ".join(differences)},
        )
    return (nifti_axis[0], nifti_axis[1], nifti_axis[2]), flips


def _geometry_mismatch(what: str, found: Any, expected: Any) -> InvalidArgument:
    difference = f"{what} {found} vs {expected}".replace("\n", "")
    return InvalidArgument(
        f"the NIfTI grid is not the series grid: {difference}",
        reason="MASK_GEOMETRY_MISMATCH",
        details={"differences": difference},
    )


# --- DICOM series geometry ---------------------------------------------------------------------------


def geometry_of(source: Sequence[Dataset]) -> Geometry:
    """The grid of a single-frame series (any order): slices sorted along the slice normal."""
    return _sorted_series(source)[1]


def _sorted_series(source: Sequence[Dataset]) -> tuple[list[Dataset], Geometry]:
    if not source:
        raise InvalidArgument("the series has no images", reason="INVALID_SERIES")
    if len(source) == 1 and "ImagePositionPatient" not in source[0] and "ImageOrientationPatient" not in source[0]:
        return [source[0]], _projection_geometry(source[0])
    for dataset in source:
        missing = [
            k
            for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns")
            if k not in dataset
        ]
        if missing:
            raise InvalidArgument(
                f"image {dataset.get('SOPInstanceUID', '?')} lacks {', '.join(missing)}", reason="INVALID_SERIES"
            )
        if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
            raise InvalidArgument("multi-frame source images are not supported", reason="INVALID_SERIES")
    first = source[0]
    orientation = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
    pixel_spacing = np.asarray(first.PixelSpacing, dtype=np.float64)  # (row gap, column gap)
    rows, columns = int(first.Rows), int(first.Columns)
    for dataset in source[1:]:
        if not np.allclose(np.asarray(dataset.ImageOrientationPatient, dtype=np.float64), orientation, atol=1e-4):
            raise InvalidArgument("the images of the series differ in orientation", reason="INVALID_SERIES")
        if not np.allclose(np.asarray(dataset.PixelSpacing, dtype=np.float64), pixel_spacing, rtol=1e-4):
            raise InvalidArgument("the images of the series differ in pixel spacing", reason="INVALID_SERIES")
        if (int(dataset.Rows), int(dataset.Columns)) != (rows, columns):
            raise InvalidArgument("the images of the series differ in size", reason="INVALID_SERIES")
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    positions = np.asarray([ds.ImagePositionPatient for ds in source], dtype=np.float64)
    order = np.argsort(positions @ normal, kind="stable")
    ordered = [source[i] for i in order]
    positions = positions[order]
    heights = positions @ normal
    if len(ordered) > 1:
        gaps = np.diff(heights)
        gap = float(np.median(gaps))
        if gap <= 1e-3 or (np.abs(gaps - gap) > SLICE_GAP_TOLERANCE * gap).any():
            raise InvalidArgument("the slices of the series are not evenly spaced", reason="INVALID_SERIES")
        gap = float((heights[-1] - heights[0]) / (len(ordered) - 1))
    else:
        gap = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    in_plane = (positions - positions[0]) - np.outer(heights - heights[0], normal)
    if (np.abs(in_plane @ np.stack([row_cosine, column_cosine], axis=1)) > IN_PLANE_DRIFT * pixel_spacing.min()).any():
        raise InvalidArgument("the slices of the series are sheared (tilted gantry)", reason="INVALID_SERIES")
    direction = np.stack([row_cosine, column_cosine, normal], axis=1)
    geometry = Geometry(
        size=(columns, rows, len(ordered)),
        spacing=(float(pixel_spacing[1]), float(pixel_spacing[0]), gap),
        origin=(float(positions[0][0]), float(positions[0][1]), float(positions[0][2])),
        direction=tuple(float(v) for v in direction.ravel()),
    )
    return ordered, geometry


def _projection_geometry(image: Dataset) -> Geometry:
    """A projection image (DX, CR, MG: no patient geometry) as one slice, the way SimpleITK and the DICOM store's
    volumes see it: in-plane spacing from PixelSpacing (else ImagerPixelSpacing), origin 0, identity direction."""
    if int(image.get("NumberOfFrames", 1) or 1) > 1:
        raise InvalidArgument("multi-frame source images are not supported", reason="INVALID_SERIES")
    spacing = image.get("PixelSpacing") or image.get("ImagerPixelSpacing")
    if not spacing or "Rows" not in image or "Columns" not in image:
        raise InvalidArgument(
            f"image {image.get('SOPInstanceUID', '?')} has neither patient geometry nor a pixel spacing",
            reason="INVALID_SERIES",
        )
    return Geometry(
        size=(int(image.Columns), int(image.Rows), 1),
        spacing=(float(spacing[1]), float(spacing[0]), 1.0),
        origin=(0.0, 0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    )


# --- DICOM SEG ---------------------------------------------------------------------------------------


def write_seg(
    mask: NDArray[Any],
    source: Sequence[Dataset],
    classes: Sequence[tuple[str, tuple[int, int, int]]],
    *,
    series_number: int = 300,
    manufacturer: str = "RadScholar",
    description: str = "",
    algorithm: tuple[str, str] | None = None,
) -> bytes:
    """A BINARY DICOM SEG (Part-10 bytes) of ``mask`` over the ``source`` series.

    Every class of the schema is a segment (``classes[k - 1]`` = name and RGB colour of label ``k``,
    segment number ``k``), present in the mask or not, so segment numbers mean the same in every SEG of
    a project. Segments are of category and type SNOMED CT "Tissue" (a project's classes have no codes),
    labelled with the class name; MANUAL, or AUTOMATIC when a model's ``algorithm`` (name, version) made
    them (identified as of the family Artificial Intelligence).
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ordered, geometry = _sorted_series(source)
    labels = _label_map(mask, geometry)
    if not classes or len(classes) > MAX_LABEL:
        raise InvalidArgument(f"a schema has 1 to {MAX_LABEL} classes, got {len(classes)}", reason="UNKNOWN_LABEL")
    _check_values(labels, len(classes))
    identification = None
    if algorithm is not None:
        if not algorithm[0].strip() or not algorithm[1].strip():
            raise InvalidArgument("the algorithm needs a name and a version", reason="INVALID_ALGORITHM")
        identification = hd.AlgorithmIdentificationSequence(
            name=algorithm[0][:64], family=codes.cid7162.ArtificialIntelligence, version=algorithm[1][:64]
        )
    kind = hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC if algorithm else hd.seg.SegmentAlgorithmTypeValues.MANUAL
    segments = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=kind,
            algorithm_identification=identification,
            display_color=hd.color.CIELabColor.from_rgb(*colour),
        )
        for number, (name, colour) in enumerate(classes, start=1)
    ]
    try:
        seg = hd.seg.Segmentation(
            source_images=ordered,
            pixel_array=labels,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=segments,
            series_instance_uid=hd.UID(),
            series_number=series_number,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer=manufacturer,
            manufacturer_model_name="RadScholar" if algorithm else "RadScholar labeling",
            software_versions=_software_version(),
            device_serial_number="0",
            content_description=description[:64] or None,
            series_description=description[:64] or None,
            omit_empty_frames=bool(labels.any()),  # a SEG needs at least one frame
            pixel_measures=_projection_measures(ordered[0], geometry, hd),
        )
    except (ValueError, TypeError) as error:
        raise InvalidArgument(f"the SEG cannot be built: {error}", reason="INVALID_SEG") from error
    buffer = io.BytesIO()
    seg.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def read_seg(data: bytes, source: Sequence[Dataset], labels: int) -> Mask:
    """The label map of a DICOM SEG over the ``source`` series: segment number ``n`` is label ``n``.

    The SEG must reference the source series and its frames the source images, with spatial locations
    preserved. A voxel in several segments takes the highest label; a voxel of a FRACTIONAL SEG
    belongs to a segment from ``SEG_THRESHOLD`` on.
    """
    import highdicom as hd

    _check_labels(labels)
    ordered, geometry = _sorted_series(source)
    try:
        seg = hd.seg.segread(data)
    except Exception as error:
        raise InvalidArgument(f"not a DICOM SEG: {error}", reason="INVALID_SEG") from error
    series_uid = str(ordered[0].get("SeriesInstanceUID", ""))
    referenced = sorted({str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])})
    if series_uid not in referenced:
        raise _invalid_seg(f"the SEG references series {', '.join(referenced) or '(none)'}, not {series_uid}")
    instance_uids = [str(ds.SOPInstanceUID) for ds in ordered]
    foreign = {str(sop) for _, series, sop in seg.get_source_image_uids() if series == series_uid}
    foreign -= set(instance_uids)
    if foreign:
        raise _invalid_seg(f"the SEG references {len(foreign)} images of the series that are not among the source")
    frame_of_reference = ordered[0].get("FrameOfReferenceUID")
    if frame_of_reference and seg.get("FrameOfReferenceUID", frame_of_reference) != frame_of_reference:
        raise _invalid_seg(f"the SEG is in frame of reference {seg.FrameOfReferenceUID}, not {frame_of_reference}")
    if (int(seg.Rows), int(seg.Columns)) != geometry.shape[1:]:
        raise _invalid_seg(f"the SEG frames are {seg.Rows} x {seg.Columns}, the images {geometry.shape[1:]}")
    numbers = list(seg.segment_numbers)
    if not numbers:
        raise _invalid_seg("the SEG has no segments")
    unknown = [n for n in numbers if not 1 <= n <= labels]
    if unknown:
        raise InvalidArgument(
            f"the SEG has segments {unknown}; labels are 1 to {labels}",
            reason="UNKNOWN_LABEL",
            details={"labels": str(labels)},
        )
    try:
        stacked = seg.get_pixels_by_source_instance(
            instance_uids, segment_numbers=numbers, assert_missing_frames_are_empty=True
        )
    except (RuntimeError, KeyError, ValueError) as error:
        raise _invalid_seg(f"the SEG frames cannot be placed on the source images: {error}") from error
    mask = np.zeros(geometry.shape, dtype=np.uint8)
    for position in np.argsort(numbers, kind="stable"):  # ascending, so the highest label is written last
        mask[stacked[..., position] >= SEG_THRESHOLD] = numbers[position]
    return mask


def _projection_measures(image: Dataset, geometry: Geometry, hd: Any) -> Any:
    """A projection image's pixel measures, slice thickness included (highdicom's reader needs it); None for a
    series with patient geometry (highdicom takes them from the images)."""
    if "ImagePositionPatient" in image:
        return None
    return hd.PixelMeasuresSequence(pixel_spacing=(geometry.spacing[1], geometry.spacing[0]), slice_thickness=1.0)


def _invalid_seg(message: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_SEG")


def _software_version() -> str:
    try:
        return version("radscholar-labeling")
    except PackageNotFoundError:
        return "unknown"


def _check_labels(labels: int) -> None:
    if not 0 <= labels <= MAX_LABEL:
        raise ValueError(f"a uint8 label map holds 0 to {MAX_LABEL} classes, got {labels}")


def _label_map(mask: NDArray[Any], geometry: Geometry | None = None) -> Mask:
    """``mask`` as uint8, checked for shape (against ``geometry``) and range."""
    array = np.asarray(mask)
    if array.ndim != 3 or (geometry is not None and array.shape != geometry.shape):
        expected = geometry.shape if geometry is not None else "[z, y, x]"
        raise InvalidArgument(
            f"the mask has shape {array.shape}, the series {expected}",
            reason="MASK_SHAPE_MISMATCH",
            details={"shape": str(array.shape), "expected": str(expected)},
        )
    if array.dtype.kind not in "biu":
        raise InvalidArgument(f"a mask holds integer labels, not {array.dtype}", reason="UNKNOWN_LABEL")
    _check_values(array, MAX_LABEL)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _check_values(values: NDArray[Any], labels: int) -> None:
    if values.size == 0:
        return
    unknown = np.unique(values[(values < 0) | (values > labels)])
    if unknown.size:
        shown = ", ".join(str(int(v)) for v in unknown[:10])
        raise InvalidArgument(
            f"the mask has values {shown}{' ...' if unknown.size > 10 else ''}; labels are 0 to {labels}",
            reason="UNKNOWN_LABEL",
            details={"labels": str(labels)},
        )


def _rounded(values: Any) -> tuple[float, ...] | Any:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        return tuple(round(float(v), 4) for v in array)
    return array.round(4).tolist()
