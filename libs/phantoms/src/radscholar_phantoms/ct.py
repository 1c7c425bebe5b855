"""Chest CT phantom: body outline, fat, chest wall, lungs with vessels, heart, airway, spine, ribs,
sternum, and 0-3 lung nodules. Values are calibrated Hounsfield units.

The anatomy is defined relative to the field of view, so a smaller ``shape`` at the same field of
view is a down-sampled version of the same patient; nodule sizes are always true millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import Geometry, axial_geometry, fov_preserving_spacing
from radscholar_phantoms.images import CT_TISSUES, LESION_TISSUE, PhantomImage
from radscholar_phantoms.lesions import (
    Lesion,
    LesionClass,
    design_lesion,
    lesion_classes_for,
    measure_lesion,
    place_centres,
    rasterise,
)
from radscholar_phantoms.sites import Site

DEFAULT_SHAPE = (64, 128, 128)  # (slices, rows, columns)
DEFAULT_SPACING = (0.7, 0.7, 2.5)  # (column, row, slice) mm

HU = {
    "air": -1000.0,
    "fat": -100.0,
    "soft_tissue": 40.0,
    "heart": 45.0,
    "lung": -850.0,
    "cortical_bone": 1000.0,
    "vertebral_body": 750.0,
    "posterior_arch": 900.0,
    "rib": 850.0,
    "sternum": 750.0,
    "disc": 80.0,
    "csf": 15.0,
    "vessel": 35.0,
}
NODULE_DIAMETER_MM = {"benign": (4.0, 20.0), "malignant": (7.0, 30.0)}
NODULE_TEXTURE_HU = 75.0  # standard deviation of a fully heterogeneous nodule's interior
_T = CT_TISSUES


def ct_geometry(
    rng: np.random.Generator,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
) -> Geometry:
    """Axial geometry; a ``shape`` without ``spacing`` keeps the default field of view."""
    shape = shape or DEFAULT_SHAPE
    spacing = spacing or fov_preserving_spacing(shape, DEFAULT_SHAPE, DEFAULT_SPACING)
    size = (shape[2], shape[1], shape[0])
    table = float(np.round(rng.uniform(-170.0, -130.0) * 2) / 2)  # slab centre along the body axis
    return axial_geometry(size, spacing, (0.0, 0.0, table))


def build_ct_image(
    rng: np.random.Generator,
    site: Site,
    *,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    lesion_classes: Sequence[str] | None = None,
) -> PhantomImage:
    """One chest CT volume (HU, int16) with 0-3 nodules, their label map and ground truth.

    ``lesion_classes`` forces the nodules (e.g. ``["malignant", "benign"]``) instead of drawing 0-3.
    """
    geometry = ct_geometry(rng, shape, spacing)
    hu, tissue = _anatomy(rng, geometry)
    classes = lesion_classes_for(rng, lesion_classes, 0, 3)
    label_map = np.zeros(geometry.array_shape, dtype=np.uint8)
    lesions = _nodules(rng, geometry, hu, tissue, label_map, classes)
    blur = site.ct_blur_voxels
    hu = ndimage.gaussian_filter(hu, sigma=(0.35, blur, blur), mode="nearest")
    noise = ndimage.gaussian_filter(
        rng.standard_normal(size=hu.shape, dtype=np.float32), sigma=(0.0, 0.6, 0.6), mode="wrap"
    )
    hu += noise * np.float32(site.ct_noise_hu / float(noise.std()))
    pixels = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    return PhantomImage(
        modality="CT",
        pixels=pixels,
        geometry=geometry,
        label_map=label_map,
        lesions=tuple(lesions),
        tissue_map=tissue,
        acquisition={
            "kernel": site.ct_kernel,
            "noise_hu": site.ct_noise_hu,
            "kvp": 120.0,
            "tube_current_ma": int(rng.integers(80, 220)),
            "table_height_mm": round(float(rng.uniform(140.0, 180.0)), 1),
        },
    )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: tuple[float, ...]) -> NDArray[np.float32]:
    field = ndimage.gaussian_filter(rng.standard_normal(size=shape, dtype=np.float32), sigma=sigma, mode="wrap")
    field -= field.mean()
    field /= max(float(field.std()), 1e-6)
    return field


def _anatomy(rng: np.random.Generator, geometry: Geometry) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    nx, ny, nz = geometry.size
    sx, sy, sz = geometry.spacing
    half_x, half_y = nx * sx / 2.0, ny * sy / 2.0
    # Normalised coordinates: u (right -1 .. left +1), v (anterior -1 .. posterior +1), w (0 feet .. 1 head).
    u = ((np.arange(nx) - (nx - 1) / 2.0) * sx / half_x)[None, None, :]
    v = ((np.arange(ny) - (ny - 1) / 2.0) * sy / half_y)[None, :, None]
    z_mm = (np.arange(nz) * sz)[:, None, None]
    w = (np.arange(nz) + 0.5)[:, None, None] / nz
    shape = geometry.array_shape

    b = rng.uniform(0.86, 0.95)  # body half-width
    d = b * rng.uniform(0.68, 0.78) * half_x / half_y  # body half-depth
    fat = rng.uniform(0.05, 0.09)
    r_body = np.sqrt((u / b) ** 2 + (v / d) ** 2)
    theta = np.arctan2(v / d, u / b)

    hu = np.full(shape, HU["air"], dtype=np.float32)
    tissue = np.zeros(shape, dtype=np.uint8)

    def put(region: NDArray[np.bool_], value: float | NDArray[np.float32], label: int) -> None:
        region = np.broadcast_to(region, shape)
        hu[region] = value if np.isscalar(value) else np.broadcast_to(value, shape)[region]
        tissue[region] = label

    put(r_body <= 1.0, HU["fat"], _T["fat"])
    put(r_body <= 1.0 - fat, HU["soft_tissue"], _T["soft_tissue"])

    # Lungs: two ellipsoids tapering to the apex, sitting on diaphragm domes, minus heart and spine.
    lungs = np.zeros(shape, dtype=bool)
    apex = rng.uniform(0.95, 1.08)
    for side in (-1.0, 1.0):
        uc, vc = side * 0.48 * b, -0.02 * d
        ax, ay = 0.36 * b * rng.uniform(0.95, 1.05), 0.74 * d
        taper = np.sqrt(np.clip(1.0 - ((w - 0.5) / (apex - 0.5)) ** 2, 0.0, 1.0))
        taper = np.where(w < 0.5, 1.0, taper)
        r_lung = ((u - uc) / (ax * np.maximum(taper, 1e-3))) ** 2 + ((v - vc) / (ay * np.maximum(taper, 1e-3))) ** 2
        dome = rng.uniform(0.0, 0.08) + (0.05 if side < 0 else 0.0)
        diaphragm = dome + 0.2 * np.clip(1.0 - ((u - uc) / ax) ** 2 - ((v - vc) / ay) ** 2, 0.0, 1.0)
        lungs |= (r_lung <= 1.0) & (w > diaphragm)
    heart = ((u - 0.12 * b) / (0.42 * b)) ** 2 + ((v + 0.2 * d) / (0.42 * d)) ** 2 + ((w - 0.2) / 0.32) ** 2 <= 1.0
    spine_zone = (np.abs(u) < 0.24 * b) & (v > 0.2 * d)
    lungs &= ~heart & ~np.broadcast_to(spine_zone, shape) & np.broadcast_to(r_body < 1.0 - fat - 0.1, shape)
    put(heart, HU["heart"], _T["soft_tissue"])

    texture = _smooth_noise(rng, shape, (2.0 / sz, 2.0 / sy, 2.0 / sx))
    tube_a = _smooth_noise(rng, shape, (4.0 / sz, 4.0 / sy, 4.0 / sx))
    tube_b = _smooth_noise(rng, shape, (4.0 / sz, 4.0 / sy, 4.0 / sx))
    vessels = (np.abs(tube_a) < 0.1) & (np.abs(tube_b) < 0.1)
    lung_hu = HU["lung"] + 25.0 * texture
    lung_hu = np.where(vessels, np.float32(HU["vessel"]), lung_hu)
    put(lungs, lung_hu, _T["lung"])

    # Trachea in the upper mediastinum.
    trachea = (u / (0.07 * b)) ** 2 + ((v + 0.05 * d) / (0.07 * b)) ** 2 <= 1.0
    put(trachea & (w > 0.6), HU["air"], _T["airway"])

    # Spine: vertebral bodies with cortex and discs, canal, posterior arch and spinous process.
    vb = (u / (0.2 * d)) ** 2 + ((v - 0.42 * d) / (0.16 * d)) ** 2
    period, disc = 26.0, 5.0
    phase = rng.uniform(0.0, period)
    is_disc = ((z_mm + phase) % period) < disc
    put((vb <= 1.0) & ~is_disc, HU["vertebral_body"], _T["bone"])
    put((vb <= 1.0) & (vb > 0.7) & ~is_disc, HU["cortical_bone"], _T["bone"])
    put((vb <= 1.0) & is_disc, HU["disc"], _T["soft_tissue"])
    canal_r = np.sqrt(u**2 + (v - 0.68 * d) ** 2)
    arch = (canal_r <= 0.13 * d) | (((u / (0.035 * d)) ** 2 + ((v - 0.85 * d) / (0.08 * d)) ** 2) <= 1.0)
    put(arch & (v > 0.6 * d), HU["posterior_arch"], _T["bone"])
    put(canal_r <= 0.085 * d, HU["csf"], _T["csf"])

    # Ribs: a ring inside the fat, gated by a helix-like stripe so each slice shows separate arcs.
    ring = (r_body >= 1.0 - fat - 0.1) & (r_body <= 1.0 - fat - 0.045)
    stripes = np.sin(2.0 * np.pi * (z_mm / 24.0 + 0.8 * np.sin(theta)) + rng.uniform(0, 2 * np.pi)) > 0.3
    not_midline = ~((np.abs(u) < 0.3 * b) & (v < 0)) & ~((np.abs(u) < 0.22 * b) & (v > 0))
    put(ring & stripes & not_midline, HU["rib"], _T["bone"])
    sternum = (u / (0.12 * b)) ** 2 + ((v + (1.0 - fat - 0.07) * d) / (0.035 * d)) ** 2 <= 1.0
    put(sternum & (w > 0.35), HU["sternum"], _T["bone"])
    return hu, tissue


def _nodules(
    rng: np.random.Generator,
    geometry: Geometry,
    hu: NDArray[np.float32],
    tissue: NDArray[np.uint8],
    label_map: NDArray[np.uint8],
    classes: list[LesionClass],
) -> list[Lesion]:
    if not classes:
        return []
    designs = []
    for lesion_class in classes:
        low, high = NODULE_DIAMETER_MM[lesion_class]
        designs.append(
            design_lesion(
                rng,
                lesion_class,
                float(rng.uniform(low, high)),
                3,
                min_width_mm=1.1 * max(geometry.spacing[:2]),
            )
        )
    lung = np.isin(tissue, (_T["lung"],))
    clearance = ndimage.distance_transform_edt(lung, sampling=tuple(reversed(geometry.spacing)))
    lesions: list[Lesion] = []
    for design, centre in place_centres(rng, clearance, geometry, designs):
        painted = rasterise(rng, design, centre, geometry)
        r = painted.rendering
        base = rng.uniform(25.0, 55.0) if design.lesion_class == "benign" else rng.uniform(20.0, 45.0)
        value = base + NODULE_TEXTURE_HU * design.heterogeneity * r.texture - rng.uniform(30.0, 60.0) * r.core
        window = painted.window
        hu[window] = hu[window] * (1.0 - r.occupancy) + value * r.occupancy
        lesion_id = len(lesions) + 1
        label_map[window][painted.mask] = lesion_id
        tissue[window][painted.mask] = LESION_TISSUE
        full_mask = label_map == lesion_id
        lesions.append(measure_lesion(lesion_id, design, centre, full_mask, geometry))
    return lesions
