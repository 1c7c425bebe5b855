"""Inter-reader agreement for double reading: kappa for class labels, IoU for boxes, Dice for masks.

Chance-corrected statistics follow the published definitions (Cohen 1960; Fleiss 1971) so that the
numbers can be reported as they are. One rule departs from the reference implementations: when every
rating is one and the same class, expected agreement is 1 and kappa is 0/0; we return 1.0 (the
readers agreed on every case) rather than NaN.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from radscholar_core.errors import InvalidArgument

# (mins, maxs): 2 or 3 continuous voxel-corner coordinates (x, y[, z]); max > min on every axis.
Box = tuple[tuple[float, ...], tuple[float, ...]]
Reading = TypeVar("Reading")


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Unweighted Cohen's kappa of two readers who each gave one class per case, in the same order.

    Returns 1.0 when both readers used one and the same class for every case (see the module note).
    """
    if len(first) != len(second):
        raise InvalidArgument(
            f"the readers rated different numbers of cases ({len(first)} and {len(second)})",
            reason="MISMATCHED_RATINGS",
        )
    cases = len(first)
    if cases < 2:
        raise InvalidArgument(f"kappa needs at least 2 cases, got {cases}", reason="TOO_FEW_CASES")
    if len(set(first) | set(second)) == 1:
        return 1.0
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / cases
    first_counts, second_counts = Counter(first), Counter(second)
    expected = sum(first_counts[label] * second_counts[label] for label in first_counts) / cases**2
    return (observed - expected) / (1 - expected)


def fleiss_kappa(ratings: Sequence[Sequence[str]]) -> float:
    """Fleiss' kappa: one row per case holding the classes its readers gave; every row has the same number (>= 2).

    Needs at least 2 cases, like ``cohen_kappa``. Returns 1.0 when every rating is the same class.
    """
    if len(ratings) < 2:
        raise InvalidArgument(f"kappa needs at least 2 cases, got {len(ratings)}", reason="TOO_FEW_CASES")
    readers = len(ratings[0])
    if readers < 2 or any(len(row) != readers for row in ratings):
        raise InvalidArgument(
            "every case must be rated by the same number (at least 2) of readers; "
            f"got {sorted({len(row) for row in ratings})}",
            reason="UNEQUAL_RATERS",
        )
    case_counts = [Counter(row) for row in ratings]
    totals: Counter[str] = sum(case_counts, Counter())
    if len(totals) == 1:
        return 1.0
    observed = sum(
        (sum(n * n for n in counts.values()) - readers) / (readers * (readers - 1)) for counts in case_counts
    ) / len(ratings)
    expected = sum((n / (len(ratings) * readers)) ** 2 for n in totals.values())
    return (observed - expected) / (1 - expected)


