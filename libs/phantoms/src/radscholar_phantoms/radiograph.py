"""Chest radiograph (DX, PA view) phantom with 0-2 lung lesions.

The image is built from line integrals (water-equivalent centimetres) of torso, lungs, heart, spine,
ribs and clavicles, then mapped to 12-bit MONOCHROME2 values (bright = attenuating). It is displayed in
the standard orientation: the patient's right on the image's left, head at the top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import Geometry, fov_preserving_spacing, planar_geometry
from radscholar_phantoms.images import PhantomImage
from radscholar_phantoms.lesions import (
    Lesion,
    LesionClass,
    design_lesion,
    lesion_classes_for,
    measure_lesion,
    place_centres,
    projected_thickness_mm,
    rasterise,
)
from radscholar_phantoms.sites import Site

DEFAULT_SHAPE = (512, 512)  # (rows, columns)
DEFAULT_SPACING = (0.7, 0.7)  # (column, row) mm
LESION_DIAMETER_MM = {"benign": (8.0, 30.0), "malignant": (10.0, 40.0)}
MAX_STORED = 4095


def planar_size(
    shape: tuple[int, ...] | None,
    spacing: tuple[float, ...] | None,
    default_shape: tuple[int, ...],
    default_spacing: tuple[float, ...],
) -> Geometry:
    shape = shape or default_shape
    spacing = spacing or fov_preserving_spacing(shape, default_shape, default_spacing)
    return planar_geometry((shape[1], shape[0]), (float(spacing[0]), float(spacing[1])))


def build_dx_image(
    rng: np.random.Generator,
    site: Site,
    *,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    lesion_classes: Sequence[str] | None = None,
) -> PhantomImage:
    """One PA chest radiograph (uint16, 12 bits stored) with 0-2 lesions in the lung fields."""
    geometry = planar_size(shape, spacing, DEFAULT_SHAPE, DEFAULT_SPACING)
    line_integral, lungs = _chest(rng, geometry)
    classes = lesion_classes_for(rng, lesion_classes, 0, 2)
    label_map = np.zeros(geometry.array_shape, dtype=np.uint8)
    lesions = _lesions(rng, geometry, line_integral, lungs, label_map, classes)
    # Detector point-spread function, about 0.5 mm.
    line_integral = ndimage.gaussian_filter(line_integral, sigma=[0.5 / s for s in geometry.spacing[::-1]])
    signal = 1.0 - np.exp(-line_integral / 22.0)
    pixels = 120.0 + site.detector_gain * 3600.0 * signal
    pixels += rng.normal(0.0, 1.0, size=pixels.shape) * (10.0 + 0.008 * pixels)
    stored = np.clip(np.rint(pixels), 0, MAX_STORED).astype(np.uint16)
    return PhantomImage(
        modality="DX",
        pixels=stored,
        geometry=geometry,
        label_map=label_map,
        lesions=tuple(lesions),
        acquisition={
            "view_position": "PA",
            "kvp": float(rng.choice([110.0, 120.0, 125.0])),
            "exposure_mas": round(float(rng.uniform(1.2, 4.0)), 2),
            "distance_source_to_detector_mm": 1800.0,
        },
    )


def _chest(rng: np.random.Generator, geometry: Geometry) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    nx, ny = geometry.size
    u = ((np.arange(nx) - (nx - 1) / 2.0) / (nx / 2.0))[None, :]  # image left (patient right) -1 .. +1
    v = ((np.arange(ny) - (ny - 1) / 2.0) / (ny / 2.0))[:, None]  # top (head) -1 .. +1
    scale = rng.uniform(0.9, 1.0)
    u = u / scale

    shoulders = 1.0 / (1.0 + np.exp(-(v + 0.62) / 0.05))
    half_width = 0.3 + 0.58 * shoulders
    torso = 20.0 * np.sqrt(np.clip(1.0 - (u / half_width) ** 2, 0.0, 1.0))

    lung_air = np.zeros(geometry.array_shape)
    lungs = np.zeros(geometry.array_shape, dtype=bool)
    for side in (-1.0, 1.0):
        uc, a, b, vc = side * 0.37, 0.25 * rng.uniform(0.95, 1.05), 0.56, -0.04
        r2 = ((u - uc) / a) ** 2 + ((v - vc) / b) ** 2
        dome = 0.38 + (0.05 if side > 0 else 0.0) - 0.12 * np.clip(1.0 - ((u - uc) / a) ** 2, 0.0, 1.0)
        field = (r2 <= 1.0) & (v < dome)
        lung_air += np.where(field, 14.0 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)) * np.clip((dome - v) / 0.08, 0, 1), 0)
        lungs |= field
    heart = np.clip(1.0 - ((u - 0.1) / 0.3) ** 2 - ((v - 0.24) / 0.25) ** 2, 0.0, 1.0)
    lung_air *= 1.0 - np.sqrt(heart)
    lungs &= heart < 0.3
    total = torso - 0.9 * lung_air

    bone = np.zeros(geometry.array_shape)
    bone += np.where(np.abs(u) < 0.065, 2.5 * (1.0 + 0.3 * (np.abs(u) > 0.05)), 0.0) * (v > -0.95)
    for side in (-1.0, 1.0):
        x = side * u
        for k in range(10):
            centre_line = -0.6 + 0.105 * k - 0.1 * x + 0.55 * x**2
            half = 0.022 + 0.002 * k
            distance = np.abs(v - centre_line)
            rib = (x > 0.06) & (x < half_width - 0.03) & (distance < half)
            bone += np.where(rib, 1.2 + 0.8 * (distance > 0.6 * half), 0.0)
        t = np.clip((x - 0.08) / 0.47, 0.0, 1.0)
        clavicle = (np.abs(v - (-0.63 - 0.08 * t)) < 0.025) & (x > 0.08) & (x < 0.55)
        bone += np.where(clavicle, 2.0, 0.0)
    total += 1.6 * bone * (torso > 0)
    return np.clip(total, 0.0, None), lungs


def _lesions(
    rng: np.random.Generator,
    geometry: Geometry,
    line_integral: NDArray[np.float64],
    lungs: NDArray[np.bool_],
    label_map: NDArray[np.uint8],
    classes: list[LesionClass],
) -> list[Lesion]:
    if not classes:
        return []
    spacing = tuple(reversed(geometry.spacing))
    designs = [
        design_lesion(
            rng,
            c,
            float(rng.uniform(*LESION_DIAMETER_MM[c])),
            2,
            spicule_reach=(0.5, 1.4),
            min_width_mm=1.2 * max(geometry.spacing),
        )
        for c in classes
    ]
    clearance = ndimage.distance_transform_edt(lungs, sampling=spacing)
    lesions: list[Lesion] = []
    for design, centre in place_centres(rng, clearance, geometry, designs, inside_fraction=0.9):
        painted = rasterise(rng, design, centre, geometry)
        thickness_cm = projected_thickness_mm(painted, spacing) / 10.0
        texture = 1.0 + 0.45 * design.heterogeneity * painted.rendering.texture - 0.4 * painted.rendering.core
        line_integral[painted.window] += 1.6 * thickness_cm * np.clip(texture, 0.2, None)
        lesion_id = len(lesions) + 1
        label_map[painted.window][painted.mask] = lesion_id
        lesions.append(measure_lesion(lesion_id, design, centre, label_map == lesion_id, geometry))
    return lesions
