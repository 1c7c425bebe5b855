"""A DICOM series as a 3D volume with its geometry, the way SimpleITK's series reader sees it.

Conventions (the same as ``radscholar_phantoms`` and SimpleITK):

* ``Volume.array`` is numpy ``[z, y, x]`` = ``[k, j, i]`` (slice, row, column);
* ``spacing`` and ``origin`` are in index order ``(x, y, z)``; ``origin`` is the centre of voxel
  ``(0, 0, 0)`` in DICOM patient coordinates (LPS, mm);
* ``direction`` is the row-major 3x3 matrix whose *columns* are the unit vectors of the i, j and k
  axes (``SimpleITK.Image.GetDirection()``): the row and column cosines of ImageOrientationPatient
  and the slice normal, their cross product. Slices are sorted along that normal.

A 2D projection image (DX, CR, MG: no ImagePositionPatient) is a one-slice volume with the in-plane
spacing of PixelSpacing (or ImagerPixelSpacing), origin 0 and identity direction, as SimpleITK
reports it; ``patient_geometry`` is then False. Pixel values are never inverted: a MONOCHROME1
image keeps its values and records its photometric interpretation for display.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import ExplicitVRLittleEndian

from radscholar_core.errors import FailedPrecondition, InvalidArgument

if TYPE_CHECKING:
    import SimpleITK

Units = Literal["HU", "stored", "rescaled"]

ORIENTATION_TOLERANCE = 1e-4  # direction cosines of two slices differ by at most this much
PIXEL_SPACING_TOLERANCE = 1e-4  # relative
SLICE_SPACING_TOLERANCE = 0.01  # relative to the median gap between slices (1 %)
DUPLICATE_POSITION_MM = 1e-3  # two slices closer than this along the normal are at the same position
IN_PLANE_DRIFT = 0.05  # slice origins may drift in-plane by this fraction of a pixel (else: tilt/shear)
_CHUNK = 32  # slices rescaled at a time (bounds the temporaries of a large series)


@dataclass(frozen=True)
class Window:
    """A linear VOI window (DICOM WindowCenter / WindowWidth), in the units of the volume's values."""

    center: float
    width: float
    name: str = ""


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxels of one series and where they lie in the patient."""

    array: NDArray[Any]  # [z, y, x]
    spacing: tuple[float, float, float]  # (x, y, z) mm
    origin: tuple[float, float, float]  # (x, y, z) LPS mm, centre of voxel (0, 0, 0)
    direction: tuple[float, ...]  # 3x3 row-major, columns = unit vectors of the i, j, k axes
    modality: str
    units: Units  # "HU" (CT after rescale), "rescaled" (other modalities after rescale), "stored"
    series_instance_uid: str
    photometric_interpretation: str = "MONOCHROME2"
    windows: tuple[Window, ...] = ()  # the series' own display windows, in ``units``
    instance_uids: tuple[str, ...] = ()  # SOPInstanceUID of each slice (repeated for multi-frame)
    patient_geometry: bool = True  # False for projection images: origin and direction are conventions

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"a volume's array is [z, y, x], got {self.array.ndim} dimensions")
        if len(self.spacing) != 3 or len(self.origin) != 3 or len(self.direction) != 9:
            raise ValueError("spacing and origin need 3 values and direction 9")
        if not all(s > 0 for s in self.spacing):
            raise ValueError(f"spacing must be positive, got {self.spacing}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        z, y, x = self.array.shape
        return int(z), int(y), int(x)

    @property
    def direction_matrix(self) -> NDArray[np.float64]:
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    @property
    def affine(self) -> NDArray[np.float64]:
        """4x4 matrix mapping an index ``(i, j, k, 1)`` to LPS millimetres."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction_matrix * np.asarray(self.spacing)
        affine[:3, 3] = self.origin
        return affine


@dataclass(frozen=True)
class _Plane:
    """One 2D frame to stack: a single-frame instance or one frame of a multi-frame one."""

    dataset: Dataset
    frame: int | None  # frame index in a multi-frame instance
    position: tuple[float, ...] | None  # ImagePositionPatient
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (row cosines, column cosines)
    pixel_spacing: tuple[float, ...] | None  # (between rows, between columns) mm
    rows: int
    columns: int
    slope: float
    intercept: float
    rescale_type: str
    sop_instance_uid: str


