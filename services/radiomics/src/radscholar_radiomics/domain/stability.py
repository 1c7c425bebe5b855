"""Feature robustness: the same region drawn slightly differently, and the ICC that says which features hold.

``perturbed_masks`` makes the variants of one region (eroded, dilated, shifted by whole voxels);
``perturbation_stability`` extracts features on each. A batch job collects these over many regions into
``tables[rater][target][feature]`` (raters: perturbations or annotators; targets: regions or cases), and
``feature_icc`` gives each feature's intraclass correlation; ``stable_features`` keeps those above a threshold.

The ICCs are Shrout & Fleiss (1979)'s single-measure forms, in McGraw & Wong (1996)'s words:

- ``ICC(1,1)``: one-way random effects, absolute agreement;
- ``ICC(2,1)``: two-way random effects, absolute agreement (a rater's offset counts against agreement);
- ``ICC(3,1)``: two-way mixed effects, consistency (a rater's constant offset does not count).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import SimpleITK as sitk

from radscholar_core.errors import InvalidArgument
from radscholar_radiomics.domain.extraction import extract
from radscholar_radiomics.domain.settings import ExtractionSettings

ICC_KINDS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)")

# A perturbation that fails with one of these lost what made the region extractable; the others still count.
_PERTURBATION_FAILURES = frozenset({"TOO_FEW_VOXELS", "EMPTY_MASK", "UNKNOWN_LABEL", "MASK_OUTSIDE_IMAGE"})


def perturbed_masks(
    mask: sitk.Image,
    label: int = 1,
    *,
    shifts_voxels: Sequence[tuple[int, ...]] | None = None,
    erode: int | Sequence[int] = 1,
    dilate: int | Sequence[int] = 1,
) -> dict[str, sitk.Image]:
    """Named variants of the region ``mask == label``, each a mask on ``mask``'s grid (``label`` inside, 0 elsewhere).

    ``"original"`` is the region itself; ``"erode{r}"`` and ``"dilate{r}"`` take off or add a ball of radius ``r``
    voxels (0 leaves that variant out). The ball is in voxels, not millimetres, so it is as anisotropic as the grid:
    on thick-slice CT one voxel in z is several in-plane, and radii per (x, y, z) axis, such as ``(1, 1, 0)``
    (named ``"erode[1,1,0]"``), erode or dilate in-plane only;
    ``"shift+x1"``, ``"shift-z1"``, ``"shift+x1-y2"`` ... move the region by whole voxels along SimpleITK's (x, y, z)
    index axes, by default one voxel either way along each axis. Other labels in ``mask`` are left out.

    A variant with no voxel left (an erosion of a region thinner than the ball, a shift of a one-voxel-thick
    region off the image) is dropped, not an error. Voxels shifted past the image's edge are lost, not wrapped
    around, so a region at the edge loses voxels when shifted outward. Erosion treats the outside of the image as
    region (SimpleITK's default), so a region cut off by the field of view is not eroded from that side.
    """
    if label < 1:
        raise InvalidArgument(f"label must be a positive integer, got {label}", reason="INVALID_LABEL")
    if mask.GetNumberOfComponentsPerPixel() != 1:
        raise InvalidArgument("the mask must have one value per voxel, not a vector", reason="INVALID_MASK")
    dimension = mask.GetDimension()
    if dimension not in (2, 3):
        raise InvalidArgument(f"the mask must be 2D or 3D, got {dimension}D", reason="INVALID_MASK")
    erode_radii, dilate_radii = _radii(erode, dimension), _radii(dilate, dimension)
    if shifts_voxels is None:
        shifts_voxels = [
            tuple(sign if axis == moved else 0 for axis in range(dimension))
            for sign in (1, -1)
            for moved in range(dimension)
        ]
    for shift in shifts_voxels:
        if len(shift) != dimension or not any(shift):
            raise InvalidArgument(
                f"a shift is a non-zero whole number of voxels along each of the mask's {dimension} axes,"
                f" got {tuple(shift)}",
                reason="INVALID_PERTURBATION",
            )
    region = sitk.GetArrayViewFromImage(mask) == label
    if not region.any():
        raise InvalidArgument(
            f"label {label} is not in the mask", reason="UNKNOWN_LABEL", details={"label": str(label)}
        )

    pixel_type = sitk.sitkUInt8 if label <= 0xFF else sitk.sitkUInt16 if label <= 0xFFFF else sitk.sitkUInt32
    original = _region_image(region, mask, label, pixel_type)
    variants: dict[str, sitk.Image] = {"original": original}
    if any(erode_radii):
        variants[f"erode{_radius_name(erode_radii)}"] = sitk.BinaryErode(
            original, erode_radii, sitk.sitkBall, backgroundValue=0, foregroundValue=label
        )
    if any(dilate_radii):
        variants[f"dilate{_radius_name(dilate_radii)}"] = sitk.BinaryDilate(
            original, dilate_radii, sitk.sitkBall, backgroundValue=0, foregroundValue=label
        )
    for shift in shifts_voxels:
        name = "shift" + "".join(
            f"{'+' if step > 0 else '-'}{axis}{abs(step)}" for axis, step in zip("xyz", shift, strict=False) if step
        )
        variants[name] = _region_image(_shifted(region, shift), mask, label, pixel_type)
    return {name: variant for name, variant in variants.items() if _voxels(variant, label)}


def icc(ratings: np.ndarray, kind: str = "ICC(3,1)") -> float:
    """The single-measure intraclass correlation of ``ratings`` (targets in rows, raters in columns).

    From the two-way ANOVA mean squares (rows, columns, residual; within-target for ``ICC(1,1)``), as in
    Shrout & Fleiss (1979). When the ratings leave nothing to compare, the ICC (0 / 0) is taken as 1.0, perfect
    agreement: every rating equal, or, for ``ICC(3,1)`` which ignores raters' offsets, every rater constant
    (each target rated alike). Missing ratings (NaN) are refused, not imputed: drop those targets first.
    """
    if kind not in ICC_KINDS:
        raise InvalidArgument(
            f"unknown ICC kind '{kind}'; expected one of {', '.join(ICC_KINDS)}",
            reason="UNKNOWN_ICC_KIND",
            details={"kind": kind},
        )
    table = np.asarray(ratings, dtype=float)
    if table.ndim != 2:
        raise InvalidArgument(
            f"ratings must be a table of targets x raters, got {table.ndim} dimension(s)", reason="INVALID_RATINGS"
        )
    n, k = table.shape
    if n < 2 or k < 2:
        raise InvalidArgument(
            f"an ICC needs at least 2 targets and 2 raters, got {n} x {k}",
            reason="TOO_FEW_RATINGS",
            details={"targets": str(n), "raters": str(k)},
        )
    missing = np.isnan(table).any(axis=1)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise InvalidArgument(
            f"{rows.size} target(s) have missing ratings (rows {', '.join(map(str, rows[:10].tolist()))}"
            f"{', ...' if rows.size > 10 else ''}); drop them first",
            reason="MISSING_RATINGS",
            details={"rows": ",".join(map(str, rows.tolist()))},
        )
    if not np.isfinite(table).all():
        raise InvalidArgument("ratings must be finite numbers", reason="INVALID_RATINGS")
    if np.all(table == table[0, 0]) or (kind == "ICC(3,1)" and np.all(table == table[0])):
        return 1.0

    grand = table.mean()
    ss_rows = k * float(np.sum((table.mean(axis=1) - grand) ** 2))
    ss_columns = n * float(np.sum((table.mean(axis=0) - grand) ** 2))
    ss_total = float(np.sum((table - grand) ** 2))
    ss_error = max(ss_total - ss_rows - ss_columns, 0.0)
    ms_rows = ss_rows / (n - 1)
    ms_columns = ss_columns / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    ms_within = (ss_columns + ss_error) / (n * (k - 1))
    if kind == "ICC(1,1)":
        return (ms_rows - ms_within) / (ms_rows + (k - 1) * ms_within)
    if kind == "ICC(2,1)":
        return (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_columns - ms_error) / n)
    return (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)


def feature_icc(tables: Mapping[str, Mapping[str, Mapping[str, float]]], kind: str = "ICC(3,1)") -> dict[str, float]:
    """Each feature's ICC from ``tables[rater][target][feature]``, over the targets that every rater rated.

    A target that some rater lacks (a perturbation that failed on it) is left out for all features. A feature
    without a finite value for every rater on every remaining target is skipped: it is not in the result.
    Fewer than 2 raters or 2 common targets is ``TOO_FEW_RATINGS``.
    """
    raters = sorted(tables)
    targets = sorted(set.intersection(*(set(tables[rater]) for rater in raters))) if raters else []
    if len(raters) < 2 or len(targets) < 2:
        raise InvalidArgument(
            f"an ICC needs at least 2 raters and 2 targets rated by all of them, got {len(raters)} rater(s)"
            f" and {len(targets)} common target(s)",
            reason="TOO_FEW_RATINGS",
            details={"raters": str(len(raters)), "targets": str(len(targets))},
        )
    features = sorted(set().union(*(tables[rater][target] for rater in raters for target in targets)))
    result: dict[str, float] = {}
    for feature in features:
        values = [[tables[rater][target].get(feature, np.nan) for rater in raters] for target in targets]
        table = np.asarray(values, dtype=float)
        if np.isfinite(table).all():
            result[feature] = icc(table, kind)
    return result


def stable_features(iccs: Mapping[str, float], threshold: float = 0.75) -> list[str]:
    """The features whose ICC is at least ``threshold`` (0.75: "good" reliability, Koo & Li 2016), sorted by name."""
    if not 0.0 <= threshold <= 1.0:
        raise InvalidArgument(
            f"the ICC threshold must lie in [0, 1], got {threshold}",
            reason="INVALID_THRESHOLD",
            details={"threshold": str(threshold)},
        )
    return sorted(feature for feature, value in iccs.items() if value >= threshold)


def perturbation_stability(
    image: sitk.Image,
    mask: sitk.Image,
    settings: ExtractionSettings,
    *,
    label: int = 1,
    shifts_voxels: Sequence[tuple[int, ...]] | None = None,
    erode: int | Sequence[int] = 1,
    dilate: int | Sequence[int] = 1,
) -> dict[str, dict[str, float]]:
    """The features of every variant of one region (``perturbed_masks``), keyed by variant, then feature.

    Blocking, one extraction per variant. A variant that fails because it lost the region (too few voxels after
    resampling, outside the image) is dropped and the rest kept; a failure of the original region itself is
    raised, as ``extract`` would.
    """
    variants = perturbed_masks(mask, label, shifts_voxels=shifts_voxels, erode=erode, dilate=dilate)
    features = {"original": extract(image, variants.pop("original"), settings, label=label)}
    for name, variant in variants.items():
        try:
            features[name] = extract(image, variant, settings, label=label)
        except InvalidArgument as error:
            if error.reason not in _PERTURBATION_FAILURES:
                raise
    return features


def _radii(radius: int | Sequence[int], dimension: int) -> list[int]:
    radii = [radius] * dimension if isinstance(radius, int) else [int(r) for r in radius]
    if len(radii) != dimension or min(radii) < 0:
        raise InvalidArgument(
            f"erode and dilate are radii in voxels, at least 0: one number, or one per each of the mask's"
            f" {dimension} axes; got {radius}",
            reason="INVALID_PERTURBATION",
        )
    return radii


def _radius_name(radii: list[int]) -> str:
    return str(radii[0]) if len(set(radii)) == 1 else "[" + ",".join(map(str, radii)) + "]"


def _region_image(region: np.ndarray, mask: sitk.Image, label: int, pixel_type: int) -> sitk.Image:
    image = sitk.Cast(sitk.GetImageFromArray(region.astype(np.uint8)), pixel_type) * label
    image.CopyInformation(mask)
    return image


def _shifted(region: np.ndarray, shift: Sequence[int]) -> np.ndarray:
    """``region`` moved by ``shift`` voxels along (x, y, z), filled with background where it moved from."""
    moved = np.zeros_like(region)
    target, source = [], []
    for step, size in zip(reversed(list(shift)), region.shape, strict=True):  # numpy's axes are (z, y, x)
        target.append(slice(step, size) if step >= 0 else slice(0, max(size + step, 0)))
        source.append(slice(0, max(size - step, 0)) if step >= 0 else slice(-step, size))
    moved[tuple(target)] = region[tuple(source)]
    return moved


def _voxels(mask: sitk.Image, label: int) -> int:
    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == label))
