"""Projects kept in SQL (SQLite on one machine, PostgreSQL in a cluster)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.errors import AlreadyExists, NotFound
from radscholar_labeling.adapters.tables import ProjectRow
from radscholar_labeling.domain.projects import (
    Dimensionality,
    LabelClass,
    LabelLevel,
    LabelSchema,
    NewProject,
    Project,
    TaskType,
)


def schema_json(schema: LabelSchema) -> str:
    classes = [{"name": c.name, "color": c.color} for c in schema.classes]
    return json.dumps({"classes": classes, "level": schema.level.value, "multi_label": schema.multi_label})


def schema_of(text: str) -> LabelSchema:
    data = json.loads(text)
    return LabelSchema(
        classes=tuple(LabelClass(c["name"], c["color"]) for c in data.get("classes", [])),
        level=LabelLevel(data.get("level", "case")),
        multi_label=bool(data.get("multi_label", False)),
    )


def project_of(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        modality=row.modality,
        task_type=TaskType(row.task_type),
        dimensionality=Dimensionality(row.dimensionality),
        label_schema=schema_of(row.label_schema),
        sites=tuple(json.loads(row.sites)),
        created_at=row.created_at,
    )


class SqlProjectRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, project: NewProject) -> Project:
        row = ProjectRow(
            id=str(uuid.uuid4()),
            name=project.name,
            description=project.description,
            modality=project.modality,
            task_type=project.task_type.value,
            dimensionality=project.dimensionality.value,
            label_schema=schema_json(project.label_schema),
            sites=json.dumps(list(project.sites)),
            created_at=datetime.now(UTC),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"a project named '{project.name}' already exists", reason="PROJECT_EXISTS") from None
        return project_of(row)

    def get(self, project_id: str) -> Project:
        with self._sessions() as session:
            row = session.get(ProjectRow, project_id)
            if row is None:
                raise NotFound(f"project '{project_id}' does not exist", reason="PROJECT_NOT_FOUND")
            return project_of(row)

    def list(self, offset: int, limit: int, among: Collection[str] | None = None) -> tuple[list[Project], int]:
        """Projects by name; `among` restricts them to these ids (None: all)."""
        where = ProjectRow.id.in_(list(among)) if among is not None else true()
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(ProjectRow).where(where)) or 0
            rows = session.scalars(
                select(ProjectRow).where(where).order_by(ProjectRow.name).offset(offset).limit(limit)
            )
            return [project_of(row) for row in rows], total
