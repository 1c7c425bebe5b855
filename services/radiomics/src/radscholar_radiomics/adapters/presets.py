"""Researchers' own presets kept in SQL (SQLite on one machine, PostgreSQL in a cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.errors import AlreadyExists, NotFound
from radscholar_radiomics.adapters.tables import PresetRow
from radscholar_radiomics.domain.settings import Preset


def _preset(row: PresetRow) -> Preset:
    return Preset(
        row.id, row.display_name, row.description, row.settings_yaml, built_in=False, created_by=row.created_by
    )


class SqlPresets:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, preset: Preset, settings_hash: str) -> Preset:
        row = PresetRow(
            id=preset.id,
            display_name=preset.display_name,
            description=preset.description,
            settings_yaml=preset.settings_yaml,
            settings_hash=settings_hash,
            created_by=preset.created_by,
            created_at=datetime.now(UTC),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"a preset '{preset.id}' exists already", reason="PRESET_EXISTS") from None
        return _preset(row)

    def get(self, preset_id: str) -> Preset | None:
        with self._sessions() as session:
            row = session.get(PresetRow, preset_id)
            return _preset(row) if row is not None else None

    def list(self) -> list[Preset]:
        with self._sessions() as session:
            return [_preset(row) for row in session.scalars(select(PresetRow).order_by(PresetRow.id))]

    def delete(self, preset_id: str) -> Preset:
        with self._sessions.begin() as session:
            row = session.get(PresetRow, preset_id)
            if row is None:
                raise NotFound(f"no saved preset '{preset_id}'", reason="PRESET_NOT_FOUND")
            session.delete(row)
            return _preset(row)
