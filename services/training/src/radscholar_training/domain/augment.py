"""Random augmentation and segmentation and detection patch sampling, reproducible from (seed, epoch, sample index).

MONAI dictionary transforms move image and mask together (masks by nearest neighbour); intensity transforms
touch the image only. Detection patches carry their boxes, which follow crops and flips exactly. Each sample's
randomness comes from its own seed, so the same run draws the same augmentations whatever the number of workers
and wherever it resumes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    MapTransform,
    Rand2DElasticd,
    Rand3DElasticd,
    RandAdjustContrastd,
    RandAffined,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandGaussianNoised,
    RandRotated,
)

from radscholar_training.domain.settings import RunSettings

IMAGE, MASK = "image", "mask"


def sample_seed(seed: int, epoch: int, index: int, part: int = 0) -> int:
    """A 32-bit seed for one sample (``part``: one of its patches) in one epoch of a run."""
    return int(np.random.SeedSequence([seed, epoch, index, part]).generate_state(1)[0])


class Augmenter:
    """The run's augmentation of one sample: ``image`` (C, *spatial) and, for segmentation, ``mask`` (*spatial)."""

    def __init__(self, settings: RunSettings) -> None:
        self._segmentation = settings.task == "segmentation"
        keys = [IMAGE, MASK] if self._segmentation else [IMAGE]
        self._transform = Compose(_transforms(settings, keys))
        self.active = bool(self._transform.transforms)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor | None, seed: int) -> tuple[torch.Tensor, Any]:
        if not self.active:
            return image, mask
        self._transform.set_random_state(seed=seed)
        data: dict[str, torch.Tensor] = {IMAGE: image}
        if mask is not None:
            data[MASK] = mask[None].float()
        out = self._transform(data)
        augmented_mask = _plain(out[MASK])[0].round().to(mask.dtype) if mask is not None else None
        return _plain(out[IMAGE]).float(), augmented_mask


