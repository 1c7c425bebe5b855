"""The radiomics database schema (SQLAlchemy 2). Alembic migrations in ../migrations own it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from radscholar_core.db import NAMING_CONVENTION, UTCDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PresetRow(Base):
    """A researcher's own extraction settings, next to the built-in presets."""

    __tablename__ = "presets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    settings_yaml: Mapped[str] = mapped_column(Text)
    settings_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
