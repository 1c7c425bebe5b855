"""Feature extraction for one region: image and mask checks with precise errors, then pyradiomics.

Every problem with the inputs becomes ``InvalidArgument`` with one of these reasons:

- ``INVALID_IMAGE``: the bytes are not a NIfTI or NRRD image (``read_image``);
- ``EMPTY_MASK``: the mask has no foreground voxel at all;
- ``UNKNOWN_LABEL``: the mask has foreground, but no voxel with the requested label;
- ``GEOMETRY_MISMATCH``: mask and image grids differ (dimension, size, spacing, origin or direction) beyond
  the tolerance (``geometryTolerance``, else ``DEFAULT_GEOMETRY_TOLERANCE``); the message names each
  difference and its size (``correctMask: true`` lets pyradiomics resample the mask onto the image instead);
- ``MASK_OUTSIDE_IMAGE``: the region lies wholly or partly outside the image's physical extent;
- ``TOO_FEW_VOXELS``: a single-voxel region, or one that pyradiomics finds too small or too flat
  (``minimumROISize``, ``minimumROIDimensions``) after resampling and resegmentation.

Extraction is blocking (seconds per region): servers run it in a thread or a Ray task.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import radiomics
import SimpleITK as sitk
from isal import igzip, isal_zlib

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.settings import ExtractionSettings

# Coordinates (origin, spacing) may differ by this fraction of the image's first spacing, direction cosines by this
# much, as with pyradiomics' geometryTolerance (which overrides it). SimpleITK's own default, 1e-6, refuses a NIfTI
# mask (float32 affine) on its DICOM series; 1e-3 of a voxel is geometrically nothing.
DEFAULT_GEOMETRY_TOLERANCE = 1e-3

logging.getLogger("radiomics").setLevel(logging.WARNING)  # its INFO lines trace each feature class of each region


class _SumAverageNotice(logging.Filter):
    """Drops pyradiomics' warning that with a symmetrical GLCM, Sum Average = 2 x Joint Average. It comes for every
    image of every region that computes Sum Average, as the built-in presets do (an IBSI feature; selection handles
    the redundancy): 48 identical lines a region with the comprehensive preset, and nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("GLCM is symmetrical, therefore Sum Average")


logging.getLogger("radiomics.glcm").addFilter(_SumAverageNotice())

IMAGE_FORMATS = {".nii.gz": "NiftiImageIO", ".nii": "NiftiImageIO", ".nrrd": "NrrdImageIO"}
GZIP_MAGIC = b"\x1f\x8b"
INFLATED_LIMIT = 2 << 30  # bytes of a .nii.gz inflated before reading it (a 512 x 512 x 1000 CT is 0.5 GiB)


def read_image(data: bytes, name: str) -> sitk.Image:
    """A NIfTI (``.nii``, ``.nii.gz``) or NRRD (``.nrrd``) image from its bytes; the suffix of ``name`` says which."""
    suffix = next((s for s in IMAGE_FORMATS if name.lower().endswith(s)), None)
    if suffix is None:
        raise InvalidArgument(
            f"'{name}' is not a NIfTI or NRRD file: expected a name ending in {', '.join(IMAGE_FORMATS)}",
            reason="INVALID_IMAGE",
            details={"file": name},
        )
    with tempfile.TemporaryDirectory(prefix="radscholar-image-") as folder:
        path = Path(folder) / f"image{suffix}"
        if suffix == ".nii.gz" and _inflated(data, path.with_suffix(""), name):
            path = path.with_suffix("")  # the same NIfTI reader on the same bytes, uncompressed
        else:
            path.write_bytes(data)
        try:
            return sitk.ReadImage(str(path), imageIO=IMAGE_FORMATS[suffix])
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines() or ["unreadable"]
            problem = re.sub(r"^ITK ERROR: \w+\(0x[0-9a-f]+\): ", "", lines[-1]).replace(str(path), "the file")
            raise InvalidArgument(
                f"cannot read '{name}' as {IMAGE_FORMATS[suffix].removesuffix('ImageIO')}: {problem}",
                reason="INVALID_IMAGE",
                details={"file": name},
            ) from None


def _inflated(data: bytes, path: Path, name: str) -> bool:
    """Whether gzip ``data`` could be inflated into ``path`` by ISA-L (three times as fast as ITK's zlib: 10 ms of a
    request for a 2 MB CT volume). When not (damaged, or over ``INFLATED_LIMIT``), ITK reads the file as given: it
    names the problem, and reads no more than the header declares. A truncated file is refused: ITK would read
    it, the missing voxels zeros, without a word."""
    if not data.startswith(GZIP_MAGIC):
        return False
    written = 0
    try:
        with igzip.GzipFile(fileobj=io.BytesIO(data)) as packed, path.open("wb") as plain:
            while chunk := packed.read(1 << 20):  # memory stays flat whatever it inflates to
                written += plain.write(chunk)
                if written > INFLATED_LIMIT:
                    return False
    except EOFError:  # truncated, or bytes after the last member (which zlib, and so ITK, ignores)
        if _ends_early(data):
            raise InvalidArgument(
                f"cannot read '{name}' as Nifti: it is truncated (its gzip data ends early)",
                reason="INVALID_IMAGE",
                details={"file": name},
            ) from None
        return False
    except (OSError, isal_zlib.error):  # type: ignore[misc]  # isal's stub declares the class as an instance
        return False
    return True


