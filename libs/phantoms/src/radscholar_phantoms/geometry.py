"""Image geometry in ITK/DICOM conventions.

Index order is ``(i, j, k)`` = (column, row, slice), as in ITK, DICOM and NIfTI. Numpy arrays in
this package are stored the other way round, ``array[k, j, i]`` (``array[j, i]`` in 2D), exactly as
``SimpleITK.GetArrayFromImage`` returns them. Physical coordinates of 3D series are DICOM patient
coordinates (LPS, millimetres). 2D projection images (DX, MG) have no patient coordinate system;
their physical coordinates are millimetres in the image plane measured from the centre of pixel
``(0, 0)``, which is also what SimpleITK reports for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# NIfTI stores RAS+ coordinates, DICOM and ITK use LPS+: the first two axes flip sign.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Geometry:
    """Where the voxels of an image lie in space.

    ``size``, ``spacing`` and ``origin`` are in index order ``(i, j[, k])``; ``direction`` is the
    row-major ``d x d`` matrix whose *columns* are the unit vectors of the i, j (and k) axes, i.e.
    ``SimpleITK.Image.GetDirection()``. ``origin`` is the physical position of the centre of voxel
    ``(0, 0[, 0])``.
    """

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def __post_init__(self) -> None:
        d = len(self.size)
        if d not in (2, 3):
            raise ValueError(f"geometry must be 2D or 3D, got {d} dimensions")
        if len(self.spacing) != d or len(self.origin) != d or len(self.direction) != d * d:
            raise ValueError("size, spacing, origin and direction must have matching dimensions")
        if any(n < 1 for n in self.size) or any(s <= 0 for s in self.spacing):
            raise ValueError("size must be positive and spacing strictly positive")

    @property
    def ndim(self) -> int:
        return len(self.size)

    @property
    def array_shape(self) -> tuple[int, ...]:
        """The numpy shape of an array on this grid: ``(slices, rows, columns)`` or ``(rows, columns)``."""
        return tuple(reversed(self.size))

    @property
    def direction_matrix(self) -> FloatArray:
        return np.asarray(self.direction, dtype=np.float64).reshape(self.ndim, self.ndim)

    def index_to_physical(self, index: Any) -> FloatArray:
        """Map continuous indices ``(..., d)`` in ``(i, j[, k])`` order to physical millimetres."""
        idx = np.asarray(index, dtype=np.float64)
        scaled = idx * np.asarray(self.spacing)
        return np.asarray(self.origin) + scaled @ self.direction_matrix.T

    def physical_to_index(self, point: Any) -> FloatArray:
        """Inverse of :meth:`index_to_physical` (continuous indices)."""
        p = np.asarray(point, dtype=np.float64) - np.asarray(self.origin)
        return (p @ self.direction_matrix) / np.asarray(self.spacing)

    def physical_grid(self, lower: tuple[int, ...] | None = None, upper: tuple[int, ...] | None = None) -> FloatArray:
        """Physical coordinates of every voxel centre, shape ``array_shape + (d,)`` (or of a sub-box).

        ``lower``/``upper`` bound the box in index order, ``upper`` exclusive.
        """
        lo = lower or (0,) * self.ndim
        hi = upper or self.size
        axes = [np.arange(a, b, dtype=np.float64) for a, b in zip(lo, hi, strict=True)]
        # meshgrid in array order (k, j, i) so the result lines up with numpy arrays.
        mesh = np.meshgrid(*reversed(axes), indexing="ij")
        index = np.stack(list(reversed(mesh)), axis=-1)
        return self.index_to_physical(index)

    def box_to_physical(self, lower: tuple[int, ...], upper: tuple[int, ...]) -> tuple[FloatArray, FloatArray]:
        """Axis-aligned physical extent (outer voxel edges) of the index box ``[lower, upper)``."""
        d = self.ndim
        corners = np.array(
            [[(upper[a] - 0.5) if (c >> a) & 1 else (lower[a] - 0.5) for a in range(d)] for c in range(2**d)],
            dtype=np.float64,
        )
        points = self.index_to_physical(corners)
        return points.min(axis=0), points.max(axis=0)

    def nifti_affine(self) -> FloatArray:
        """The 4x4 NIfTI (RAS+) voxel-to-world affine of this grid.

        For 2D images the third axis is a unit-thickness slice at 0 so that a 2D mask read by
        SimpleITK has the same origin, spacing and direction as the DICOM image.
        """
        affine = np.eye(4)
        d = self.ndim
        affine[:d, :d] = self.direction_matrix * np.asarray(self.spacing)[None, :]
        affine[:d, 3] = self.origin
        return _LPS_TO_RAS @ affine

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": list(self.size),
            "spacing_mm": [float(s) for s in self.spacing],
            "origin_mm": [float(o) for o in self.origin],
            "direction": [float(v) for v in self.direction],
        }


def axial_geometry(size: tuple[int, ...], spacing: tuple[float, ...], centre: tuple[float, ...]) -> Geometry:
    """An axial volume (rows towards posterior, columns towards the patient's left, slices upwards)
    centred on ``centre`` (LPS mm)."""
    extent = (np.asarray(size) - 1) * np.asarray(spacing)
    origin = np.asarray(centre) - extent / 2.0
    return Geometry(size, spacing, _rounded(origin), (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))


def sagittal_geometry(size: tuple[int, ...], spacing: tuple[float, ...], centre: tuple[float, ...]) -> Geometry:
    """A sagittal volume: columns run anterior->posterior, rows superior->inferior and slices from the
    patient's left to right (ImageOrientationPatient ``0\\1\\0\\0\\0\\-1``)."""
    axes = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # rows: i, j, k unit vectors
    direction = axes.T
    extent = (np.asarray(size) - 1) * np.asarray(spacing)
    origin = np.asarray(centre) - direction @ (extent / 2.0)
    return Geometry(size, spacing, _rounded(origin), tuple(float(v) for v in direction.ravel()))


def planar_geometry(size: tuple[int, ...], spacing: tuple[float, ...]) -> Geometry:
    """A projection image: pixel (0, 0) at the origin, identity direction."""
    return Geometry(size, spacing, (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))


def fov_preserving_spacing(
    shape: tuple[int, ...], default_shape: tuple[int, ...], default_spacing: tuple[float, ...]
) -> tuple[float, ...]:
    """Spacing (index order) that keeps the default field of view for another array shape."""
    size = tuple(reversed(shape))
    default_size = tuple(reversed(default_shape))
    return tuple(round(s * n0 / n, 4) for s, n0, n in zip(default_spacing, default_size, size, strict=True))


def _rounded(values: FloatArray) -> tuple[float, ...]:
    # DICOM DS values carry at most 16 characters; keep origins short and exactly representable.
    return tuple(float(round(float(v), 3)) for v in values)
