"""Lesion shapes, their class rules, placement and ground-truth measurement (2D and 3D alike).

Class rules (the same in every modality, so that the classes are learnable):

* **benign** - a round or oval (ellipsoidal) body, a sharp circumscribed margin, a homogeneous
  interior and no spicules;
* **malignant** - an irregular, lobulated body with an ill-defined margin, thin spicules radiating from
  the surface (where the modality has them), and a heterogeneous interior, larger ones sometimes with a
  necrotic low-density core. An ``aggressiveness`` in [0.35, 1] scales all of these, so mild malignant
  lesions overlap with benign ones and the task is not trivial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from radscholar_phantoms.geometry import Geometry

LesionClass = Literal["benign", "malignant"]
_LOBE_SHARPNESS = 7.0
LESION_CLASSES: tuple[LesionClass, ...] = ("benign", "malignant")

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LesionDesign:
    """The random parameters of one lesion, in millimetres, drawn once by :func:`design_lesion`."""

    lesion_class: LesionClass
    diameter_mm: float
    semi_axes_mm: tuple[float, ...]
    rotation: FloatArray  # d x d orthonormal; columns are the lesion's principal axes
    lobe_directions: FloatArray  # (n, d) unit vectors
    lobe_amplitudes: FloatArray  # (n,) relative radius bumps
    spicule_directions: FloatArray  # (m, d) unit vectors
    spicule_lengths_mm: FloatArray  # (m,) from the centre to the tip
    spicule_width_mm: float
    edge_mm: float  # width of the soft margin
    heterogeneity: float  # 0 = homogeneous, 1 = fully heterogeneous
    texture_scale_mm: float
    necrosis_fraction: float  # radius of a necrotic core relative to the body, 0 = none
    aggressiveness: float  # 0 for benign

    @property
    def ndim(self) -> int:
        return len(self.semi_axes_mm)

    @property
    def extent_mm(self) -> float:
        """Radius of a ball around the centre that holds the whole lesion, margin included."""
        body = max(self.semi_axes_mm) * (1.0 + float(np.clip(self.lobe_amplitudes, 0.0, None).sum()))
        spicules = float(self.spicule_lengths_mm.max()) if len(self.spicule_lengths_mm) else 0.0
        return max(body, spicules) + 3.0 * self.edge_mm + 1.0

    @property
    def margin(self) -> str:
        if self.lesion_class == "benign":
            return "circumscribed"
        return "spiculated" if len(self.spicule_directions) else "lobulated"

    @property
    def texture(self) -> str:
        if self.lesion_class == "benign":
            return "homogeneous"
        return "necrotic" if self.necrosis_fraction > 0 else "heterogeneous"


@dataclass(frozen=True)
class Lesion:
    """Ground truth of one lesion, measured from its mask. Indices are ``(i, j[, k])``."""

    lesion_id: int  # also its value in the series' label map
    lesion_class: LesionClass
    centre_voxel: tuple[int, ...]
    centre_mm: tuple[float, ...]
    diameter_mm: float  # nominal (design) diameter: the longest axis of the lesion body
    equivalent_diameter_mm: float  # of a sphere (3D) or circle (2D) with the mask's volume / area
    voxel_count: int
    bbox_voxel_min: tuple[int, ...]  # inclusive
    bbox_voxel_max: tuple[int, ...]  # exclusive
    bbox_mm_min: tuple[float, ...]  # outer voxel edges, axis-aligned in physical space
    bbox_mm_max: tuple[float, ...]
    margin: str
    texture: str
    aggressiveness: float

    def to_dict(self, geometry: Geometry) -> dict[str, Any]:
        voxel_volume = float(np.prod(geometry.spacing))
        measure = "volume_mm3" if geometry.ndim == 3 else "area_mm2"
        return {
            "lesion_id": self.lesion_id,
            "label_value": self.lesion_id,
            "class": self.lesion_class,
            "centre_voxel": list(self.centre_voxel),
            "centre_mm": [_r(v) for v in self.centre_mm],
            "diameter_mm": _r(self.diameter_mm),
            "equivalent_diameter_mm": _r(self.equivalent_diameter_mm),
            "voxel_count": self.voxel_count,
            measure: _r(self.voxel_count * voxel_volume),
            "bbox_voxel": {"min": list(self.bbox_voxel_min), "max": list(self.bbox_voxel_max)},
            "bbox_mm": {"min": [_r(v) for v in self.bbox_mm_min], "max": [_r(v) for v in self.bbox_mm_max]},
            "margin": self.margin,
            "texture": self.texture,
            "aggressiveness": _r(self.aggressiveness),
        }


def _r(value: float) -> float:
    return round(float(value), 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def random_rotation(rng: np.random.Generator, ndim: int) -> FloatArray:
    """A uniformly random proper rotation matrix."""
    q, r = np.linalg.qr(rng.normal(size=(ndim, ndim)))
    q = q * np.sign(np.diag(r))[None, :]
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return np.asarray(q, dtype=np.float64)


def _directions(rng: np.random.Generator, count: int, ndim: int, planar_bias: float = 1.0) -> FloatArray:
    v = rng.normal(size=(count, ndim))
    if ndim == 3:
        v[:, 2] *= planar_bias  # flatten towards the in-plane axes (thick slices show spicules in-plane)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.asarray(v / np.maximum(norms, 1e-9), dtype=np.float64)


def design_lesion(
    rng: np.random.Generator,
    lesion_class: LesionClass,
    diameter_mm: float,
    ndim: int,
    *,
    spicules: bool = True,
    spicule_reach: tuple[float, float] = (0.4, 1.1),
    min_width_mm: float = 0.8,
    edge_scale: float = 1.0,
) -> LesionDesign:
    """Draw the shape and texture parameters of one lesion following the class rules."""
    radius = diameter_mm / 2.0
    empty = np.zeros((0, ndim))
    if lesion_class == "benign":
        ratios = [1.0, *rng.uniform(0.78, 1.0, size=ndim - 1)]
        n_lobes = 2
        return LesionDesign(
            lesion_class=lesion_class,
            diameter_mm=diameter_mm,
            semi_axes_mm=tuple(radius * r for r in ratios),
            rotation=random_rotation(rng, ndim),
            lobe_directions=_directions(rng, n_lobes, ndim),
            lobe_amplitudes=rng.uniform(0.0, 0.04, size=n_lobes),
            spicule_directions=empty,
            spicule_lengths_mm=np.zeros(0),
            spicule_width_mm=0.0,
            edge_mm=float(rng.uniform(0.1, 0.25)),
            heterogeneity=float(rng.uniform(0.0, 0.08)),
            texture_scale_mm=float(rng.uniform(1.0, 2.0)),
            necrosis_fraction=0.0,
            aggressiveness=0.0,
        )
    if lesion_class != "malignant":
        raise ValueError(f"unknown lesion class {lesion_class!r}")
    a = float(rng.uniform(0.35, 1.0))
    ratios = [1.0, *rng.uniform(0.72, 1.0, size=ndim - 1)]
    n_lobes = int(rng.integers(5, 10))
    n_spicules = round(a * rng.uniform(10, 24)) if spicules else 0
    width = max(min_width_mm, float(rng.uniform(0.9, 1.6)))
    necrosis = float(rng.uniform(0.3, 0.55)) if diameter_mm >= 14 and rng.random() < 0.6 * a else 0.0
    # Spicule lengths are measured from the centre; they start inside the body and reach beyond it.
    reach = rng.uniform(*spicule_reach, size=n_spicules)
    return LesionDesign(
        lesion_class=lesion_class,
        diameter_mm=diameter_mm,
        semi_axes_mm=tuple(radius * r for r in ratios),
        rotation=random_rotation(rng, ndim),
        lobe_directions=_directions(rng, n_lobes, ndim),
        # Bumps and a few dents: a lobulated contour.
        lobe_amplitudes=a * rng.uniform(0.2, 0.5, size=n_lobes) * rng.choice([-0.6, 1.0], size=n_lobes, p=[0.35, 0.65]),
        spicule_directions=_directions(rng, n_spicules, ndim, planar_bias=0.35),
        spicule_lengths_mm=radius * (1.0 + reach) + 1.0,
        spicule_width_mm=width,
        edge_mm=float(edge_scale * (0.3 + a * rng.uniform(0.3, 0.8))),
        heterogeneity=float(a * rng.uniform(0.75, 1.0)),
        texture_scale_mm=float(rng.uniform(0.8, 1.6)),
        necrosis_fraction=necrosis,
        aggressiveness=a,
    )


def _soft_step(signed_distance_mm: FloatArray, edge_mm: float) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(signed_distance_mm / max(edge_mm, 1e-3))), dtype=np.float64)


@dataclass(frozen=True)
class LesionRendering:
    """A lesion sampled on a patch of the image grid."""

    occupancy: FloatArray  # 0..1, the lesion's share of each voxel (soft margin)
    core: FloatArray  # 0..1, 1 inside the necrotic core (all zeros without one)
    texture: FloatArray  # zero-mean unit-variance texture field (smoothed noise)


def render_lesion(
    design: LesionDesign,
    offsets_mm: FloatArray,
    spacing_array_order: tuple[float, ...],
    rng: np.random.Generator,
) -> LesionRendering:
    """Sample a lesion at ``offsets_mm`` (patch shape + (d,), physical offsets from the lesion centre)."""
    local = offsets_mm @ design.rotation  # coordinates along the lesion's principal axes
    dist = np.linalg.norm(offsets_mm, axis=-1)
    unit = offsets_mm / np.maximum(dist, 1e-6)[..., None]
    rho = np.linalg.norm(local / np.asarray(design.semi_axes_mm), axis=-1)  # 1 on the ellipsoid
    surface = np.ones_like(rho)
    for direction, amplitude in zip(design.lobe_directions, design.lobe_amplitudes, strict=True):
        surface += amplitude * np.exp(_LOBE_SHARPNESS * (unit @ direction - 1.0))
    # Distance to the (lobulated) surface along the ray from the centre, in mm; the centre is deep inside.
    inside = rho > 1e-6
    signed = np.where(inside, (surface - rho) * dist / np.where(inside, rho, 1.0), min(design.semi_axes_mm))
    occupancy = _soft_step(signed, design.edge_mm)
    for direction, length in zip(design.spicule_directions, design.spicule_lengths_mm, strict=True):
        t = np.clip(offsets_mm @ direction, 0.0, length)
        off_axis = np.linalg.norm(offsets_mm - t[..., None] * direction, axis=-1)
        half_width = 0.5 * design.spicule_width_mm * (1.0 - 0.55 * t / length)
        occupancy = np.maximum(occupancy, _soft_step(half_width - off_axis, 0.25))
    if design.necrosis_fraction > 0:
        core = _soft_step((design.necrosis_fraction - rho) * min(design.semi_axes_mm), 0.8)
    else:
        core = np.zeros_like(rho)
    sigma = [design.texture_scale_mm / s for s in spacing_array_order]
    noise = ndimage.gaussian_filter(rng.normal(size=rho.shape), sigma=sigma, mode="reflect")
    texture = (noise - noise.mean()) / max(float(noise.std()), 1e-9)
    return LesionRendering(occupancy=occupancy, core=core, texture=texture)


def patch_bounds(
    geometry: Geometry, centre_mm: FloatArray, extent_mm: float
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Index box ``[lower, upper)`` (``(i, j[, k])``) of the grid that covers a ball, clipped to the grid."""
    corners = np.array(
        [[extent_mm if (c >> a) & 1 else -extent_mm for a in range(geometry.ndim)] for c in range(2**geometry.ndim)]
    )
    idx = geometry.physical_to_index(centre_mm + corners)
    lower = np.maximum(np.floor(idx.min(axis=0)).astype(int), 0)
    upper = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 1, np.asarray(geometry.size))
    return tuple(int(v) for v in lower), tuple(int(v) for v in upper)