def _ends_early(data: bytes) -> bool:
    """Whether gzip ``data`` ends inside a member (zlib, a megabyte at a time); bytes after a member that start no
    other member are ignored, as zlib's gzread does."""
    rest = data
    while rest.startswith(GZIP_MAGIC):
        member, pending = zlib.decompressobj(wbits=31), rest
        try:
            while not member.eof and (member.decompress(pending, 1 << 20) or member.unconsumed_tail):
                pending = member.unconsumed_tail
        except zlib.error:
            return False  # damaged rather than cut short: ITK names it
        if not member.eof:
            return True
        rest = member.unused_data
    return False


def extract(image: sitk.Image, mask: sitk.Image, settings: ExtractionSettings, *, label: int = 1) -> dict[str, float]:
    """The features of the region ``mask == label`` of ``image``, keyed as pyradiomics names them.

    Exactly pyradiomics' values (``RadiomicsFeatureExtractor(settings.params).execute``) as Python floats,
    without its ``diagnostics_*`` entries. The inputs are checked first so that a bad one is named precisely.
    """
    setting = settings.params.get("setting") or {}
    _check_region(image, mask, setting, label)
    resampling = setting.get("interpolator") is not None and setting.get("resampledPixelSpacing") is not None
    if not resampling and not setting.get("correctMask", False) and not _same_grid(image, mask):
        # Within tolerance (checked above), but SimpleITK's own check would refuse the last float32 digits
        # of a NIfTI affine against a DICOM series: give pyradiomics the image's grid exactly.
        mask = sitk.Image(mask)
        mask.CopyInformation(image)
    extractor = settings.extractor()
    extractor.addProvenance(False)  # its diagnostics_* entries are dropped below: not computed (image hashes, ~10 %)
    tolerances = (
        sitk.ProcessObject.GetGlobalDefaultCoordinateTolerance(),
        sitk.ProcessObject.GetGlobalDefaultDirectionTolerance(),
    )
    try:
        result = extractor.execute(image, mask, label=label)
    except ValueError as exc:
        error = _input_error(str(exc), label)
        if error is None:
            raise  # not about the region: a fault of ours or of pyradiomics, not the caller's
        raise error from None
    finally:  # pyradiomics applies geometryTolerance to SimpleITK's process-wide defaults and leaves it there
        sitk.ProcessObject.SetGlobalDefaultCoordinateTolerance(tolerances[0])
        sitk.ProcessObject.SetGlobalDefaultDirectionTolerance(tolerances[1])
    return {name: float(value) for name, value in result.items() if not name.startswith("diagnostics_")}


def provenance(settings: ExtractionSettings) -> dict[str, str]:
    """What a feature table needs to record to be reproduced: library versions, settings hash, images and classes."""
    return {
        "pyradiomics_version": str(radiomics.__version__),
        "simpleitk_version": str(sitk.Version_VersionString()),
        "settings_hash": settings.settings_hash,
        "image_types": ",".join(settings.image_types),
        "feature_classes": ",".join(settings.feature_classes),
    }


def _label_map(mask: sitk.Image, setting: dict[str, Any]) -> sitk.Image:
    """The mask as pyradiomics reads it: one channel of a vector mask, cast to UInt32."""
    if mask.GetNumberOfComponentsPerPixel() > 1:
        channel = int(setting.get("label_channel") or 0)
        if channel >= mask.GetNumberOfComponentsPerPixel():
            raise InvalidArgument(
                f"label_channel {channel} requested, but the mask has {mask.GetNumberOfComponentsPerPixel()} channels",
                reason="UNKNOWN_LABEL",
            )
        mask = sitk.VectorIndexSelectionCast(mask, channel)
    return sitk.Cast(mask, sitk.sitkUInt32)


def _check_region(image: sitk.Image, mask: sitk.Image, setting: dict[str, Any], label: int) -> None:
    if image.GetDimension() != mask.GetDimension():
        raise InvalidArgument(
            f"the mask is {mask.GetDimension()}D but the image is {image.GetDimension()}D",
            reason="GEOMETRY_MISMATCH",
            details={"dimension": f"image {image.GetDimension()}, mask {mask.GetDimension()}"},
        )
    labels = sitk.LabelShapeStatisticsImageFilter()
    labels.ComputePerimeterOff()  # only labels, boxes and voxel counts are needed: the perimeter is most of the cost
    labels.Execute(_label_map(mask, setting))
    present = sorted(int(value) for value in labels.GetLabels())
    if not present:
        raise InvalidArgument("the mask is empty: it has no segmented voxel", reason="EMPTY_MASK")
    if label not in present:
        raise InvalidArgument(
            f"label {label} is not in the mask; its labels are {', '.join(map(str, present))}",
            reason="UNKNOWN_LABEL",
            details={"label": str(label), "labels": ",".join(map(str, present))},
        )
    _check_inside(image, mask, labels.GetBoundingBox(label), label)
    if not setting.get("correctMask", False):
        _check_same_grid(image, mask, setting.get("geometryTolerance"))
    if labels.GetNumberOfPixels(label) == 1:
        raise InvalidArgument(
            f"label {label} is a single voxel: texture and shape need a region of several voxels",
            reason="TOO_FEW_VOXELS",
            details={"label": str(label), "voxels": "1"},
        )