class PatchSampler:
    """Segmentation training patches: ``samples_per_volume`` per volume, ``positive_fraction`` centred on
    foreground (any class), the rest on background."""

    def __init__(self, settings: RunSettings) -> None:
        p = settings.preprocessing
        self.samples_per_volume = p.samples_per_volume
        self._crop = RandCropByPosNegLabeld(
            keys=[IMAGE, MASK],
            label_key=MASK,
            spatial_size=list(p.shape),
            pos=p.positive_fraction,
            neg=1.0 - p.positive_fraction,
            num_samples=p.samples_per_volume,
            allow_smaller=True,
        )

    def __call__(self, image: torch.Tensor, mask: torch.Tensor, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        self._crop.set_random_state(seed=seed)
        patches = self._crop({IMAGE: image, MASK: mask[None]})
        return [(_plain(patch[IMAGE]), _plain(patch[MASK])[0]) for patch in patches]


class BoxPatchSampler:
    """Detection training patches: ``samples_per_volume`` per volume, ``positive_fraction`` of them holding a whole
    lesion (where it fits) at a random place, the rest anywhere; each flipped with its boxes and given the intensity
    augmentations. A box cut by the patch's edge is clipped, and left out when less than half of it remains."""

    def __init__(self, settings: RunSettings) -> None:
        p, a = settings.preprocessing, settings.augmentation
        self.shape = np.asarray(p.shape)
        self.samples_per_volume = p.samples_per_volume
        self.positive_fraction = p.positive_fraction
        self.flips = [(settings.spatial_dims - 1 - axis, a.flip.probability) for axis in a.flip.axes]
        no_flip = a.model_copy(update={"flip": a.flip.model_copy(update={"probability": 0.0})})
        self.intensity = Augmenter(settings.model_copy(update={"augmentation": no_flip}))

    def __call__(
        self, image: torch.Tensor, boxes: np.ndarray, seed: int, instances: torch.Tensor | None = None
    ) -> list[tuple[torch.Tensor, np.ndarray, torch.Tensor | None]]:
        """Patches of ``image`` (C, *spatial) with their boxes (N, 2d + 1), and, given the lesions' ``instances`` map
        (lesion k where it is k), each kept box's mask (N', *patch) as uint8."""
        rng = np.random.default_rng(seed)
        dims = len(self.shape)
        if instances is not None:  # padded and cut as a second channel
            image = torch.cat([image, instances[None].to(image.dtype)])
        image, boxes = _padded_to(image, boxes, self.shape)
        spatial = np.asarray(image.shape[1:])
        patches: list[tuple[torch.Tensor, np.ndarray, torch.Tensor | None]] = []
        for part in range(self.samples_per_volume):
            start = self._start(rng, spatial, boxes)
            window = (slice(None), *(slice(int(a), int(a + n)) for a, n in zip(start, self.shape, strict=True)))
            patch = image[window]
            inside, kept = _clipped(boxes, start[::-1], self.shape[::-1])
            for axis, probability in self.flips:
                if rng.random() < probability:
                    patch = torch.flip(patch, dims=[axis + 1])
                    i, n = dims - 1 - axis, self.shape[axis]  # the box coordinate of this array axis
                    inside[:, [i, i + dims]] = n - inside[:, [i + dims, i]]
            masks = None
            if instances is not None:
                patch, lesions = patch[:-1], patch[-1]
                masks = torch.stack([lesions == k + 1 for k in kept]) if len(kept) else lesions[None, :0]
                masks = masks.to(torch.uint8)
            patch, _ = self.intensity(patch.contiguous(), None, sample_seed(seed, 0, 0, part + 1))
            patches.append((patch, inside, masks))
        return patches

    def _start(self, rng: np.random.Generator, spatial: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """A patch's first voxel (array order): around a random lesion, or anywhere."""
        dims = len(self.shape)
        highest = spatial - self.shape
        if len(boxes) and rng.random() < self.positive_fraction:
            box = boxes[rng.integers(len(boxes))]
            low, high = box[:dims][::-1], box[dims : 2 * dims][::-1]  # array order
            fits, centre = high - low <= self.shape, np.floor((low + high) / 2)
            first = np.where(fits, np.ceil(high - self.shape), centre - self.shape + 1)
            last = np.where(fits, np.floor(low), centre)
            first, last = np.clip(first, 0, highest), np.clip(np.maximum(first, last), 0, highest)
            return np.asarray([rng.integers(int(a), int(b) + 1) for a, b in zip(first, last, strict=True)])
        return np.asarray([rng.integers(0, int(h) + 1) for h in highest])


def _padded_to(image: torch.Tensor, boxes: np.ndarray, shape: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """The image padded (centred, with each channel's lowest value) to at least ``shape``, and its boxes moved.
    (An instance map as the last channel is padded with 0, its lowest value.)"""
    short = np.maximum(shape - np.asarray(image.shape[1:]), 0)
    if not short.any():
        return image, boxes
    before = short // 2
    size = [int(n + k) for n, k in zip(image.shape[1:], short, strict=True)]
    padded = image.amin(dim=tuple(range(1, image.ndim)), keepdim=True).expand(-1, *size).clone()
    padded[(slice(None), *(slice(int(b), int(b) + n) for b, n in zip(before, image.shape[1:], strict=True)))] = image
    moved = boxes.copy()
    dims = len(shape)
    moved[:, : 2 * dims] += np.concatenate([before[::-1], before[::-1]])
    return padded, moved


def _clipped(boxes: np.ndarray, start: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (index order) moved into a patch at ``start`` of ``size`` (index order), clipped to it; those with
    less than half their extent inside left out; and the rows kept."""
    dims = len(size)
    moved = boxes.astype(np.float32, copy=True)
    moved[:, : 2 * dims] -= np.concatenate([start, start])
    clipped = moved.copy()
    clipped[:, : 2 * dims] = np.clip(moved[:, : 2 * dims], 0, np.concatenate([size, size]))
    extent = np.prod(moved[:, dims : 2 * dims] - moved[:, :dims], axis=1)
    kept = np.prod(np.clip(clipped[:, dims : 2 * dims] - clipped[:, :dims], 0, None), axis=1)
    rows = np.flatnonzero(kept >= 0.5 * np.maximum(extent, 1e-6))
    return clipped[rows], rows


def _transforms(settings: RunSettings, keys: list[str]) -> list[MapTransform]:
    a = settings.augmentation
    dims = settings.spatial_dims
    shape = settings.preprocessing.shape
    segmentation = len(keys) == 2
    mode = ["bilinear", "nearest"] if segmentation else ["bilinear"]
    padding = ["border", "zeros"] if segmentation else ["border"]
    transforms: list[MapTransform] = []
    if a.flip.probability > 0:
        # One flip per axis, each drawn on its own; settings count axes x, y, z, tensors z, y, x.
        transforms += [RandFlipd(keys, prob=a.flip.probability, spatial_axis=dims - 1 - axis) for axis in a.flip.axes]
    if a.rotate.probability > 0:
        angle = math.radians(a.rotate.degrees)
        other = 0.0 if dims == 2 else angle  # 2D: in-plane only
        transforms.append(
            RandRotated(
                keys,
                range_x=angle,
                range_y=other,
                range_z=other,
                prob=a.rotate.probability,
                mode=mode,
                padding_mode=padding,
            )
        )
    if a.shift.probability > 0:
        translate = [a.shift.fraction * n for n in shape]
        transforms.append(
            RandAffined(keys, prob=a.shift.probability, translate_range=translate, mode=mode, padding_mode=padding)
        )
    if a.scale.probability > 0:
        scale = [a.scale.range] * dims
        transforms.append(
            RandAffined(keys, prob=a.scale.probability, scale_range=scale, mode=mode, padding_mode=padding)
        )
    if a.elastic.probability > 0:
        transforms.append(_elastic(settings, keys, mode, padding))
    if a.contrast.probability > 0:
        transforms.append(RandAdjustContrastd([IMAGE], prob=a.contrast.probability, gamma=a.contrast.gamma))
    if a.noise.probability > 0:
        transforms.append(RandGaussianNoised([IMAGE], prob=a.noise.probability, std=a.noise.std))
    return transforms


def _elastic(settings: RunSettings, keys: list[str], mode: list[str], padding: list[str]) -> MapTransform:
    e = settings.augmentation.elastic
    if settings.spatial_dims == 2:
        # A B-spline deformation whose control points lie two sigmas apart and move by about `magnitude`.
        return Rand2DElasticd(
            keys,
            spacing=(2.0 * e.sigma, 2.0 * e.sigma),
            magnitude_range=(e.magnitude, e.magnitude),
            prob=e.probability,
            mode=mode,
            padding_mode=padding,
        )
    # MONAI smooths uniform(-1, 1) noise with a Gaussian of `sigma` voxels, which shrinks its standard deviation
    # by about (2 sqrt(pi) sigma)^(3/2) from 1/sqrt(3): scale back so that `magnitude` is the typical displacement.
    gain = math.sqrt(3.0) * (2.0 * math.sqrt(math.pi) * e.sigma) ** 1.5
    return Rand3DElasticd(
        keys,
        sigma_range=(e.sigma, e.sigma),
        magnitude_range=(e.magnitude * gain, e.magnitude * gain),
        prob=e.probability,
        mode=mode,
        padding_mode=padding,
    )


def _plain(value: Any) -> torch.Tensor:
    """A plain tensor (MONAI returns MetaTensors that carry their transform history)."""
    if isinstance(value, MetaTensor):
        return value.as_tensor()
    return torch.as_tensor(value)