def array_slices(lower: tuple[int, ...], upper: tuple[int, ...]) -> tuple[slice, ...]:
    """Numpy slices (array order) for an index box given in ``(i, j[, k])`` order."""
    return tuple(slice(lo, hi) for lo, hi in reversed(list(zip(lower, upper, strict=True))))


def keep_component_at(mask: NDArray[np.bool_], seed_index: tuple[int, ...]) -> NDArray[np.bool_]:
    """The connected component of ``mask`` (full connectivity) containing ``seed_index`` (array order)."""
    labels, count = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    if count <= 1:
        return mask
    label = labels[seed_index]
    if label == 0:  # the centre voxel itself fell outside (cannot happen for our shapes); keep the biggest
        label = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
    return np.asarray(labels == label)


def place_centres(
    rng: np.random.Generator,
    clearance_mm: FloatArray,
    geometry: Geometry,
    designs: list[LesionDesign],
    *,
    inside_fraction: float = 0.8,
    gap_mm: float = 3.0,
    fit_extent: bool = False,
) -> list[tuple[LesionDesign, tuple[int, ...]]]:
    """Choose a voxel centre for each lesion where ``clearance_mm`` (the distance to the edge of the
    allowed region) is at least ``inside_fraction`` of its radius (of its whole extent, spicules
    included, with ``fit_extent``), apart from the others.

    A lesion that does not fit is shrunk (down to 60 % of its size), then dropped. Returns the placed
    designs (possibly shrunk) with their centres as ``(i, j[, k])`` indices.
    """
    placed: list[tuple[LesionDesign, tuple[int, ...]]] = []
    placed_mm: list[tuple[FloatArray, float]] = []
    flat = clearance_mm.ravel()
    for design in designs:
        current = design
        for _ in range(4):
            radius = current.extent_mm if fit_extent else current.diameter_mm / 2.0
            candidates = np.flatnonzero(flat >= inside_fraction * radius)
            centre = _pick(rng, candidates, clearance_mm.shape, geometry, current, placed_mm, gap_mm)
            if centre is not None:
                placed.append((current, centre))
                placed_mm.append((geometry.index_to_physical(centre), current.extent_mm))
                break
            current = _shrunk(current, 0.85)
            if current.diameter_mm < 0.6 * design.diameter_mm:
                break
    return placed


