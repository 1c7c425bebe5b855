"""Brain MR phantom: a sagittal 3D T1-weighted volume (MPRAGE-like) with one brain lesion.

Scalp fat is bright, skull and CSF dark, white matter brighter than grey matter; the cortex is folded by
a smooth noise field; a slowly varying bias field and Rician noise are added. Benign lesions are round,
circumscribed and homogeneous; malignant ones are lobulated with ill-defined (infiltrative) margins,
a heterogeneous interior and often a dark necrotic core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import Geometry, fov_preserving_spacing, sagittal_geometry
from radscholar_phantoms.images import LESION_TISSUE, MR_TISSUES, PhantomImage
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

DEFAULT_SHAPE = (64, 128, 128)  # (slices left->right, rows superior->inferior, columns anterior->posterior)
DEFAULT_SPACING = (2.0, 2.0, 2.5)  # (column, row, slice) mm
T1 = {
    "background": 0.0,
    "scalp": 900.0,
    "skull": 70.0,
    "csf": 180.0,
    "grey_matter": 520.0,
    "white_matter": 760.0,
    "ventricle": 170.0,
    "eye": 150.0,
    "neck": 450.0,
}
LESION_DIAMETER_MM = {"benign": (8.0, 25.0), "malignant": (12.0, 40.0)}
_T = MR_TISSUES


def mr_geometry(
    rng: np.random.Generator,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
) -> Geometry:
    shape = shape or DEFAULT_SHAPE
    spacing = spacing or fov_preserving_spacing(shape, DEFAULT_SHAPE, DEFAULT_SPACING)
    size = (shape[2], shape[1], shape[0])
    centre = (
        float(np.round(rng.uniform(-3, 3), 1)),
        float(np.round(rng.uniform(5, 20), 1)),
        float(np.round(rng.uniform(-20, -5), 1)),
    )
    return sagittal_geometry(size, spacing, centre)


def build_mr_image(
    rng: np.random.Generator,
    site: Site,
    *,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    lesion_classes: Sequence[str] | None = None,
) -> PhantomImage:
    """One T1-weighted brain volume (uint16, 12 bits stored) with one lesion (or ``lesion_classes``)."""
    geometry = mr_geometry(rng, shape, spacing)
    points = geometry.physical_grid()
    signal, tissue, brain_core = _head(rng, geometry, points)
    classes = lesion_classes_for(rng, lesion_classes, 1, 1)
    label_map = np.zeros(geometry.array_shape, dtype=np.uint8)
    lesions = _lesions(rng, geometry, signal, tissue, brain_core, label_map, classes)
    # Receive-coil bias field: a smooth low-order polynomial around 1.
    centred = (points - points.reshape(-1, 3).mean(axis=0)) / 100.0
    coefficients = rng.uniform(-0.08, 0.08, size=3)
    bias = 1.0 + centred @ coefficients + 0.04 * rng.uniform(-1, 1) * (centred**2).sum(axis=-1)
    signal = ndimage.gaussian_filter(signal * bias, sigma=0.5)
    sigma = 14.0 if site.mr_field_strength_t >= 3.0 else 20.0
    real = signal + rng.normal(0.0, sigma, size=signal.shape)
    imaginary = rng.normal(0.0, sigma, size=signal.shape)
    magnitude = np.sqrt(real**2 + imaginary**2)  # Rician
    stored = np.clip(np.rint(magnitude), 0, 4095).astype(np.uint16)
    tesla = site.mr_field_strength_t
    return PhantomImage(
        modality="MR",
        pixels=stored,
        geometry=geometry,
        label_map=label_map,
        lesions=tuple(lesions),
        tissue_map=tissue,
        acquisition={
            "magnetic_field_strength_t": tesla,
            "repetition_time_ms": 2300.0 if tesla >= 3.0 else 2000.0,
            "echo_time_ms": 2.98 if tesla >= 3.0 else 3.4,
            "inversion_time_ms": 900.0 if tesla >= 3.0 else 1100.0,
            "flip_angle_deg": 9.0 if tesla >= 3.0 else 8.0,
            "imaging_frequency_mhz": round(42.577478 * tesla, 6),
            "sequence_name": "*tfl3d1_16ns" if site.mr.manufacturer == "SIEMENS" else "T1_MPRAGE_3D",
            "pixel_bandwidth_hz": 200.0 if tesla >= 3.0 else 180.0,
        },
    )


def _ellipsoid(points: NDArray[np.float64], centre: tuple[float, ...], axes: tuple[float, ...]) -> NDArray[np.float64]:
    """Ellipsoidal radius of each point: <= 1 inside."""
    return np.asarray(np.sqrt((((points - np.asarray(centre)) / np.asarray(axes)) ** 2).sum(axis=-1)))


def _head(
    rng: np.random.Generator, geometry: Geometry, points: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.uint8], NDArray[np.bool_]]:
    shape = geometry.array_shape
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    ax, ay, az = rng.uniform(68, 76), rng.uniform(88, 98), rng.uniform(78, 86)
    signal = np.zeros(shape)
    tissue = np.zeros(shape, dtype=np.uint8)

    def put(region: NDArray[np.bool_], value: float | NDArray[np.float64], label: int) -> None:
        signal[region] = value if np.isscalar(value) else np.asarray(value)[region]
        tissue[region] = label

    def layer(depth_mm: float | NDArray[np.float64]) -> NDArray[np.float64]:
        """Ellipsoidal radius of the head surface moved inwards by ``depth_mm``."""
        return np.asarray(np.sqrt((x / (ax - depth_mm)) ** 2 + (y / (ay - depth_mm)) ** 2 + (z / (az - depth_mm)) ** 2))

    neck = ((x / 48.0) ** 2 + ((y - 12.0) / 52.0) ** 2 <= 1.0) & (z < -40.0)
    put(neck, T1["neck"], _T["neck"])
    put(layer(0.0) <= 1.0, T1["scalp"], _T["scalp"])
    put(layer(5.0) <= 1.0, T1["skull"], _T["skull"])
    skull_base = -30.0 - 9.0 * (y / ay + 1.0)  # the posterior fossa reaches lower than the anterior
    inside_skull = (layer(12.0) <= 1.0) & (z > skull_base)
    put(inside_skull, T1["csf"], _T["csf"])
    folding = ndimage.gaussian_filter(rng.normal(size=shape), sigma=[3.0 / s for s in reversed(geometry.spacing)])
    folding /= folding.std()
    grey = (layer(14.5) <= 1.0) & inside_skull & ~((folding > 1.3) & (layer(20.0) > 1.0))
    put(grey, T1["grey_matter"], _T["grey_matter"])
    white = (layer(20.0 + 5.0 * np.abs(folding)) <= 1.0) & (z > skull_base + 6.0)
    put(white & grey, T1["white_matter"], _T["white_matter"])
    for side in (-1.0, 1.0):
        horn = _ellipsoid(points, (side * 9.0, -2.0, 14.0), (6.0, 26.0, 9.0)) <= 1.0
        put(horn & grey, T1["ventricle"], _T["ventricle"])
        eye = _ellipsoid(points, (side * 31.0, -ay + 12.0, -28.0), (12.0, 12.0, 12.0))
        put((eye <= 1.6) & (eye > 1.0) & ~inside_skull, T1["scalp"], _T["scalp"])
        put(eye <= 1.0, T1["eye"], _T["eye"])
    brain = np.isin(tissue, (_T["grey_matter"], _T["white_matter"]))
    return signal, tissue, brain


def _lesions(
    rng: np.random.Generator,
    geometry: Geometry,
    signal: NDArray[np.float64],
    tissue: NDArray[np.uint8],
    brain: NDArray[np.bool_],
    label_map: NDArray[np.uint8],
    classes: list[LesionClass],
) -> list[Lesion]:
    designs = [
        design_lesion(
            rng,
            c,
            float(rng.uniform(*LESION_DIAMETER_MM[c])),
            3,
            spicules=False,
            edge_scale=2.5,
        )
        for c in classes
    ]
    filled = ndimage.binary_closing(brain, iterations=2) | np.isin(tissue, (_T["ventricle"],))
    clearance = ndimage.distance_transform_edt(filled, sampling=tuple(reversed(geometry.spacing)))
    lesions: list[Lesion] = []
    for design, centre in place_centres(rng, clearance, geometry, designs, inside_fraction=1.0):
        painted = rasterise(rng, design, centre, geometry)
        r = painted.rendering
        base = rng.uniform(330.0, 420.0) if design.lesion_class == "benign" else rng.uniform(380.0, 460.0)
        value = base + 140.0 * design.heterogeneity * r.texture - 200.0 * r.core
        window = painted.window
        signal[window] = signal[window] * (1.0 - r.occupancy) + value * r.occupancy
        lesion_id = len(lesions) + 1
        label_map[window][painted.mask] = lesion_id
        tissue[window][painted.mask] = LESION_TISSUE
        lesions.append(measure_lesion(lesion_id, design, centre, label_map == lesion_id, geometry))
    return lesions
