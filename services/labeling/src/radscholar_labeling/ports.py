"""What the labeling domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from radscholar_labeling.domain.projects import NewProject, Project


class ProjectRepository(Protocol):
    def add(self, project: NewProject) -> Project: ...
    def get(self, project_id: str) -> Project: ...
    def list(self, offset: int, limit: int, among: Collection[str] | None = None) -> tuple[list[Project], int]: ...
