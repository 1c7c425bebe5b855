"""Small synthetic CT volumes, each with one lung nodule, for training tests (reusable by platform tests).

Benign nodules are round, smooth and homogeneous; malignant ones lobulated, spiculated and heterogeneous
(``radscholar_phantoms.lesions``), so a small 3D network learns to tell them apart in a few epochs on a CPU.
Arrays are in numpy order ``(z, y, x)``; the mask holds the nodule's class position + 1 (1 benign, 2 malignant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import axial_geometry
from radscholar_phantoms.lesions import LESION_CLASSES, design_lesion, rasterise

LUNG_HU = -850.0
DIAMETER_MM = (8.0, 14.0)


@dataclass(frozen=True)
class NoduleCase:
    case_id: str
    image: NDArray[np.float32]  # HU
    mask: NDArray[np.uint8]  # 0 outside, class position + 1 inside the nodule
    lesion_class: int  # 0 benign, 1 malignant
    spacing: tuple[float, float, float]  # (x, y, z) mm

    def sitk_image(self) -> sitk.Image:
        return _sitk(self.image, self.spacing)

    def sitk_mask(self) -> sitk.Image:
        return _sitk(self.mask, self.spacing)


def nodule_case(
    rng: np.random.Generator, case_id: str, lesion_class: int, size: int = 32, spacing: float = 1.0
) -> NoduleCase:
    """A ``size``-cube volume of noisy lung holding one nodule of ``lesion_class`` near its centre."""
    voxel = (spacing, spacing, spacing)
    geometry = axial_geometry((size, size, size), voxel, (0.0, 0.0, 0.0))
    texture = ndimage.gaussian_filter(rng.normal(size=(size, size, size)), sigma=2.0)
    hu = LUNG_HU + 40.0 * texture / texture.std() + rng.normal(0.0, 25.0, size=(size, size, size))
    design = design_lesion(rng, LESION_CLASSES[lesion_class], float(rng.uniform(*DIAMETER_MM)), 3)
    centre = tuple(int(size // 2 + rng.integers(-2, 3)) for _ in range(3))
    painted = rasterise(rng, design, centre, geometry)
    r = painted.rendering
    value = rng.uniform(20.0, 50.0) + 75.0 * design.heterogeneity * r.texture - rng.uniform(30.0, 60.0) * r.core
    hu[painted.window] = hu[painted.window] * (1.0 - r.occupancy) + value * r.occupancy
    mask = np.zeros((size, size, size), dtype=np.uint8)
    mask[painted.window][painted.mask] = lesion_class + 1
    return NoduleCase(case_id, hu.astype(np.float32), mask, lesion_class, voxel)


def nodule_cases(seed: int, count: int, size: int = 32, spacing: float = 1.0) -> list[NoduleCase]:
    """``count`` cases, benign and malignant in turn, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return [nodule_case(rng, f"case-{seed}-{n:03d}", n % 2, size, spacing) for n in range(count)]


def _sitk(array: NDArray[np.generic], spacing: tuple[float, float, float]) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    return image
