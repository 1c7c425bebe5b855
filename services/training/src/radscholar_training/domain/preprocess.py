"""Volumes to training samples: resampling, intensity window and normalisation, crops; samples to bytes.

Arrays are in numpy order, channels first: ``(C, z, y, x)`` or ``(C, y, x)``, as SimpleITK gives them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.settings import Preprocessing, RunSettings

Label = int | Sequence[int] | NDArray[Any]


@dataclass(frozen=True, eq=False)
class Sample:
    """One training or validation sample.

    ``target``: segmentation, a uint8 class map over the image's spatial shape (0 = background, k = the k-th
    class); classification, an int64 scalar array (the class index) or a float32 multi-hot vector.
    """

    id: str
    image: NDArray[np.float32]
    target: NDArray[Any]
    spacing: tuple[float, ...] = ()  # mm per voxel in array order (z, y, x): distances in mm (HD95, surface Dice)


def samples_from_volume(
    case_id: str,
    image: sitk.Image,
    mask: sitk.Image | None,
    label: Label | None,
    settings: RunSettings,
) -> list[Sample]:
    """The samples one case gives under ``settings``.

    Classification, crop ``centre``: one sample around the image centre with target ``label`` (a class index, or
    a multi-hot vector for multi-label runs); crop ``lesion``: one sample per connected lesion of ``mask`` (ids
    ``case_id#1``, ``#2``... by class value, then position), its target the lesion's mask value - 1 (mask values
    are 1-based class positions). Segmentation: the whole volume, padded to at least the patch size, with
    ``mask`` as its target. A 2D run accepts 2D images and single-slice 3D images.
    """
    p = settings.preprocessing
    pixels, image = prepared(image, settings, case_id)
    labels: NDArray[Any] | None = None
    if mask is not None:
        mask = _onto(_with_dims(mask, settings.spatial_dims, case_id, "mask"), image)
        labels = sitk.GetArrayFromImage(mask)
    spacing = tuple(float(side) for side in reversed(image.GetSpacing()))
    fill = pixels.reshape(pixels.shape[0], -1).min(axis=1)
    size = p.shape
    if settings.task == "segmentation":
        if labels is None:
            raise InvalidArgument(f"case {case_id} has no mask to train segmentation on", reason="MISSING_MASK")
        return [Sample(case_id, *_padded(pixels, labels, size, fill, case_id), spacing)]
    if p.crop == "lesion":
        if labels is None:
            raise InvalidArgument(f"case {case_id} has no mask to crop lesions from", reason="MISSING_MASK")
        return [
            Sample(
                f"{case_id}#{n}", _crop_or_pad(pixels, box, size, fill), np.array(value - 1, dtype=np.int64), spacing
            )
            for n, (value, box) in enumerate(_lesions(labels), start=1)
        ]
    if label is None:
        raise InvalidArgument(f"case {case_id} has no class label", reason="MISSING_LABEL")
    whole = tuple(slice(0, n) for n in pixels.shape[1:])
    return [Sample(case_id, _crop_or_pad(pixels, whole, size, fill), _target(label), spacing)]


def prepared(
    image: sitk.Image, settings: RunSettings, case_id: str = "image"
) -> tuple[NDArray[np.float32], sitk.Image]:
    """The image as networks see it before any crop (resampled, windowed, normalised; channels first), and the grid
    it is on (to bring a prediction back onto the image's own grid)."""
    image = _with_dims(image, settings.spatial_dims, case_id, "image")
    if settings.preprocessing.spacing is not None:
        image = _resampled(image, settings.preprocessing.spacing)
    return _normalised(_channels_first(image), settings.preprocessing), image


def _with_dims(image: sitk.Image, dims: int, case_id: str, what: str) -> sitk.Image:
    if image.GetDimension() == dims:
        return image
    if dims == 2 and image.GetDimension() == 3 and image.GetSize()[2] == 1:
        width, height, _ = image.GetSize()
        return sitk.Extract(image, [width, height, 0], [0, 0, 0])
    raise InvalidArgument(
        f"case {case_id}: the {what} is {image.GetDimension()}D with size {list(image.GetSize())}; "
        f"a {dims}D run needs {dims}D images{' (or single-slice volumes)' if dims == 2 else ''}",
        reason="INVALID_IMAGE",
    )


def _resampled(image: sitk.Image, spacing: Sequence[float]) -> sitk.Image:
    """Linear resampling to ``spacing`` over the same physical extent."""
    vector = image.GetNumberOfComponentsPerPixel() > 1
    image = sitk.Cast(image, sitk.sitkVectorFloat32 if vector else sitk.sitkFloat32)
    old_spacing = np.asarray(image.GetSpacing())
    new_spacing = np.asarray(spacing, dtype=np.float64)
    size = [max(1, round(n * s / t)) for n, s, t in zip(image.GetSize(), old_spacing, new_spacing, strict=True)]
    direction = np.asarray(image.GetDirection()).reshape(image.GetDimension(), -1)
    # The first voxel's centre moves so that the outer edges of the grid stay where they were.
    origin = np.asarray(image.GetOrigin()) + direction @ ((new_spacing - old_spacing) / 2.0)
    outside = float(sitk.GetArrayViewFromImage(image).min())
    return sitk.Resample(
        image,
        size,
        sitk.Transform(),
        sitk.sitkLinear,
        [float(v) for v in origin],
        [float(v) for v in new_spacing],
        image.GetDirection(),
        outside,
    )


def _onto(mask: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """The mask on the image's grid (nearest neighbour); unchanged when it already is."""
    same = (
        mask.GetSize() == reference.GetSize()
        and np.allclose(mask.GetSpacing(), reference.GetSpacing(), rtol=1e-5, atol=1e-6)
        and np.allclose(mask.GetOrigin(), reference.GetOrigin(), rtol=0.0, atol=1e-3)
        and np.allclose(mask.GetDirection(), reference.GetDirection(), rtol=0.0, atol=1e-5)
    )
    if same:
        return mask
    return sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())


def _channels_first(image: sitk.Image) -> NDArray[np.float32]:
    pixels = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    if image.GetNumberOfComponentsPerPixel() > 1:
        return np.ascontiguousarray(np.moveaxis(pixels, -1, 0))
    return pixels[None]


def _normalised(pixels: NDArray[np.float32], p: Preprocessing) -> NDArray[np.float32]:
    if p.window is not None:
        low, high = p.window
        pixels = np.clip(pixels, low, high)
    flat = pixels.reshape(pixels.shape[0], -1)
    shape = (-1,) + (1,) * (pixels.ndim - 1)
    if p.normalisation == "minmax":
        if p.window is not None:  # the window's own range, the same for every image
            low, high = p.window
            pixels = (pixels - low) / (high - low)
        else:
            lowest = flat.min(axis=1).reshape(shape)
            span = flat.max(axis=1).reshape(shape) - lowest
            pixels = (pixels - lowest) / np.where(span > 0, span, 1.0)
    elif p.normalisation == "zscore":
        mean = flat.mean(axis=1, dtype=np.float64).reshape(shape)
        std = flat.std(axis=1, dtype=np.float64).reshape(shape)
        pixels = (pixels - mean) / np.where(std > 0, std, 1.0)
    return np.asarray(pixels, dtype=np.float32)


def _lesions(labels: NDArray[Any]) -> list[tuple[int, tuple[slice, ...]]]:
    """Each connected lesion (full connectivity, per class value) as its value and bounding box."""
    structure = np.ones((3,) * labels.ndim, dtype=bool)
    lesions: list[tuple[int, tuple[slice, ...]]] = []
    for value in np.unique(labels):
        if value <= 0:
            continue
        components, _ = ndimage.label(labels == value, structure=structure)
        lesions.extend((int(value), box) for box in ndimage.find_objects(components) if box is not None)
    return lesions


def _crop_or_pad(
    pixels: NDArray[np.float32], box: tuple[slice, ...], size: tuple[int, ...], fill: NDArray[np.float32]
) -> NDArray[np.float32]:
    """A ``size`` window centred on ``box`` (array order), filled with ``fill`` (per channel) outside the image."""
    out = np.empty((pixels.shape[0], *size), dtype=np.float32)
    out[:] = fill.reshape((-1,) + (1,) * len(size))
    source, target = [], []
    for extent, window, n in zip(box, size, pixels.shape[1:], strict=True):
        start = int(extent.start) - (window - (int(extent.stop) - int(extent.start))) // 2
        low, high = max(start, 0), min(start + window, n)
        source.append(slice(low, max(high, low)))
        target.append(slice(low - start, low - start + max(high - low, 0)))
    out[(slice(None), *target)] = pixels[(slice(None), *source)]
    return out


def _padded(
    pixels: NDArray[np.float32], labels: NDArray[Any], size: tuple[int, ...], fill: NDArray[np.float32], case_id: str
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    if labels.min() < 0 or labels.max() > 255:
        raise InvalidArgument(f"case {case_id}: mask values must be 0 to 255", reason="INVALID_MASK")
    short = [max(window - n, 0) for window, n in zip(size, pixels.shape[1:], strict=True)]
    if not any(short):
        return pixels, labels.astype(np.uint8)
    widths = [(s // 2, s - s // 2) for s in short]
    padded = np.stack(
        [np.pad(channel, widths, constant_values=value) for channel, value in zip(pixels, fill, strict=True)]
    )
    return padded.astype(np.float32, copy=False), np.pad(labels.astype(np.uint8), widths)


def _target(label: Label) -> NDArray[Any]:
    if isinstance(label, int | np.integer):
        return np.array(int(label), dtype=np.int64)
    return np.asarray(label, dtype=np.float32)


def samples_to_bytes(samples: Sequence[Sample]) -> bytes:
    """Samples as one ``.npz`` blob (no pickle): the cached form of a case's preprocessing."""
    arrays: dict[str, NDArray[Any]] = {"ids": np.array([s.id for s in samples], dtype=np.str_)}
    for n, sample in enumerate(samples):
        arrays[f"image_{n}"] = sample.image
        arrays[f"target_{n}"] = sample.target
        arrays[f"spacing_{n}"] = np.asarray(sample.spacing, dtype=np.float64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def samples_from_bytes(blob: bytes) -> list[Sample]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        ids = [str(i) for i in archive["ids"]]
        return [
            Sample(i, archive[f"image_{n}"], archive[f"target_{n}"], tuple(float(v) for v in archive[f"spacing_{n}"]))
            for n, i in enumerate(ids)
        ]
