"""Database helpers on SQLite and PostgreSQL: migrations, units of work, foreign keys, rollback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from radscholar_core.db import (
    NAMING_CONVENTION,
    UTCDateTime,
    create_engine_for,
    current_revision,
    head_revision,
    session_factory,
    transaction,
    upgrade_to_head,
)

MIGRATIONS = Path(__file__).parent / "sample_migrations"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(String(200))


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade_to_head(database_url, MIGRATIONS)
    return database_url


def test_upgrade_to_head_creates_the_schema(database_url: str) -> None:
    assert current_revision(database_url) is None

    upgrade_to_head(database_url, MIGRATIONS)
    upgrade_to_head(database_url, MIGRATIONS)  # a second start-up changes nothing

    engine = create_engine_for(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"patients", "studies", "jobs", "job_logs", "alembic_version"} <= tables
    assert current_revision(database_url) == head_revision(MIGRATIONS) == "0002"


def test_unit_of_work_roundtrip(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    sessions = session_factory(engine)

    with transaction(sessions) as session:
        patient = Patient(pseudonym="P-001")
        session.add(patient)
        session.flush()
        session.add(Study(patient_id=patient.id, description="CT chest"))

    with transaction(sessions) as session:
        found = session.scalars(select(Study).join(Patient).where(Patient.pseudonym == "P-001")).one()
    assert found.description == "CT chest"  # readable after commit
    engine.dispose()


def test_foreign_keys_are_enforced(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)

    with pytest.raises(IntegrityError), transaction(session_factory(engine)) as session:
        session.add(Study(patient_id=999, description="orphan"))

    engine.dispose()


def test_failed_unit_of_work_leaves_nothing_behind(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    sessions = session_factory(engine)

    with pytest.raises(IntegrityError), transaction(sessions) as session:
        session.add(Patient(id=1, pseudonym="P-001"))
        session.flush()
        session.add(Study(patient_id=1, description="MR brain"))
        session.flush()
        session.add(Patient(id=2, pseudonym="P-001"))  # duplicate pseudonym: the whole unit fails

    with transaction(sessions) as session:
        assert session.scalars(select(Patient)).all() == []
        assert session.scalars(select(Study)).all() == []
    engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'var' / 'labeling.db'}")

    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "var" / "labeling.db").exists()
    engine.dispose()


async def test_in_memory_sqlite_is_shared_across_threads() -> None:
    engine = create_engine_for("sqlite://")

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))

    def read() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM t")).scalar_one())

    await asyncio.to_thread(write)
    assert await asyncio.to_thread(read) == 1
    engine.dispose()


def test_postgresql_urls_use_psycopg() -> None:
    engine = create_engine_for("postgresql://someone@127.0.0.1:1/nowhere")

    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"


def test_utc_datetimes_roundtrip(database_url: str) -> None:
    metadata = MetaData()
    events = Table("events", metadata, Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    engine = create_engine_for(database_url)
    metadata.create_all(engine)
    cet = timezone(timedelta(hours=1))
    at = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=cet)

    with engine.begin() as connection:
        connection.execute(events.insert().values(id=1, at=at))
        stored = connection.execute(select(events.c.at)).scalar_one()
        later = connection.execute(select(events.c.id).where(events.c.at > at - timedelta(seconds=1))).all()

    assert stored == at and stored.tzinfo == UTC
    assert len(later) == 1
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as connection:
        connection.execute(events.insert().values(id=2, at=datetime(2024, 1, 1)))
    engine.dispose()
