"""Mammogram (MG, one CC or MLO view of one breast) with 0-2 masses.

Breast parenchyma is power-law (1/f^3) noise, as measured on real mammograms, shaped by a density
category. Benign masses are round or oval, circumscribed and homogeneous; malignant masses are
irregular, spiculated (long thin spicules) and heterogeneous. The chest wall is on the image's left for
a left breast and on its right for a right breast (the usual back-to-back hanging).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import Geometry
from radscholar_phantoms.images import PhantomImage
from radscholar_phantoms.lesions import (
    LesionClass,
    LesionDesign,
    design_lesion,
    lesion_classes_for,
    measure_lesion,
    place_centres,
    projected_thickness_mm,
    rasterise,
)
from radscholar_phantoms.radiograph import MAX_STORED, planar_size
from radscholar_phantoms.sites import Site

DEFAULT_SHAPE = (512, 384)  # (rows, columns)
DEFAULT_SPACING = (0.4, 0.4)  # (column, row) mm
MASS_DIAMETER_MM = {"benign": (6.0, 28.0), "malignant": (8.0, 35.0)}
DENSITY_CATEGORIES = ("A", "B", "C", "D")  # BI-RADS breast composition
_DENSITY_BIAS = {"A": -1.3, "B": -0.6, "C": 0.0, "D": 0.7}
# DICOM PatientOrientation for each (laterality, view) in this hanging.
PATIENT_ORIENTATION = {
    ("L", "CC"): ("A", "R"),
    ("R", "CC"): ("P", "L"),
    ("L", "MLO"): ("A", "F"),
    ("R", "MLO"): ("P", "F"),
}


def build_mg_image(
    rng: np.random.Generator,
    site: Site,
    *,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    lesion_classes: Sequence[str] | None = None,
) -> PhantomImage:
    """One mammogram (uint16, 12 bits stored) of a left or right breast, CC or MLO view."""
    geometry = planar_size(shape, spacing, DEFAULT_SHAPE, DEFAULT_SPACING)
    laterality = "L" if rng.random() < 0.5 else "R"
    view = "CC" if rng.random() < 0.5 else "MLO"
    density = DENSITY_CATEGORIES[int(rng.integers(4))]
    thickness_mm = float(rng.uniform(40.0, 65.0))
    attenuation, breast, clearance_region = _breast(rng, geometry, view, density, thickness_mm)
    classes = lesion_classes_for(rng, lesion_classes, 0, 2)
    masks, placed = _masses(rng, geometry, attenuation, clearance_region, classes)
    attenuation = ndimage.gaussian_filter(attenuation, sigma=0.6)
    signal = 1.0 - np.exp(-attenuation / 30.0)
    pixels = 40.0 + site.detector_gain * 3700.0 * signal
    pixels += rng.normal(0.0, 1.0, size=pixels.shape) * (8.0 + 0.01 * pixels)
    stored = np.clip(np.rint(pixels), 0, MAX_STORED).astype(np.uint16)
    label_map = np.zeros(geometry.array_shape, dtype=np.uint8)
    for lesion_id, mask in enumerate(masks, start=1):
        label_map[mask] = lesion_id
    if laterality == "R":  # chest wall to the right edge
        stored, label_map = stored[:, ::-1].copy(), label_map[:, ::-1].copy()
        placed = [(d, (geometry.size[0] - 1 - c[0], c[1])) for d, c in placed]
    lesions = [
        measure_lesion(lesion_id, design, centre, label_map == lesion_id, geometry)
        for lesion_id, (design, centre) in enumerate(placed, start=1)
    ]
    return PhantomImage(
        modality="MG",
        pixels=stored,
        geometry=geometry,
        label_map=label_map,
        lesions=tuple(lesions),
        acquisition={
            "laterality": laterality,
            "view_position": view,
            "patient_orientation": PATIENT_ORIENTATION[(laterality, view)],
            "breast_density": density,
            "body_part_thickness_mm": round(thickness_mm, 1),
            "compression_force_n": round(float(rng.uniform(60.0, 140.0)), 1),
            "kvp": float(rng.choice([26.0, 28.0, 29.0, 31.0])),
            "exposure_mas": round(float(rng.uniform(40.0, 160.0)), 1),
            "breast_area_fraction": round(float(breast.mean()), 4),
        },
    )


def _power_law_noise(rng: np.random.Generator, shape: tuple[int, ...], beta: float = 3.0) -> NDArray[np.float64]:
    spectrum = np.fft.rfft2(rng.normal(size=shape))
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    field = np.fft.irfft2(spectrum / f ** (beta / 2.0), s=shape)
    field -= field.mean()
    return np.asarray(field / field.std(), dtype=np.float64)


def _breast(
    rng: np.random.Generator, geometry: Geometry, view: str, density: str, thickness_mm: float
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
    """Attenuation (glandular-equivalent mm) with the chest wall at column 0; breast and mass region."""
    nx, ny = geometry.size
    x = (np.arange(nx) / nx)[None, :]  # 0 at the chest wall
    y = ((np.arange(ny) - (ny - 1) / 2.0) / (ny / 2.0))[:, None]  # -1 top .. +1 bottom
    depth = rng.uniform(0.62, 0.88)
    if view == "CC":
        yc, half_height = rng.uniform(-0.05, 0.05), rng.uniform(0.65, 0.85)
    else:
        yc, half_height = rng.uniform(0.05, 0.15), rng.uniform(0.8, 0.95)
    r = np.sqrt((x / depth) ** 2 + ((y - yc) / half_height) ** 2)
    breast = r <= 1.0
    # Compressed: flat in the middle, rolling off towards the skin line.
    thickness = thickness_mm * np.sqrt(np.clip(1.0 - r**8, 0.0, 1.0))
    parenchyma = _power_law_noise(rng, geometry.array_shape)
    envelope = np.exp(-(((x - 0.35 * depth) / (0.5 * depth)) ** 2) - ((y - yc) / (0.75 * half_height)) ** 2)
    gland = 1.0 / (1.0 + np.exp(-(parenchyma + _DENSITY_BIAS[density] + 1.5 * (envelope - 0.5)) / 0.35))
    gland *= np.clip(envelope * 1.6, 0.0, 1.0)
    attenuation = thickness * (0.35 + 0.65 * gland)
    allowed = breast.copy()
    if view == "MLO":
        slope = rng.uniform(0.28, 0.4)
        pectoral = x < slope * (1.0 - (y + 1.0) / rng.uniform(1.0, 1.3))
        muscle = thickness * (0.75 + 0.05 * parenchyma)
        attenuation = np.where(pectoral & breast, muscle, attenuation)
        allowed &= ~ndimage.binary_dilation(pectoral, iterations=4)
    attenuation = np.where(breast, attenuation, 0.0)
    return attenuation, breast, allowed


def _masses(
    rng: np.random.Generator,
    geometry: Geometry,
    attenuation: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    classes: list[LesionClass],
) -> tuple[list[NDArray[np.bool_]], list[tuple[LesionDesign, tuple[int, ...]]]]:
    if not classes:
        return [], []
    spacing = tuple(reversed(geometry.spacing))
    designs = [
        design_lesion(
            rng,
            c,
            float(rng.uniform(*MASS_DIAMETER_MM[c])),
            2,
            spicule_reach=(0.8, 2.2),
            min_width_mm=max(0.8, 1.5 * max(geometry.spacing)),
        )
        for c in classes
    ]
    clearance = ndimage.distance_transform_edt(allowed, sampling=spacing)
    masks = []
    placed = place_centres(rng, clearance, geometry, designs, inside_fraction=1.0, fit_extent=True)
    for design, centre in placed:
        painted = rasterise(rng, design, centre, geometry)
        thickness = projected_thickness_mm(painted, spacing)
        texture = 1.0 + 0.5 * design.heterogeneity * painted.rendering.texture - 0.3 * painted.rendering.core
        attenuation[painted.window] += 0.6 * thickness * np.clip(texture, 0.2, None)
        mask = np.zeros(geometry.array_shape, dtype=bool)
        mask[painted.window] = painted.mask
        masks.append(mask)
    return masks, placed