def _dimensions(box: Box) -> int:
    mins, maxs = box
    if len(mins) != len(maxs) or len(mins) not in (2, 3) or not all(hi > lo for lo, hi in zip(mins, maxs, strict=True)):
        raise InvalidArgument(
            f"a box is (mins, maxs) with 2 or 3 coordinates each and max > min on every axis, got {box}",
            reason="INVALID_BOX",
        )
    return len(mins)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two axis-aligned boxes of the same dimensionality (2D or 3D)."""
    if (a_dimensions := _dimensions(a)) != (b_dimensions := _dimensions(b)):
        raise InvalidArgument(
            f"cannot compare a {a_dimensions}D box with a {b_dimensions}D box", reason="BOX_DIMENSION_MISMATCH"
        )
    (a_mins, a_maxs), (b_mins, b_maxs) = a, b
    overlap = math.prod(
        max(0.0, min(a_hi, b_hi) - max(a_lo, b_lo))
        for a_lo, a_hi, b_lo, b_hi in zip(a_mins, a_maxs, b_mins, b_maxs, strict=True)
    )
    a_volume = math.prod(hi - lo for lo, hi in zip(a_mins, a_maxs, strict=True))
    b_volume = math.prod(hi - lo for lo, hi in zip(b_mins, b_maxs, strict=True))
    return overlap / (a_volume + b_volume - overlap)


def match_boxes(first: Sequence[Box], second: Sequence[Box]) -> list[tuple[int | None, int | None, float]]:
    """Pair the two readers' boxes one-to-one so that total IoU is largest; boxes that overlap nothing are unmatched.

    Returns (index in first, index in second, IoU): matched pairs in order of ``first``, then the
    unmatched boxes of ``first`` and of ``second`` with None on the other side and IoU 0.
    """
    ious = np.array([[box_iou(a, b) for b in second] for a in first]).reshape(len(first), len(second))
    rows, columns = linear_sum_assignment(ious, maximize=True)
    matched = [(int(i), int(j), float(ious[i, j])) for i, j in zip(rows, columns, strict=True) if ious[i, j] > 0]
    matched_first = {i for i, _, _ in matched}
    matched_second = {j for _, j, _ in matched}
    return [
        *matched,
        *((i, None, 0.0) for i in range(len(first)) if i not in matched_first),
        *((None, j, 0.0) for j in range(len(second)) if j not in matched_second),
    ]


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int]:
    """Foreground (non-zero) voxels of a, of b, and of both; the masks must have the same shape."""
    if a.shape != b.shape:
        raise InvalidArgument(f"masks differ in shape: {a.shape} and {b.shape}", reason="MASK_SHAPE_MISMATCH")
    a, b = a != 0, b != 0
    return int(a.sum()), int(b.sum()), int((a & b).sum())


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two binary masks (non-zero is foreground); 1.0 when both are empty."""
    a_count, b_count, both = _overlap(a, b)
    return 1.0 if a_count + b_count == 0 else 2 * both / (a_count + b_count)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard index of two binary masks (non-zero is foreground); 1.0 when both are empty."""
    a_count, b_count, both = _overlap(a, b)
    return 1.0 if a_count + b_count == 0 else both / (a_count + b_count - both)


@dataclass(frozen=True)
class CaseAgreement:
    """How well the readers of one case agreed: ``score`` runs from 0 to 1 (perfect agreement)."""

    case_id: str
    kind: str  # "class", "boxes" or "mask"
    score: float
    detail: str  # short human-readable reason, e.g. "A: nodule, B: normal"


def _two_readers(case_id: str, readings: Mapping[str, Reading]) -> tuple[Reading, Reading]:
    """What the two readers of a case drew, ordered by reader name."""
    if len(readings) != 2:
        raise InvalidArgument(
            f"case {case_id} needs exactly two readers, got {len(readings)}", reason="NEEDS_TWO_READERS"
        )
    first, second = (readings[reader] for reader in sorted(readings))
    return first, second


def case_class_agreement(case_id: str, labels: Mapping[str, str]) -> CaseAgreement:
    """1 when all readers (at least two) gave the case the same class, else 0."""
    if len(labels) < 2:
        raise InvalidArgument(
            f"case {case_id} needs at least two readers, got {len(labels)}", reason="NEEDS_TWO_READERS"
        )
    detail = ", ".join(f"{reader}: {label}" for reader, label in sorted(labels.items()))
    return CaseAgreement(case_id, "class", float(len(set(labels.values())) == 1), detail)


def case_box_agreement(case_id: str, boxes: Mapping[str, Sequence[Box]]) -> CaseAgreement:
    """Mean IoU over matched and unmatched boxes of two readers; 1 when neither drew a box."""
    first, second = _two_readers(case_id, boxes)
    pairs = match_boxes(first, second)
    score = sum(iou for _, _, iou in pairs) / len(pairs) if pairs else 1.0
    noun = "box" if len(first) == 1 else "boxes"
    return CaseAgreement(case_id, "boxes", score, f"{len(first)} {noun} vs {len(second)}, mean IoU {score:.2f}")


def case_mask_agreement(case_id: str, masks: Mapping[str, np.ndarray]) -> CaseAgreement:
    """Mean Dice over the labels in either of two readers' label maps (0 is background); 1 when both are empty."""
    first, second = _two_readers(case_id, masks)
    if first.shape != second.shape:
        raise InvalidArgument(f"masks differ in shape: {first.shape} and {second.shape}", reason="MASK_SHAPE_MISMATCH")
    if not all(np.issubdtype(mask.dtype, np.integer) or mask.dtype == np.bool_ for mask in (first, second)):
        raise InvalidArgument(
            f"masks must be integer label maps, got {first.dtype} and {second.dtype}", reason="MASK_NOT_LABEL_MAP"
        )
    labels = [int(label) for label in np.union1d(np.unique(first), np.unique(second)) if label != 0]
    if not labels:
        return CaseAgreement(case_id, "mask", 1.0, "both masks empty")
    scores = {label: dice(first == label, second == label) for label in labels}
    score = sum(scores.values()) / len(scores)
    detail = "Dice " + ", ".join(f"label {label}: {value:.2f}" for label, value in scores.items())
    return CaseAgreement(case_id, "mask", score, detail)


def largest_disagreements(cases: Iterable[CaseAgreement], limit: int = 20) -> list[CaseAgreement]:
    """The ``limit`` cases the readers agreed on least: lowest score first, ties by case id."""
    if limit < 0:
        raise InvalidArgument(f"limit must not be negative, got {limit}", reason="INVALID_LIMIT")
    return sorted(cases, key=lambda case: (case.score, case.case_id))[:limit]
