"""The gateway's own database: one declarative base for the accounts and audit tables.

The Alembic scripts in this folder are the only owner of the schema; the gateway calls
``upgrade_to_head(settings.database_url, MIGRATIONS)`` at start-up.
"""

from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from radscholar_core.db import NAMING_CONVENTION

MIGRATIONS = Path(__file__).parent


class Base(DeclarativeBase):
    """The base of every gateway table (``accounts.tables``, ``audit.tables``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
