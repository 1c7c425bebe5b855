"""One case of a cohort in memory: site, patient, study, series and UIDs around a phantom image.

Every case depends only on ``(kind, seed, case_index, sites)`` (plus optional size overrides), so any
case can be rebuilt alone, in any order or in parallel, and always comes out the same.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from radscholar_phantoms.ct import build_ct_image
from radscholar_phantoms.images import PhantomImage
from radscholar_phantoms.lesions import LESION_CLASSES, LesionClass
from radscholar_phantoms.mammogram import build_mg_image
from radscholar_phantoms.mr import build_mr_image
from radscholar_phantoms.patients import Patient, Visit, make_patient, make_visit, study_date
from radscholar_phantoms.radiograph import build_dx_image
from radscholar_phantoms.sites import Site, make_sites
from radscholar_phantoms.uids import phantom_uid

Kind = Literal["ct", "dx", "mg", "mr"]
KINDS: tuple[str, ...] = get_args(Kind)
_KIND_CODE = {"ct": 1, "dx": 2, "mg": 3, "mr": 4}


@dataclass(frozen=True)
class _KindSpec:
    builder: Callable[..., PhantomImage]
    ndim: int
    study_description: str
    series_description: Callable[[PhantomImage, Site], str]
    protocol: str
    body_part: str
    age_range: tuple[int, int]
    lesion_count: tuple[int, int]  # per case, inclusive
    sex: str | None = None


_SPECS: dict[str, _KindSpec] = {
    "ct": _KindSpec(
        build_ct_image,
        3,
        "CT CHEST WITHOUT CONTRAST",
        lambda image, site: f"Chest Axial {image.geometry.spacing[2]:g}mm {site.ct_kernel}",
        "Chest Routine",
        "CHEST",
        (40, 85),
        (0, 3),
    ),
    "dx": _KindSpec(
        build_dx_image,
        2,
        "XR CHEST PA",
        lambda image, site: "Chest PA",
        "Chest PA",
        "CHEST",
        (20, 85),
        (0, 2),
    ),
    "mg": _KindSpec(
        build_mg_image,
        2,
        "MAMMOGRAPHY SCREENING",
        lambda image, site: f"{image.acquisition['laterality']} {image.acquisition['view_position']}",
        "Screening Mammography",
        "BREAST",
        (40, 75),
        (0, 2),
        "F",
    ),
    "mr": _KindSpec(
        build_mr_image,
        3,
        "MRI BRAIN WITHOUT CONTRAST",
        lambda image, site: "T1 MPRAGE SAG",
        "t1_mprage_sag",
        "HEAD",
        (20, 80),
        (1, 1),
    ),
}


@dataclass(frozen=True)
class SyntheticSeries:
    """A phantom image with the identifiers of the DICOM series that carries it."""

    image: PhantomImage
    series_instance_uid: str
    series_number: int
    series_description: str
    protocol_name: str
    body_part: str
    frame_of_reference_uid: str | None  # 3D series only
    instance_uids: tuple[str, ...]  # one per slice (3D) or a single one (2D)
    series_time: dt.time


@dataclass(frozen=True)
class SyntheticCase:
    """One patient with one study, in memory; nothing is written."""

    kind: Kind
    seed: int
    case_index: int
    site: Site
    patient: Patient
    visit: Visit
    study_instance_uid: str
    study_description: str
    series: tuple[SyntheticSeries, ...]

    @property
    def label(self) -> str:
        """Case label: "malignant" if any lesion is, "benign" if there are lesions, else "normal"."""
        labels = {s.image.label for s in self.series}
        for label in ("malignant", "benign"):
            if label in labels:
                return label
        return "normal"


def check_kind(kind: str) -> Kind:
    if kind not in _SPECS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind  # type: ignore[return-value]


def _rng(seed: int, kind: str, case_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_KIND_CODE[kind], case_index, stream)))


def build_case(
    kind: Kind,
    *,
    seed: int,
    case_index: int,
    sites: int = 1,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    lesion_classes: Sequence[str] | None = None,
) -> SyntheticCase:
    """Build case ``case_index`` of a ``(kind, seed, sites)`` cohort in memory.

    ``shape`` is in numpy order (``(slices, rows, columns)`` or ``(rows, columns)``); without
    ``spacing`` the default field of view is kept. ``lesion_classes`` forces the lesions, e.g.
    ``["benign", "malignant"]``, instead of drawing them.

    Lesion counts are drawn per case; classes follow a block-randomised plan over the cohort's
    lesions (each block of four holds two of each class), so every cohort is close to balanced.
    """
    spec = _SPECS[check_kind(kind)]
    if seed < 0 or case_index < 0:
        raise ValueError("seed and case_index must be non-negative")
    if shape is not None and len(shape) != spec.ndim:
        raise ValueError(f"{kind} images are {spec.ndim}D: shape needs {spec.ndim} values, got {shape}")
    if spacing is not None and len(spacing) != spec.ndim:
        raise ValueError(f"{kind} images are {spec.ndim}D: spacing needs {spec.ndim} values, got {spacing}")
    if shape is not None and min(shape) < 8:
        raise ValueError(f"shape {shape} is too small (at least 8 in every dimension)")
    site = make_sites(sites)[case_index % sites]
    if lesion_classes is None:
        lesion_classes = lesion_plan(kind, seed, case_index)
    image = spec.builder(
        _rng(seed, kind, case_index, 0), site, shape=shape, spacing=spacing, lesion_classes=lesion_classes
    )
    identity = _rng(seed, kind, case_index, 1)
    date = study_date(identity)
    patient = make_patient(
        identity, seed, kind, case_index, site, sex=spec.sex, age_range=spec.age_range, study_date=date
    )
    visit = make_visit(identity, date, seed, kind, case_index)
    uid = _uids(seed, kind, case_index)
    n_instances = image.geometry.size[2] if image.geometry.ndim == 3 else 1
    series_start = (dt.datetime.combine(date, visit.study_time) + dt.timedelta(minutes=3)).time()
    series = SyntheticSeries(
        image=image,
        series_instance_uid=uid("series", 1),
        series_number=1,
        series_description=spec.series_description(image, site),
        protocol_name=spec.protocol,
        body_part=spec.body_part,
        frame_of_reference_uid=uid("frame", 1) if image.geometry.ndim == 3 else None,
        instance_uids=tuple(uid("instance", 1, n) for n in range(n_instances)),
        series_time=series_start.replace(microsecond=0),
    )
    return SyntheticCase(
        kind=kind,
        seed=seed,
        case_index=case_index,
        site=site,
        patient=patient,
        visit=visit,
        study_instance_uid=uid("study"),
        study_description=spec.study_description,
        series=(series,),
    )


def lesion_plan(kind: Kind, seed: int, case_index: int) -> list[LesionClass]:
    """The lesion classes of one case of a cohort (see :func:`build_case`)."""
    low, high = _SPECS[check_kind(kind)].lesion_count
    counts = _lesion_counts(seed, kind, low, high)
    while len(counts) <= case_index:
        counts.append(int(_rng(seed, kind, len(counts), 2).integers(low, high + 1)))
    first = sum(counts[:case_index])
    return [_planned_class(seed, kind, n) for n in range(first, first + counts[case_index])]


@functools.lru_cache(maxsize=32)
def _lesion_counts(seed: int, kind: str, low: int, high: int) -> list[int]:
    """Lesion count of each case of one cohort, in case order; grown on demand by lesion_plan."""
    return []


def _planned_class(seed: int, kind: str, lesion_number: int) -> LesionClass:
    block, position = divmod(lesion_number, 4)
    order = _rng(seed, kind, block, 3).permutation([0, 0, 1, 1])
    return LESION_CLASSES[int(order[position])]


def _uids(seed: int, kind: str, case_index: int) -> Callable[..., str]:
    def uid(*role: Any) -> str:
        return phantom_uid(seed, kind, case_index, *role)

    return uid