def _check_inside(image: sitk.Image, mask: sitk.Image, box: tuple[int, ...], label: int) -> None:
    """The region's voxel-edge bounding box, mapped into the image's index space, must lie within the image."""
    dimension = mask.GetDimension()
    low = np.array(box[:dimension], dtype=float) - 0.5
    high = low + np.array(box[dimension:], dtype=float)
    corners = [
        image.TransformPhysicalPointToContinuousIndex(mask.TransformContinuousIndexToPhysicalPoint(corner))
        for corner in itertools.product(*zip(low.tolist(), high.tolist(), strict=True))
    ]
    inside_low, inside_high = -0.5 - 1e-3, np.array(image.GetSize(), dtype=float) - 0.5 + 1e-3
    region_low, region_high = np.min(corners, axis=0), np.max(corners, axis=0)
    if np.all((region_low >= inside_low) & (region_high <= inside_high)):
        return
    spacing = np.array(image.GetSpacing())
    beyond = np.maximum(inside_low - region_low, region_high - inside_high).clip(min=0) * spacing
    overlaps = bool(np.all((region_high > inside_low) & (region_low < inside_high)))
    where = "partly" if overlaps else "entirely"
    raise InvalidArgument(
        f"label {label} lies {where} outside the image: it reaches up to {_mm(beyond.max())} beyond the image's "
        f"edge (per axis {_vector(beyond)} mm); check that mask and image belong to the same series",
        reason="MASK_OUTSIDE_IMAGE",
        details={"overlap": "partial" if overlaps else "none", "beyond_mm": _vector(beyond)},
    )


def _same_grid(image: sitk.Image, mask: sitk.Image) -> bool:
    return all(
        getattr(image, f"Get{field}")() == getattr(mask, f"Get{field}")()
        for field in ("Size", "Spacing", "Origin", "Direction")
    )


def _check_same_grid(image: sitk.Image, mask: sitk.Image, tolerance: float | None) -> None:
    """SimpleITK's check of two inputs of one filter, spelled out (what differs, by how much), at our tolerance."""
    tolerance = DEFAULT_GEOMETRY_TOLERANCE if tolerance is None else tolerance
    coordinate_limit = abs(tolerance * image.GetSpacing()[0])
    direction_tolerance = tolerance
    problems: dict[str, str] = {}
    if image.GetSize() != mask.GetSize():
        problems["size"] = f"image {_vector(image.GetSize())} voxels, mask {_vector(mask.GetSize())}"
    for field, limit, unit in (
        ("spacing", coordinate_limit, " mm"),
        ("origin", coordinate_limit, " mm"),
        ("direction", direction_tolerance, ""),
    ):
        ours, theirs = (np.array(getattr(picture, f"Get{field.title()}")()) for picture in (image, mask))
        difference = float(np.max(np.abs(ours - theirs)))
        if difference > limit:
            problems[field] = (
                f"image {_vector(ours)}, mask {_vector(theirs)}: differs by up to {difference:.4g}{unit}"
                f" (tolerance {limit:.3g}{unit})"
            )
    if problems:
        raise InvalidArgument(
            "the mask is not on the image's grid: "
            + "; ".join(f"{field} {text}" for field, text in problems.items())
            + ". Resample the mask onto the image, or set geometryTolerance or correctMask: true",
            reason="GEOMETRY_MISMATCH",
            details=problems,
        )


def _input_error(message: str, label: int) -> InvalidArgument | None:
    """pyradiomics' ValueError about the region as one of our reasons; None for one we do not recognise."""
    lowered = message.lower()
    if "mismatch" in lowered:
        return InvalidArgument(f"mask and image do not match: {message}", reason="GEOMETRY_MISMATCH")
    if "larger than image space" in lowered:
        return InvalidArgument(f"label {label} lies outside the image: {message}", reason="MASK_OUTSIDE_IMAGE")
    too_small = ("single voxel", "1 segmented voxel", "too few dimensions", "too small", "excluded too many voxels")
    if any(text in lowered for text in too_small) or "not present in mask" in lowered or "no labels" in lowered:
        # The last two: the label was there (checked above) and vanished in resampling or resegmentation.
        return InvalidArgument(
            f"label {label} is too small for feature extraction after resampling and resegmentation: {message}",
            reason="TOO_FEW_VOXELS",
            details={"label": str(label)},
        )
    return None


def _vector(values: Any) -> str:
    return "(" + ", ".join(f"{float(value):.6g}" for value in values) + ")"


def _mm(value: float) -> str:
    return f"{value:.3g} mm"
