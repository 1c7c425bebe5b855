"""The labeling servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from radscholar_core.errors import InvalidArgument, PermissionDenied
from radscholar_core.identity import current_identity
from radscholar_core.paging import Page
from radscholar_labeling.domain.projects import Dimensionality, NewProject, Project, TaskType
from radscholar_labeling.ports import ProjectRepository
from radscholar_proto.common.v1 import paging_pb2
from radscholar_proto.labeling.v1 import labeling_pb2 as pb
from radscholar_proto.labeling.v1 import labeling_pb2_grpc

TASK_TYPES = {
    pb.TASK_TYPE_CLASSIFICATION: TaskType.CLASSIFICATION,
    pb.TASK_TYPE_DETECTION: TaskType.DETECTION,
    pb.TASK_TYPE_SEGMENTATION: TaskType.SEGMENTATION,
}
DIMENSIONALITIES = {pb.DIMENSIONALITY_2D: Dimensionality.TWO_D, pb.DIMENSIONALITY_3D: Dimensionality.THREE_D}


def _choice(table: dict, value: int, field: str, enum: object) -> object:
    if value not in table:
        names = ", ".join(enum.Name(v) for v in table)  # type: ignore[attr-defined]
        raise InvalidArgument(f"{field} must be one of {names}", reason=f"INVALID_{field.upper()}")
    return table[value]


def project_to_proto(project: Project) -> pb.Project:
    created = Timestamp()
    created.FromDatetime(project.created_at)
    return pb.Project(
        id=project.id,
        name=project.name,
        description=project.description,
        modality=project.modality,
        task_type={v: k for k, v in TASK_TYPES.items()}[project.task_type],
        dimensionality={v: k for k, v in DIMENSIONALITIES.items()}[project.dimensionality],
        created_at=created,
    )


class LabelingServicer(labeling_pb2_grpc.LabelingServiceServicer):
    def __init__(self, projects: ProjectRepository) -> None:
        self._projects = projects

    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProjectResponse:
        new = NewProject(
            name=request.name,
            description=request.description,
            modality=request.modality.upper(),
            task_type=_choice(TASK_TYPES, request.task_type, "task_type", pb.TaskType),  # type: ignore[arg-type]
            dimensionality=_choice(  # type: ignore[arg-type]
                DIMENSIONALITIES, request.dimensionality, "dimensionality", pb.Dimensionality
            ),
        )
        project = await asyncio.to_thread(self._projects.add, new)
        return pb.CreateProjectResponse(project=project_to_proto(project))

    async def GetProject(
        self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProjectResponse:
        caller = current_identity()
        if not caller.is_admin and caller.project_role(request.project_id) is None:
            raise PermissionDenied(
                f"you are not a member of project '{request.project_id}'", reason="NOT_A_PROJECT_MEMBER"
            )
        project = await asyncio.to_thread(self._projects.get, request.project_id)
        return pb.GetProjectResponse(project=project_to_proto(project))

    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        page = Page.of(request.page.page_size, request.page.page_token)
        caller = current_identity()
        among = None if caller.is_admin else list(caller.projects)
        projects, total = await asyncio.to_thread(self._projects.list, page.offset, page.limit, among)
        return pb.ListProjectsResponse(
            projects=[project_to_proto(p) for p in projects],
            page=paging_pb2.PageResponse(next_page_token=page.next_token(len(projects), total), total_size=total),
        )
