"""Project membership: who belongs to which project, and in what role (projects live in labeling)."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from radscholar_core.db import transaction
from radscholar_core.errors import InvalidArgument, NotFound
from radscholar_gateway.accounts.tables import ProjectMemberRow, UserRow
from radscholar_gateway.accounts.users import User, require_user_row, user_from_row

MAX_PROJECT_ID = 64


class ProjectRole(StrEnum):
    """What a member may do inside one project."""

    LEAD = "lead"
    RESEARCHER = "researcher"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


class Member(NamedTuple):
    user: User
    role: ProjectRole


def _project_role(role: ProjectRole | str) -> ProjectRole:
    try:
        return ProjectRole(role)
    except ValueError:
        raise InvalidArgument(
            f"unknown project role {role!r}; project roles are {', '.join(ProjectRole)}",
            reason="INVALID_ROLE",
            details={"allowed": ",".join(ProjectRole)},
        ) from None


class Memberships:
    """The members of each project; a user outside a project sees nothing of it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def set(self, project_id: str, user_id: str, role: ProjectRole | str) -> Member:
        """Adds the user to the project, or changes their role there."""
        role = _project_role(role)
        if not 0 < len(project_id) <= MAX_PROJECT_ID:
            raise InvalidArgument(f"project_id must be 1 to {MAX_PROJECT_ID} characters", reason="INVALID_PROJECT_ID")
        with transaction(self._sessions) as session:
            user = require_user_row(session, user_id)
            row = session.get(ProjectMemberRow, (project_id, user_id))
            if row is None:
                session.add(ProjectMemberRow(project_id=project_id, user_id=user_id, role=role.value))
            else:
                row.role = role.value
            return Member(user_from_row(user), role)

    def remove(self, project_id: str, user_id: str) -> None:
        """Takes the user out of the project; MEMBERSHIP_NOT_FOUND if they were not in it."""
        with transaction(self._sessions) as session:
            row = session.get(ProjectMemberRow, (project_id, user_id))
            if row is None:
                raise NotFound(
                    f"user '{user_id}' is not a member of project '{project_id}'",
                    reason="MEMBERSHIP_NOT_FOUND",
                )
            session.delete(row)

    def of_user(self, user_id: str) -> dict[str, ProjectRole]:
        """The user's role in each project they belong to, by project id."""
        with self._sessions() as session:
            rows = session.execute(
                select(ProjectMemberRow.project_id, ProjectMemberRow.role).where(ProjectMemberRow.user_id == user_id)
            )
            return {project_id: ProjectRole(role) for project_id, role in rows}

    def of_project(self, project_id: str) -> list[Member]:
        """The project's members, by username."""
        with self._sessions() as session:
            rows = session.execute(
                select(UserRow, ProjectMemberRow.role)
                .join(ProjectMemberRow, ProjectMemberRow.user_id == UserRow.id)
                .where(ProjectMemberRow.project_id == project_id)
                .order_by(UserRow.username)
            )
            return [Member(user_from_row(user), ProjectRole(role)) for user, role in rows]
