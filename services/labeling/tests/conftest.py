"""The labeling service's tests run on SQLite (one machine) and on PostgreSQL (a cluster)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from radscholar_core.testing import postgres_available, temporary_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/labeling.db"
        return
    if not postgres_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required (the production database)")
    with temporary_postgres_database() as url:
        yield url
