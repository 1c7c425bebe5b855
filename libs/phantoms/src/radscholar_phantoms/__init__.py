"""radscholar_phantoms: synthetic DICOM studies with ground truth, deterministic by seed.

Public API:

* :func:`generate` writes a cohort (DICOM files, ground-truth JSON, NIfTI masks, ``manifest.json``);
* :func:`build_case` builds one case in memory (no files) - pixels, geometry, label map, lesions;
* :func:`write_case` writes one in-memory case;
* :class:`Manifest` reads back what a run wrote.

See README.md for the output layout, the ground-truth schema and the lesion class rules.
"""

from radscholar_phantoms.cohort import KINDS, Kind, SyntheticCase, SyntheticSeries, build_case
from radscholar_phantoms.generation import (
    GENERATOR_VERSION,
    CaseEntry,
    Manifest,
    ProgressCallback,
    SeriesEntry,
    generate,
    write_case,
)
from radscholar_phantoms.geometry import Geometry
from radscholar_phantoms.images import CT_TISSUES, MR_TISSUES, PhantomImage
from radscholar_phantoms.lesions import Lesion
from radscholar_phantoms.sites import Site, make_sites

__version__ = GENERATOR_VERSION

__all__ = [
    "CT_TISSUES",
    "GENERATOR_VERSION",
    "KINDS",
    "MR_TISSUES",
    "CaseEntry",
    "Geometry",
    "Kind",
    "Lesion",
    "Manifest",
    "PhantomImage",
    "ProgressCallback",
    "SeriesEntry",
    "Site",
    "SyntheticCase",
    "SyntheticSeries",
    "__version__",
    "build_case",
    "generate",
    "make_sites",
    "write_case",
]