def _pick(
    rng: np.random.Generator,
    candidates: NDArray[np.intp],
    array_shape: tuple[int, ...],
    geometry: Geometry,
    design: LesionDesign,
    others: list[tuple[FloatArray, float]],
    gap_mm: float,
) -> tuple[int, ...] | None:
    if len(candidates) == 0:
        return None
    for _ in range(40):
        flat_index = int(candidates[int(rng.integers(len(candidates)))])
        array_index = np.unravel_index(flat_index, array_shape)
        centre = tuple(int(v) for v in reversed(array_index))
        point = geometry.index_to_physical(centre)
        if all(np.linalg.norm(point - p) >= design.extent_mm + e + gap_mm for p, e in others):
            return centre
    return None


def _shrunk(design: LesionDesign, factor: float) -> LesionDesign:
    return LesionDesign(
        lesion_class=design.lesion_class,
        diameter_mm=design.diameter_mm * factor,
        semi_axes_mm=tuple(a * factor for a in design.semi_axes_mm),
        rotation=design.rotation,
        lobe_directions=design.lobe_directions,
        lobe_amplitudes=design.lobe_amplitudes,
        spicule_directions=design.spicule_directions,
        spicule_lengths_mm=design.spicule_lengths_mm * factor,
        spicule_width_mm=design.spicule_width_mm,
        edge_mm=design.edge_mm,
        heterogeneity=design.heterogeneity,
        texture_scale_mm=design.texture_scale_mm,
        necrosis_fraction=design.necrosis_fraction,
        aggressiveness=design.aggressiveness,
    )


