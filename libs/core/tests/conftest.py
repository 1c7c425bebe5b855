"""Fixtures for the object store, database and job tests: an S3 endpoint and PostgreSQL databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from radscholar_core.testing import (
    DEFAULT_POSTGRES_ADMIN_URL,
    moto_server,
    postgres_available,
    temporary_postgres_database,
)

POSTGRES_ADMIN_URL = os.environ.get("RADSCHOLAR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``host:port`` of a moto S3 server shared by the session (each test uses its own bucket)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not postgres_available(POSTGRES_ADMIN_URL):
        pytest.fail(
            f"PostgreSQL, the production database, is required: none at {POSTGRES_ADMIN_URL} "
            "(set RADSCHOLAR_TEST_POSTGRES_URL)"
        )
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """URL of an empty PostgreSQL database that is dropped after the test."""
    with temporary_postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each supported kind: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers (pointing at a captured stdout in tests): put them back."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
