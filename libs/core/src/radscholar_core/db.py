"""SQLAlchemy 2 and Alembic helpers every service uses; Alembic is the only schema owner.

Each service declares its own base, with constraint names Alembic can find again::

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

Its ``alembic/env.py`` is ``run_migrations(Base.metadata)``, and it migrates at start-up with
``upgrade_to_head(settings.database_url, Path(__file__).parent / "alembic")`` (no alembic.ini).

Database calls block. From ``async def`` run a whole unit of work in a thread, e.g.
``await asyncio.to_thread(add_case, sessions, case)`` where ``add_case`` uses ``transaction(sessions)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, DateTime, Dialect, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def create_engine_for(url: str | URL, *, foreign_keys: bool = True, echo: bool = False) -> Engine:
    """An engine with sane defaults for SQLite (one machine) or PostgreSQL (a cluster).

    ``postgresql://`` URLs use psycopg 3. SQLite gets WAL, enforced foreign keys (``foreign_keys``
    turns them off, for migrations only), connections usable from worker threads, and a created
    parent folder; an in-memory SQLite database is one connection shared by every thread.
    """
    url = make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, echo=echo)
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
    if not in_memory:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **options)
    pragmas = [f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}"]
    if not in_memory:
        pragmas += ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"]

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (they are often returned to a servicer)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls everything back if it raises."""
    with sessions.begin() as session:
        yield session


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores naive text, so we restore UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def alembic_config(url: str | URL, script_location: Path | str) -> Config:
    """An Alembic configuration built in code: no alembic.ini at run time."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    rendered = make_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))  # configparser interpolation
    return config


def upgrade_to_head(url: str | URL, script_location: Path | str) -> None:
    """Applies every migration not yet applied (safe to run at each start-up)."""
    command.upgrade(alembic_config(url, script_location), "head")


def current_revision(url: str | URL) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision(script_location: Path | str) -> str | None:
    """The newest revision among a service's migration scripts (readiness: current == head)."""
    return ScriptDirectory(str(script_location)).get_current_head()


def run_migrations(target_metadata: MetaData | Sequence[MetaData] | None = None) -> None:
    """The body of a service's ``alembic/env.py``: migrates the database at ``sqlalchemy.url``.

    On SQLite, foreign keys are off while migrating (batch migrations copy and drop tables, which
    would otherwise cascade), and autogenerate renders batch operations.
    """
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set; use upgrade_to_head or alembic_config"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(url, foreign_keys=False)
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=sqlite)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