def volume_from_instances(datasets: Sequence[Dataset], *, apply_rescale: bool = True) -> Volume:
    """Assemble the instances of one series, in any order, into a :class:`Volume`.

    Slices (or the frames of enhanced multi-frame instances) are sorted along the normal of
    ImageOrientationPatient and their spacing comes from ImagePositionPatient; SliceThickness is only
    used for a lone slice. With ``apply_rescale`` each slice's RescaleSlope/Intercept is applied: CT
    gives HU, as int16 when that is exact, anything else float32; without it the stored values are
    kept. Raises FailedPrecondition, with a reason naming the problem, when the instances do not form
    one regular volume.
    """
    if not datasets:
        raise InvalidArgument("no instances to assemble", reason="NO_INSTANCES")
    _check_one_series(datasets)
    photometric = _check_pixels(datasets)
    first = datasets[0]
    modality = str(first.get("Modality", "") or "")

    planes: list[_Plane] = []
    for ds in datasets:
        planes.extend(_multiframe_planes(ds) if _is_enhanced(ds) else [_single_frame_plane(ds)])
    located = sum(p.position is not None and p.orientation is not None for p in planes)
    patient_geometry = True
    if any(_frame_count(ds) > 1 for ds in datasets):
        try:
            order, spacing, origin, direction = _stack_geometry(planes)
        except FailedPrecondition as exc:
            raise FailedPrecondition(
                f"the frames do not form a single regular stack: {exc.message}",
                reason="UNSUPPORTED_MULTIFRAME",
                details={"cause": exc.reason},
            ) from exc
    elif located == len(planes):
        order, spacing, origin, direction = _stack_geometry(planes)
    elif located == 0 and len(planes) == 1:
        order, spacing, origin, direction = _projection_geometry(planes[0])
        patient_geometry = False
    elif located == 0:
        raise FailedPrecondition(
            f"{len(planes)} images without ImagePositionPatient/ImageOrientationPatient cannot be stacked "
            "into a volume; read them one at a time",
            reason="NOT_A_VOLUME",
        )
    else:
        raise FailedPrecondition(
            f"{len(planes) - located} of {len(planes)} instances lack ImagePositionPatient or ImageOrientationPatient",
            reason="MISSING_IMAGE_PLANE",
        )

    ordered = [planes[i] for i in order]
    raw = _decode(ordered)
    slopes = np.array([p.slope for p in ordered], dtype=np.float64)
    intercepts = np.array([p.intercept for p in ordered], dtype=np.float64)
    identity = bool(np.all(slopes == 1.0) and np.all(intercepts == 0.0))
    is_hu = modality == "CT" and all(p.rescale_type in ("", "HU") for p in ordered)

    units: Units
    if not apply_rescale:
        array, units = raw, "stored"
    elif identity:
        array, units = raw, ("HU" if is_hu else "stored")
    else:
        array, units = _rescale(raw, slopes, intercepts, integer_ok=is_hu), ("HU" if is_hu else "rescaled")

    windows = _windows(ordered[0].dataset, ordered[0].frame)
    if units == "stored" and not identity:
        windows = _windows_in_stored_units(windows, slopes, intercepts)

    return Volume(
        array=array,
        spacing=spacing,
        origin=origin,
        direction=direction,
        modality=modality,
        units=units,
        series_instance_uid=str(first.get("SeriesInstanceUID", "") or ""),
        photometric_interpretation=photometric,
        windows=windows,
        instance_uids=tuple(p.sop_instance_uid for p in ordered),
        patient_geometry=patient_geometry,
    )


# --- checks ---------------------------------------------------------------------------------


def _check_one_series(datasets: Sequence[Dataset]) -> None:
    series = sorted({str(ds.get("SeriesInstanceUID", "") or "") for ds in datasets})
    modalities = sorted({str(ds.get("Modality", "") or "") for ds in datasets})
    if len(series) > 1:
        raise FailedPrecondition(
            f"instances come from {len(series)} series; assemble one series at a time",
            reason="MIXED_SERIES",
            details={"series_instance_uids": ",".join(series)},
        )
    if len(modalities) > 1:
        raise FailedPrecondition(
            f"instances of one series have modalities {', '.join(modalities)}",
            reason="MIXED_SERIES",
            details={"modalities": ",".join(modalities)},
        )