def measure_lesion(
    lesion_id: int,
    design: LesionDesign,
    centre_voxel: tuple[int, ...],
    mask: NDArray[np.bool_],
    geometry: Geometry,
) -> Lesion:
    """Ground truth of a lesion from its boolean mask (array order, full image grid)."""
    coords = np.nonzero(mask)  # array order
    lower_array = [int(c.min()) for c in coords]
    upper_array = [int(c.max()) + 1 for c in coords]
    lower = tuple(reversed(lower_array))
    upper = tuple(reversed(upper_array))
    box_min, box_max = geometry.box_to_physical(lower, upper)
    count = int(mask.sum())
    measure = count * float(np.prod(geometry.spacing))
    if geometry.ndim == 3:
        equivalent = 2.0 * (3.0 * measure / (4.0 * math.pi)) ** (1.0 / 3.0)
    else:
        equivalent = 2.0 * math.sqrt(measure / math.pi)
    centre_mm = geometry.index_to_physical(centre_voxel)
    return Lesion(
        lesion_id=lesion_id,
        lesion_class=design.lesion_class,
        centre_voxel=centre_voxel,
        centre_mm=tuple(float(v) for v in centre_mm),
        diameter_mm=2.0 * max(design.semi_axes_mm),
        equivalent_diameter_mm=equivalent,
        voxel_count=count,
        bbox_voxel_min=lower,
        bbox_voxel_max=upper,
        bbox_mm_min=tuple(float(v) for v in box_min),
        bbox_mm_max=tuple(float(v) for v in box_max),
        margin=design.margin,
        texture=design.texture,
        aggressiveness=design.aggressiveness,
    )


