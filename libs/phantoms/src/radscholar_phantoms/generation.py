"""Generate a cohort on disk: DICOM files, ground truth and a manifest.

Layout under the output folder::

    <site_id>/<patient_id>/<YYYYMMDD>_<accession>/<NNN>_<modality>/<NNNN>.dcm
    ground_truth/<series_uid>.json
    ground_truth/<series_uid>_mask.nii.gz
    manifest.json                      written last: its presence means the run completed
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radscholar_phantoms.cohort import Kind, SyntheticCase, build_case, check_kind
from radscholar_phantoms.dicom_files import series_directory, write_series
from radscholar_phantoms.ground_truth import ground_truth_document, ground_truth_paths, mask_nifti_bytes
from radscholar_phantoms.sites import make_sites

GENERATOR_VERSION = "0.1.0"
MANIFEST_SCHEMA = "radscholar-phantoms/manifest/1"
MANIFEST_FILE = "manifest.json"

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with ``done`` cases written so far (``0`` before the first)."""


@dataclass(frozen=True)
class SeriesEntry:
    series_instance_uid: str
    modality: str
    series_number: int
    description: str
    path: str  # folder of the DICOM files, relative to the output folder
    instances: int
    ground_truth: str  # relative path of the JSON document
    mask: str  # relative path of the NIfTI label map
    label: str  # "normal", "benign" or "malignant"
    lesions: tuple[dict[str, Any], ...]  # lesion_id, class, diameter_mm

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "lesions": list(self.lesions)}


@dataclass(frozen=True)
class CaseEntry:
    case_index: int
    site_id: str
    patient_id: str
    patient_name: str
    study_instance_uid: str
    accession_number: str
    study_date: str
    label: str
    series: tuple[SeriesEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "series": [s.to_dict() for s in self.series]}


@dataclass(frozen=True)
class Manifest:
    """What a generation run wrote; ``manifest.json`` in the output folder."""

    kind: str
    cases: int
    sites: int
    seed: int
    version: str = GENERATOR_VERSION
    shape: tuple[int, ...] | None = None
    spacing: tuple[float, ...] | None = None
    site_entries: tuple[dict[str, Any], ...] = ()
    case_entries: tuple[CaseEntry, ...] = ()
    root: Path | None = field(default=None, compare=False)  # the output folder, when known

    @property
    def series(self) -> list[SeriesEntry]:
        return [s for c in self.case_entries for s in c.series]

    def summary(self) -> dict[str, Any]:
        lesions = [lesion for s in self.series for lesion in s.lesions]
        classes = Counter(lesion["class"] for lesion in lesions)
        return {
            "cases": len(self.case_entries),
            "series": len(self.series),
            "instances": sum(s.instances for s in self.series),
            "lesions": len(lesions),
            "benign": classes.get("benign", 0),
            "malignant": classes.get("malignant", 0),
            "cases_by_label": dict(sorted(Counter(c.label for c in self.case_entries).items())),
            "cases_by_site": dict(sorted(Counter(c.site_id for c in self.case_entries).items())),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "generator": {"name": "radscholar-phantoms", "version": self.version},
            "parameters": {
                "kind": self.kind,
                "cases": self.cases,
                "sites": self.sites,
                "seed": self.seed,
                "shape": list(self.shape) if self.shape else None,
                "spacing": list(self.spacing) if self.spacing else None,
            },
            "summary": self.summary(),
            "sites": list(self.site_entries),
            "cases": [c.to_dict() for c in self.case_entries],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], root: Path | None = None) -> Manifest:
        if data.get("schema") != MANIFEST_SCHEMA:
            raise ValueError(f"not a phantom manifest (schema {data.get('schema')!r})")
        p = data["parameters"]
        cases = tuple(
            CaseEntry(
                **{k: v for k, v in c.items() if k != "series"},
                series=tuple(SeriesEntry(**{**s, "lesions": tuple(s["lesions"])}) for s in c["series"]),
            )
            for c in data["cases"]
        )
        return cls(
            kind=p["kind"],
            cases=p["cases"],
            sites=p["sites"],
            seed=p["seed"],
            version=data["generator"]["version"],
            shape=tuple(p["shape"]) if p.get("shape") else None,
            spacing=tuple(p["spacing"]) if p.get("spacing") else None,
            site_entries=tuple(data["sites"]),
            case_entries=cases,
            root=root,
        )

    @classmethod
    def load(cls, out: Path) -> Manifest:
        """Read ``manifest.json`` from an output folder (or the file itself)."""
        path = out / MANIFEST_FILE if out.is_dir() else out
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), root=path.parent)


def write_case(case: SyntheticCase, out: Path) -> CaseEntry:
    """Write one in-memory case (DICOM files, ground-truth JSON and mask) under ``out``."""
    entries = []
    for series in case.series:
        relative = series_directory(case, series)
        paths = write_series(case, series, out / relative)
        json_path, mask_path = ground_truth_paths(series)
        (out / json_path).parent.mkdir(parents=True, exist_ok=True)
        document = ground_truth_document(case, series, relative, GENERATOR_VERSION)
        (out / json_path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        (out / mask_path).write_bytes(mask_nifti_bytes(series))
        entries.append(
            SeriesEntry(
                series_instance_uid=series.series_instance_uid,
                modality=series.image.modality,
                series_number=series.series_number,
                description=series.series_description,
                path=str(relative),
                instances=len(paths),
                ground_truth=str(json_path),
                mask=str(mask_path),
                label=series.image.label,
                lesions=tuple(
                    {
                        "lesion_id": le.lesion_id,
                        "class": le.lesion_class,
                        "diameter_mm": round(le.diameter_mm, 2),
                    }
                    for le in series.image.lesions
                ),
            )
        )
    return CaseEntry(
        case_index=case.case_index,
        site_id=case.site.site_id,
        patient_id=case.patient.patient_id,
        patient_name=case.patient.dicom_name,
        study_instance_uid=case.study_instance_uid,
        accession_number=case.visit.accession_number,
        study_date=case.visit.study_date.isoformat(),
        label=case.label,
        series=tuple(entries),
    )


def generate(
    kind: Kind,
    cases: int,
    sites: int,
    seed: int,
    out: Path,
    progress: ProgressCallback | None = None,
    *,
    shape: tuple[int, ...] | None = None,
    spacing: tuple[float, ...] | None = None,
    overwrite: bool = False,
) -> Manifest:
    """Generate ``cases`` synthetic studies of ``kind`` spread round-robin over ``sites`` sites.

    The same arguments always produce byte-identical files. ``out`` must be empty or absent unless
    ``overwrite`` is set (files are then replaced; nothing is deleted). ``shape`` (numpy order) and
    ``spacing`` override the image size; a shape alone keeps the default field of view.
    """
    check_kind(kind)
    if cases < 1:
        raise ValueError(f"cases must be at least 1, got {cases}")
    if sites < 1:
        raise ValueError(f"sites must be at least 1, got {sites}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"output directory {out} is not empty (pass overwrite=True to write into it)")
    out.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(0, cases)
    entries = []
    for index in range(cases):
        case = build_case(kind, seed=seed, case_index=index, sites=sites, shape=shape, spacing=spacing)
        entries.append(write_case(case, out))
        if progress:
            progress(index + 1, cases)
    manifest = Manifest(
        kind=kind,
        cases=cases,
        sites=sites,
        seed=seed,
        shape=tuple(shape) if shape else None,
        spacing=tuple(spacing) if spacing else None,
        site_entries=tuple(site.to_dict() for site in make_sites(sites)),
        case_entries=tuple(entries),
        root=out,
    )
    (out / MANIFEST_FILE).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return manifest