def _check_pixels(datasets: Sequence[Dataset]) -> str:
    """Every instance has grayscale pixel data with one photometric interpretation; returns it."""
    photometrics = set()
    for ds in datasets:
        if not any(keyword in ds for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
            raise FailedPrecondition(
                f"instance {ds.get('SOPInstanceUID', '?')} has no pixel data", reason="NO_PIXEL_DATA"
            )
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2")
        if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise FailedPrecondition(
                f"only grayscale images form volumes, got {photometric}",
                reason="UNSUPPORTED_PHOTOMETRIC_INTERPRETATION",
                details={"photometric_interpretation": photometric},
            )
        if "ModalityLUTSequence" in ds:
            raise FailedPrecondition(
                "a Modality LUT Sequence (non-linear rescale) is not supported", reason="UNSUPPORTED_MODALITY_LUT"
            )
        photometrics.add(photometric)
    if len(photometrics) > 1:
        raise FailedPrecondition(
            "instances mix MONOCHROME1 and MONOCHROME2", reason="INCONSISTENT_PHOTOMETRIC_INTERPRETATION"
        )
    return photometrics.pop()


def _is_enhanced(ds: Dataset) -> bool:
    """Multi-frame, or described by functional groups (enhanced CT/MR, even with one frame)."""
    return _frame_count(ds) > 1 or "PerFrameFunctionalGroupsSequence" in ds


def _frame_count(ds: Dataset) -> int:
    try:
        return int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1


def _values(value: Any) -> list[Any]:
    """An attribute's values as a list, whether it holds one value or several."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _floats(value: Any, count: int, name: str) -> tuple[float, ...] | None:
    """A multi-valued DS attribute as floats; None when absent or empty."""
    if value is None or value == "":
        return None
    try:
        floats = tuple(float(v) for v in _values(value))
    except (TypeError, ValueError):
        floats = ()
    if len(floats) != count or not all(math.isfinite(v) for v in floats):
        raise FailedPrecondition(f"{name} must have {count} numbers, got {value!r}", reason="MALFORMED_ATTRIBUTE")
    return floats


def _number(value: Any, default: float, name: str) -> float:
    if value is None or value == "":
        return default
    found = _floats(value, 1, name)
    return found[0] if found else default


# --- planes ---------------------------------------------------------------------------------


def _single_frame_plane(ds: Dataset) -> _Plane:
    spacing = _floats(ds.get("PixelSpacing"), 2, "PixelSpacing") or _floats(
        ds.get("ImagerPixelSpacing"), 2, "ImagerPixelSpacing"
    )
    return _Plane(
        dataset=ds,
        frame=None,
        position=_floats(ds.get("ImagePositionPatient"), 3, "ImagePositionPatient"),
        orientation=_floats(ds.get("ImageOrientationPatient"), 6, "ImageOrientationPatient"),
        pixel_spacing=spacing,
        rows=int(ds.get("Rows", 0) or 0),
        columns=int(ds.get("Columns", 0) or 0),
        slope=_number(ds.get("RescaleSlope"), 1.0, "RescaleSlope"),
        intercept=_number(ds.get("RescaleIntercept"), 0.0, "RescaleIntercept"),
        rescale_type=str(ds.get("RescaleType", "") or ""),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
    )


def _functional_group(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """The first item of a functional group macro for one frame: per-frame first, then shared."""
    for groups_keyword, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(groups_keyword)
        if groups is not None and len(groups) > index:
            macro = groups[index].get(keyword)
            if macro is not None and len(macro) > 0:
                item: Dataset = macro[0]
                return item
    return None


def _multiframe_planes(ds: Dataset) -> list[_Plane]:
    """One plane per frame of an enhanced instance, from its functional groups."""
    frames = _frame_count(ds)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or len(per_frame) != frames:
        raise FailedPrecondition(
            f"multi-frame instance ({frames} frames) without per-frame functional groups: its frames have no "
            "position in the patient",
            reason="UNSUPPORTED_MULTIFRAME",
        )
    planes = []
    for frame in range(frames):
        position = _functional_group(ds, frame, "PlanePositionSequence")
        orientation = _functional_group(ds, frame, "PlaneOrientationSequence")
        measures = _functional_group(ds, frame, "PixelMeasuresSequence")
        transform = _functional_group(ds, frame, "PixelValueTransformationSequence") or ds
        if position is None or orientation is None:
            raise FailedPrecondition(
                f"frame {frame + 1} has no plane position or orientation", reason="UNSUPPORTED_MULTIFRAME"
            )
        planes.append(
            _Plane(
                dataset=ds,
                frame=frame,
                position=_floats(position.get("ImagePositionPatient"), 3, "ImagePositionPatient"),
                orientation=_floats(orientation.get("ImageOrientationPatient"), 6, "ImageOrientationPatient"),
                pixel_spacing=_floats(measures.get("PixelSpacing"), 2, "PixelSpacing") if measures else None,
                rows=int(ds.get("Rows", 0) or 0),
                columns=int(ds.get("Columns", 0) or 0),
                slope=_number(transform.get("RescaleSlope"), 1.0, "RescaleSlope"),
                intercept=_number(transform.get("RescaleIntercept"), 0.0, "RescaleIntercept"),
                rescale_type=str(transform.get("RescaleType", "") or ""),
                sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
            )
        )
    return planes


# --- geometry -------------------------------------------------------------------------------

_Geometry = tuple[list[int], tuple[float, float, float], tuple[float, float, float], tuple[float, ...]]


def _projection_geometry(plane: _Plane) -> _Geometry:
    row_spacing, column_spacing = plane.pixel_spacing or (1.0, 1.0)
    identity = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    return [0], (column_spacing, row_spacing, 1.0), (0.0, 0.0, 0.0), identity


def _stack_geometry(planes: Sequence[_Plane]) -> _Geometry:
    """Sort planes along their normal and check that they form one regular grid."""
    orientations = np.array([p.orientation for p in planes], dtype=np.float64)
    positions = np.array([p.position for p in planes], dtype=np.float64)
    if np.max(np.abs(orientations - orientations[0])) > ORIENTATION_TOLERANCE:
        raise FailedPrecondition("slices have different ImageOrientationPatient", reason="INCONSISTENT_ORIENTATION")
    sizes = {(p.rows, p.columns) for p in planes}
    if len(sizes) > 1:
        raise FailedPrecondition(
            f"slices have different sizes (rows x columns): {sorted(sizes)}", reason="INCONSISTENT_IMAGE_SIZE"
        )
    spacings = np.array([p.pixel_spacing or (1.0, 1.0) for p in planes], dtype=np.float64)
    if np.max(np.abs(spacings / spacings[0] - 1.0)) > PIXEL_SPACING_TOLERANCE:
        raise FailedPrecondition("slices have different PixelSpacing", reason="INCONSISTENT_PIXEL_SPACING")
    if np.any(spacings[0] <= 0):
        raise FailedPrecondition(f"PixelSpacing must be positive, got {spacings[0]}", reason="MALFORMED_ATTRIBUTE")

    row_cosines, column_cosines = orientations[0, :3], orientations[0, 3:]
    if (
        abs(np.linalg.norm(row_cosines) - 1.0) > 1e-2
        or abs(np.linalg.norm(column_cosines) - 1.0) > 1e-2
        or abs(row_cosines @ column_cosines) > 1e-2
    ):
        raise FailedPrecondition(
            f"ImageOrientationPatient {orientations[0].tolist()} is not two orthogonal unit vectors",
            reason="MALFORMED_ATTRIBUTE",
        )
    row_cosines = row_cosines / np.linalg.norm(row_cosines)
    column_cosines = column_cosines / np.linalg.norm(column_cosines)
    normal = np.cross(row_cosines, column_cosines)
    normal /= np.linalg.norm(normal)

    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along = along[order]
    row_spacing, column_spacing = (float(v) for v in spacings[0])

    if len(planes) > 1:
        gaps = np.diff(along)
        duplicate = int(np.argmin(gaps))
        if gaps[duplicate] <= DUPLICATE_POSITION_MM:
            a, b = planes[order[duplicate]], planes[order[duplicate + 1]]
            same = a.sop_instance_uid == b.sop_instance_uid and a.frame == b.frame
            raise FailedPrecondition(
                ("the same instance is given twice" if same else "two slices share one position")
                + f" ({along[duplicate]:.3f} mm along the slice normal)",
                reason="DUPLICATE_SLICE_POSITION",
                details={"sop_instance_uids": f"{a.sop_instance_uid},{b.sop_instance_uid}"},
            )
        expected = float(np.median(gaps))
        worst = int(np.argmax(np.abs(gaps - expected)))
        if abs(gaps[worst] - expected) > max(SLICE_SPACING_TOLERANCE * expected, DUPLICATE_POSITION_MM):
            missing = round(gaps[worst] / expected) - 1
            hint = f"; about {missing} slice(s) missing there" if missing >= 1 else ""
            raise FailedPrecondition(
                f"slice spacing is not uniform: a gap of {gaps[worst]:.4g} mm at {along[worst]:.4g} mm along the "
                f"normal where the series has {expected:.4g} mm{hint}",
                reason="NON_UNIFORM_SLICE_SPACING",
                details={"gap_mm": f"{gaps[worst]:.6g}", "expected_mm": f"{expected:.6g}"},
            )
        drift = (positions[order] - positions[order[0]]) @ np.stack([row_cosines, column_cosines], axis=1)
        if np.max(np.abs(drift) / np.array([column_spacing, row_spacing])) > IN_PLANE_DRIFT:
            raise FailedPrecondition(
                "slice positions move within the image plane from slice to slice (gantry tilt or a sheared "
                "stack): the voxels would not lie on a rectangular grid",
                reason="SHEARED_SLICE_STACK",
            )
        slice_spacing = float((along[-1] - along[0]) / (len(planes) - 1))
    else:
        ds = planes[0].dataset
        slice_spacing = _number(ds.get("SpacingBetweenSlices"), 0.0, "SpacingBetweenSlices") or _number(
            ds.get("SliceThickness"), 0.0, "SliceThickness"
        )
        slice_spacing = slice_spacing if slice_spacing > 0 else 1.0

    direction = np.stack([row_cosines, column_cosines, normal], axis=1)  # columns = axis vectors
    origin = positions[order[0]]
    return (
        [int(i) for i in order],
        (column_spacing, row_spacing, slice_spacing),
        (float(origin[0]), float(origin[1]), float(origin[2])),
        tuple(float(v) for v in direction.reshape(-1)),
    )


# --- pixels ---------------------------------------------------------------------------------


def _decode_instance(ds: Dataset) -> NDArray[Any]:
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        array, _ = get_decoder(syntax or ExplicitVRLittleEndian).as_array(ds)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError, KeyError) as exc:
        raise FailedPrecondition(
            f"cannot decode the pixel data of instance {ds.get('SOPInstanceUID', '?')}: {exc}",
            reason="UNDECODABLE_PIXEL_DATA",
            details={"transfer_syntax_uid": str(syntax or "")},
        ) from exc
    return array


def _decode(planes: Sequence[_Plane]) -> NDArray[Any]:
    """The stored values of the planes, stacked in their order, as [z, y, x]."""
    multiframe: dict[int, NDArray[Any]] = {}  # decoded frames of each multi-frame instance, by id()
    stack: NDArray[Any] | None = None
    for k, plane in enumerate(planes):
        if plane.frame is None:
            pixels = _decode_instance(plane.dataset)
        else:
            if id(plane.dataset) not in multiframe:
                frames = _decode_instance(plane.dataset)
                multiframe[id(plane.dataset)] = frames.reshape((-1, *frames.shape[-2:]))
            pixels = multiframe[id(plane.dataset)][plane.frame]
        if pixels.shape != (plane.rows, plane.columns):
            raise FailedPrecondition(
                f"instance {plane.sop_instance_uid} decodes to {pixels.shape}, not {plane.rows} x {plane.columns}",
                reason="INCONSISTENT_IMAGE_SIZE",
            )
        if stack is None:
            stack = np.empty((len(planes), *pixels.shape), dtype=pixels.dtype)
        elif not np.can_cast(pixels.dtype, stack.dtype, casting="safe"):
            stack = stack.astype(np.result_type(stack.dtype, pixels.dtype))
        stack[k] = pixels
    assert stack is not None
    return stack


def _rescale(
    raw: NDArray[Any], slopes: NDArray[np.float64], intercepts: NDArray[np.float64], *, integer_ok: bool
) -> NDArray[Any]:
    """``raw * slope + intercept`` per slice: int16 when ``integer_ok`` and exact, else float32."""
    integral = bool(np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)))
    if integer_ok and integral and raw.dtype.kind in "iu":
        low = raw.min(axis=(1, 2)).astype(np.float64) * slopes + intercepts
        high = raw.max(axis=(1, 2)).astype(np.float64) * slopes + intercepts
        lowest, highest = float(min(low.min(), high.min())), float(max(low.max(), high.max()))
        if lowest >= np.iinfo(np.int16).min and highest <= np.iinfo(np.int16).max:
            out = np.empty(raw.shape, dtype=np.int16)
            int_slopes, int_intercepts = slopes.astype(np.int32), intercepts.astype(np.int32)
            for start in range(0, raw.shape[0], _CHUNK):
                part = slice(start, start + _CHUNK)
                out[part] = raw[part].astype(np.int32) * int_slopes[part, None, None] + int_intercepts[part, None, None]
            return out
    out32 = np.empty(raw.shape, dtype=np.float32)
    for start in range(0, raw.shape[0], _CHUNK):
        part = slice(start, start + _CHUNK)
        out32[part] = raw[part].astype(np.float64) * slopes[part, None, None] + intercepts[part, None, None]
    return out32


# --- display windows ------------------------------------------------------------------------


def _windows(ds: Dataset, frame: int | None) -> tuple[Window, ...]:
    source = (_functional_group(ds, frame, "FrameVOILUTSequence") if frame is not None else None) or ds
    centers, widths = source.get("WindowCenter"), source.get("WindowWidth")
    if centers is None or widths is None or centers == "" or widths == "":
        return ()
    explanations = _values(source.get("WindowCenterWidthExplanation", []) or [])
    windows = []
    for n, (center, width) in enumerate(zip(_values(centers), _values(widths), strict=False)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if math.isfinite(c) and math.isfinite(w) and w >= 1:
            windows.append(Window(c, w, str(explanations[n]) if n < len(explanations) else ""))
    return tuple(windows)


def _windows_in_stored_units(
    windows: tuple[Window, ...], slopes: NDArray[np.float64], intercepts: NDArray[np.float64]
) -> tuple[Window, ...]:
    """DICOM windows apply after the rescale: map them back to stored values (one rescale only)."""
    if np.ptp(slopes) != 0 or np.ptp(intercepts) != 0 or slopes[0] == 0:
        return ()
    slope, intercept = float(slopes[0]), float(intercepts[0])
    return tuple(Window((w.center - intercept) / slope, max(w.width / abs(slope), 1.0), w.name) for w in windows)


# --- conversions ----------------------------------------------------------------------------

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def nifti_affine(volume: Volume) -> NDArray[np.float64]:
    """The volume's index-to-RAS affine, as NIfTI stores it."""
    return _LPS_TO_RAS @ volume.affine


def to_nifti_bytes(volume: Volume, *, compress: bool = True) -> bytes:
    """The volume as a NIfTI-1 file (``.nii.gz`` when ``compress``), with its LPS geometry as RAS."""
    import nibabel  # only this helper needs it

    image = nibabel.Nifti1Image(np.asarray(volume.array).transpose(2, 1, 0), nifti_affine(volume))
    image.header.set_xyzt_units("mm")
    image.set_qform(nifti_affine(volume), code=1)  # scanner coordinates
    image.set_sform(nifti_affine(volume), code=1)
    data: bytes = image.to_bytes()
    return gzip.compress(data, compresslevel=6, mtime=0) if compress else data


def to_simpleitk(volume: Volume) -> SimpleITK.Image:
    """The volume as a SimpleITK image with the same spacing, origin and direction."""
    import SimpleITK as sitk  # only this helper needs it

    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(volume.direction)
    return image
