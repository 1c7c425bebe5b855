"""Volumes to training samples: resampling, intensity window and normalisation, crops; samples to bytes.

Arrays are in numpy order, channels first: ``(C, z, y, x)`` or ``(C, y, x)``, as SimpleITK gives them.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_core.errors import InvalidArgument
from radscholar_training.domain.detectors import anchor_shapes_from_boxes
from radscholar_training.domain.plan import LabeledBox
from radscholar_training.domain.settings import Preprocessing, RunSettings
from radscholar_training.domain.zoo import architectures

Label = int | Sequence[int] | NDArray[Any]


@dataclass(frozen=True, eq=False)
class Sample:
    """One training or validation sample.

    ``target``: segmentation, a uint8 class map over the image's spatial shape (0 = background, k = the k-th
    class); classification, an int64 scalar array (the class index) or a float32 multi-hot vector; detection, a
    float32 (N, 2d + 1) array: each lesion's box (corners on voxel edges in index order, ``x0, y0[, z0], x1, y1[, z1]``
    on the sample's grid) and its class index.
    """

    id: str
    image: NDArray[np.float32]
    target: NDArray[Any]
    spacing: tuple[float, ...] = ()  # mm per voxel in array order (z, y, x): distances in mm (HD95, surface Dice)
    instances: NDArray[np.uint16] | None = None  # Mask R-CNN: lesion k (row k - 1 of target) where the map is k


def samples_from_volume(
    case_id: str,
    image: sitk.Image,
    mask: sitk.Image | None,
    label: Label | None,
    settings: RunSettings,
    boxes: Sequence[LabeledBox] = (),
) -> list[Sample]:
    """The samples one case gives under ``settings``.

    Classification, crop ``centre``: one sample around the image centre with target ``label`` (a class index, or
    a multi-hot vector for multi-label runs); crop ``lesion``: one sample per connected lesion of ``mask`` (ids
    ``case_id#1``, ``#2``... by class value, then position), its target the lesion's mask value - 1 (mask values
    are 1-based class positions). Segmentation: the whole volume, padded to at least the patch size, with
    ``mask`` as its target. Detection: the whole volume (patches are cut, and padded, while training), with
    ``boxes`` (on ``image``'s grid) or else the lesions of ``mask`` as its boxes. A 2D run accepts 2D images and
    single-slice 3D images.
    """
    p = settings.preprocessing
    original = _with_dims(image, settings.spatial_dims, case_id, "image")
    pixels, image = prepared(original, settings, case_id)
    labels: NDArray[Any] | None = None
    native: sitk.Image | None = None  # the mask on its own grid
    if mask is not None:
        native = _with_dims(mask, settings.spatial_dims, case_id, "mask")
        labels = sitk.GetArrayFromImage(_onto(native, image))
    spacing = tuple(float(side) for side in reversed(image.GetSpacing()))
    fill = pixels.reshape(pixels.shape[0], -1).min(axis=1)
    size = p.shape
    if settings.task == "segmentation":
        if labels is None:
            raise InvalidArgument(f"case {case_id} has no mask to train segmentation on", reason="MISSING_MASK")
        return [Sample(case_id, *_padded(pixels, labels, size, fill, case_id), spacing)]
    if settings.task == "detection":
        outlined = settings.architecture in INSTANCE_SEGMENTATION
        if outlined and labels is None:
            raise InvalidArgument(
                f"case {case_id}: {settings.architecture} learns lesion outlines: it needs lesion masks",
                reason="NEEDS_LESION_MASKS",
            )
        if boxes:
            target = _regridded(boxes, original, image)
        elif native is not None:
            # Lesions are told apart on the mask's own grid: resampling can cut a thin spicule off its lesion.
            lesions, found = _instances(sitk.GetArrayFromImage(native), settings.spatial_dims)
            dims = settings.spatial_dims
            target = np.concatenate([regrid_boxes(found[:, : 2 * dims], native, image), found[:, 2 * dims :]], axis=1)
            instances = None
            if outlined:
                on_grid = sitk.GetImageFromArray(lesions)
                on_grid.CopyInformation(native)
                instances = sitk.GetArrayFromImage(_onto(on_grid, image)).astype(np.uint16)
            return [Sample(case_id, pixels, target, spacing, instances)]
        else:
            target = np.zeros((0, 2 * settings.spatial_dims + 1), dtype=np.float32)
        return [Sample(case_id, pixels, target, spacing)]
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
    padded, before = _pad(pixels, size, fill)
    after = np.asarray(padded.shape[1:]) - np.asarray(labels.shape) - before
    return padded, np.pad(labels.astype(np.uint8), list(zip(before, after, strict=True)))


def _pad(
    pixels: NDArray[np.float32], size: tuple[int, ...], fill: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The image padded with ``fill`` (per channel), centred, to at least ``size``; the padding before each axis."""
    short = [max(window - n, 0) for window, n in zip(size, pixels.shape[1:], strict=True)]
    before = np.array([s // 2 for s in short], dtype=np.int64)
    if not any(short):
        return pixels, np.zeros(pixels.ndim - 1, dtype=np.int64)
    widths = [(s // 2, s - s // 2) for s in short]
    padded = np.stack(
        [np.pad(channel, widths, constant_values=value) for channel, value in zip(pixels, fill, strict=True)]
    )
    return padded.astype(np.float32, copy=False), before


def _regridded(boxes: Sequence[LabeledBox], source: sitk.Image, grid: sitk.Image) -> NDArray[np.float32]:
    """Boxes on ``source``'s voxel edges as (N, 2d + 1) boxes and classes on ``grid``'s (the resampled image's)."""
    corners = regrid_boxes(np.asarray([[*box.min, *box.max] for box in boxes], dtype=np.float64), source, grid)
    labels = np.asarray([[box.label] for box in boxes], dtype=np.float32)
    return np.concatenate([corners, labels.reshape(len(boxes), 1)], axis=1)


def regrid_boxes(corners: NDArray[Any], source: sitk.Image, target: sitk.Image) -> NDArray[np.float32]:
    """Boxes (N, 2d) on ``source``'s voxel edges (index order) as the boxes around them on ``target``'s grid."""
    dims = target.GetDimension()
    moved = np.zeros((len(corners), 2 * dims), dtype=np.float32)
    for n, box in enumerate(np.asarray(corners, dtype=np.float64).reshape(-1, 2 * dims)):
        points = []
        for corner in itertools.product(*zip(box[:dims], box[dims:], strict=True)):
            point = source.TransformContinuousIndexToPhysicalPoint([float(c) - 0.5 for c in corner])
            points.append([c + 0.5 for c in target.TransformPhysicalPointToContinuousIndex(point)])
        moved[n] = [*np.min(points, axis=0), *np.max(points, axis=0)]
    return moved


def _instances(labels: NDArray[Any], dims: int) -> tuple[NDArray[np.uint16], NDArray[np.float32]]:
    """Each connected lesion (full connectivity, per class value) numbered from 1 in a map, and its box (index
    order) and class (value - 1) in that row of an (N, 2d + 1) array."""
    structure = np.ones((3,) * labels.ndim, dtype=bool)
    instances = np.zeros(labels.shape, dtype=np.uint16)
    rows: list[list[int]] = []
    for value in np.unique(labels):
        if value <= 0:
            continue
        components, _ = ndimage.label(labels == value, structure=structure)
        for n, box in enumerate(ndimage.find_objects(components), start=1):
            if box is None:
                continue
            instances[components == n] = len(rows) + 1
            rows.append([*(e.start for e in reversed(box)), *(e.stop for e in reversed(box)), int(value) - 1])
    return instances, np.asarray(rows, dtype=np.float32).reshape(len(rows), 2 * dims + 1)


def _target(label: Label) -> NDArray[Any]:
    if isinstance(label, int | np.integer):
        return np.array(int(label), dtype=np.int64)
    return np.asarray(label, dtype=np.float32)


DETECTION_PATCH = {2: 512, 3: 96}  # the default patch side before the boxes and images have their say
INSTANCE_SEGMENTATION = ("maskrcnn",)  # detectors that also outline each lesion: their samples carry instance maps


def with_box_defaults(settings: RunSettings, samples: Sequence[Sample]) -> RunSettings:
    """A detection run's settings with what was left to the data filled in from its training samples: the patch size
    (per axis, twice the largest box, at least 512 (2D) or 96 (3D) voxels, at most the largest image, rounded up to
    the network's size multiple) and the anchor shapes (from the boxes' sizes)."""
    p = settings.preprocessing
    boxes = np.concatenate([sample.target for sample in samples]) if samples else np.zeros((0, 1))
    dims = settings.spatial_dims
    if not len(boxes):
        raise InvalidArgument("the training samples hold no box: nothing to detect", reason="NO_BOXES")
    sizes = boxes[:, dims : 2 * dims] - boxes[:, :dims]  # index order
    changes: dict[str, Any] = {}
    if not p.size:
        entry = next((a for a in architectures() if a.id == settings.architecture), None)
        multiple, least = (entry.size_multiple, entry.min_size) if entry else (1, 1)
        largest_image = np.max([sample.image.shape[1:] for sample in samples], axis=0)[::-1]  # index order
        size = []
        for box, image in zip(sizes.max(axis=0), largest_image, strict=True):
            side = max(2 * float(box), DETECTION_PATCH[dims], least)
            side = min(side, float(image))
            size.append(max(math.ceil(side / multiple) * multiple, least))
        changes["preprocessing"] = p.model_copy(update={"size": tuple(size)})
    if not settings.detection.anchor_shapes:
        changes["detection"] = settings.detection.model_copy(update={"anchor_shapes": anchor_shapes_from_boxes(sizes)})
    return settings.model_copy(update=changes)


def class_map(sample: Sample) -> NDArray[np.uint8]:
    """An instance-segmentation sample's lesions as a class map (0 background, k + 1 class k)."""
    if sample.instances is None:
        raise InvalidArgument(f"sample {sample.id} has no lesion outlines", reason="NEEDS_LESION_MASKS")
    classes = sample.target[:, -1].astype(np.int64) + 1
    return np.concatenate([[0], classes]).astype(np.uint8)[sample.instances]


def samples_to_bytes(samples: Sequence[Sample]) -> bytes:
    """Samples as one ``.npz`` blob (no pickle): the cached form of a case's preprocessing."""
    arrays: dict[str, NDArray[Any]] = {"ids": np.array([s.id for s in samples], dtype=np.str_)}
    for n, sample in enumerate(samples):
        arrays[f"image_{n}"] = sample.image
        arrays[f"target_{n}"] = sample.target
        arrays[f"spacing_{n}"] = np.asarray(sample.spacing, dtype=np.float64)
        if sample.instances is not None:
            arrays[f"instances_{n}"] = sample.instances
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def samples_from_bytes(blob: bytes) -> list[Sample]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        ids = [str(i) for i in archive["ids"]]
        return [
            Sample(
                i,
                archive[f"image_{n}"],
                archive[f"target_{n}"],
                tuple(float(v) for v in archive[f"spacing_{n}"]),
                archive.get(f"instances_{n}"),
            )
            for n, i in enumerate(ids)
        ]
