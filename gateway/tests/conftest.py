"""Fixtures of the gateway tests: a migrated gateway database on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.testing import (
    DEFAULT_POSTGRES_ADMIN_URL,
    postgres_available,
    temporary_postgres_database,
)
from radscholar_gateway.migrations import MIGRATIONS

POSTGRES_ADMIN_URL = os.environ.get("RADSCHOLAR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each supported kind: a SQLite file, then a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    if not postgres_available(POSTGRES_ADMIN_URL):
        pytest.fail(
            f"PostgreSQL, the production database, is required: none at {POSTGRES_ADMIN_URL} "
            "(set RADSCHOLAR_TEST_POSTGRES_URL)"
        )
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        yield url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """The database, upgraded to the gateway's newest schema."""
    upgrade_to_head(database_url, MIGRATIONS)
    return database_url


@pytest.fixture
def sessions(migrated_url: str) -> Iterator[sessionmaker[Session]]:
    engine = create_engine_for(migrated_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