@dataclass(frozen=True)
class PaintedLesion:
    """What a modality needs to paint one lesion: its window into the image and its rendering."""

    design: LesionDesign
    centre_voxel: tuple[int, ...]
    window: tuple[slice, ...]  # numpy slices of the patch
    rendering: LesionRendering
    mask: NDArray[np.bool_]  # on the patch; the connected lesion (occupancy >= 0.5)


def rasterise(
    rng: np.random.Generator, design: LesionDesign, centre_voxel: tuple[int, ...], geometry: Geometry
) -> PaintedLesion:
    """Render a placed lesion on its patch of ``geometry`` and cut its mask to one connected piece."""
    centre_mm = geometry.index_to_physical(centre_voxel)
    lower, upper = patch_bounds(geometry, centre_mm, design.extent_mm)
    offsets = geometry.physical_grid(lower, upper) - centre_mm
    spacing_array_order = tuple(reversed(geometry.spacing))
    rendering = render_lesion(design, offsets, spacing_array_order, rng)
    seed = tuple(c - lo for c, lo in zip(reversed(centre_voxel), reversed(lower), strict=True))
    mask = keep_component_at(rendering.occupancy >= 0.5, seed)
    # Paint only what belongs to the lesion: detached bits of spicule tips would be unlabelled.
    near = ndimage.binary_dilation(mask, iterations=2)
    occupancy = np.where(near, rendering.occupancy, 0.0)
    rendering = LesionRendering(occupancy=occupancy, core=rendering.core, texture=rendering.texture)
    return PaintedLesion(design, centre_voxel, array_slices(lower, upper), rendering, mask)


def lesion_classes_for(
    rng: np.random.Generator, forced: Sequence[str] | None, low: int, high: int
) -> list[LesionClass]:
    """``forced`` (checked) or between ``low`` and ``high`` lesions (inclusive), each benign or
    malignant with probability 1/2."""
    if forced is not None:
        unknown = [c for c in forced if c not in LESION_CLASSES]
        if unknown:
            raise ValueError(f"unknown lesion classes {unknown}; expected 'benign' or 'malignant'")
        return [_as_class(c) for c in forced]
    count = int(rng.integers(low, high + 1))
    return [LESION_CLASSES[int(rng.integers(2))] for _ in range(count)]


def _as_class(name: str) -> LesionClass:
    return "benign" if name == "benign" else "malignant"


def projected_thickness_mm(painted: PaintedLesion, spacing_array_order: tuple[float, ...]) -> FloatArray:
    """Chord length through a 2D lesion seen as the projection of a solid body (for DX and MG).

    A point at depth ``d`` inside a disc of radius ``R`` lies under a chord of ``2 sqrt(d (2R - d))``;
    thin spicules therefore come out faint, as on real radiographs. Ill-defined margins are blurred.
    """
    padded = np.pad(painted.mask, 1)
    depth = ndimage.distance_transform_edt(padded, sampling=spacing_array_order)[1:-1, 1:-1]
    radius = float(depth.max())
    chord = 2.0 * np.sqrt(np.clip(depth * (2.0 * radius - depth), 0.0, None))
    sigma = [max(painted.design.edge_mm, 0.2) / s for s in spacing_array_order]
    return np.asarray(ndimage.gaussian_filter(chord, sigma=sigma), dtype=np.float64)
