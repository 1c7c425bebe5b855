"""Shared, generated-once cohorts for the phantom tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from radscholar_phantoms import Manifest, generate


@dataclass(frozen=True)
class Cohort:
    manifest: Manifest
    out: Path
    seed: int
    sites: int


@pytest.fixture(scope="session")
def ct_cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    """A small CT cohort at the default size (128 x 128 x 64, 0.7 x 0.7 x 2.5 mm)."""
    out = tmp_path_factory.mktemp("ct") / "cohort"
    return Cohort(generate("ct", 4, 2, 11, out), out, seed=11, sites=2)
