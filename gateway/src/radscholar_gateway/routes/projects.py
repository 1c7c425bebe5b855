"""Labeling projects."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from radscholar_gateway.convert import page_request
from radscholar_gateway.deps import Access, Labeling
from radscholar_gateway.security.guard import CurrentPrincipal
from radscholar_proto.labeling.v1 import labeling_pb2 as pb

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

TaskType = Literal["CLASSIFICATION", "DETECTION", "SEGMENTATION"]
Dimensionality = Literal["2D", "3D"]


class LabelClass(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["nodule"])
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#ff8800"])


class LabelSchema(BaseModel):
    classes: list[LabelClass] = Field(default_factory=list, max_length=255)
    level: Literal["case", "series", "image", "lesion"] = "case"
    multi_label: bool = False


class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Lung nodules, chest CT"])
    description: str = Field("", max_length=10_000)
    modality: str = Field(min_length=1, max_length=16, examples=["CT"])
    task_type: TaskType
    dimensionality: Dimensionality
    label_schema: LabelSchema = Field(default_factory=LabelSchema)
    sites: list[str] = Field(default_factory=list, description="sites whose studies it takes; empty: any")


class Project(NewProject):
    id: str
    created_at: datetime


class ProjectPage(BaseModel):
    projects: list[Project]
    next_page_token: str
    total_size: int


def _project(message: pb.Project) -> Project:
    return Project(
        id=message.id,
        name=message.name,
        description=message.description,
        modality=message.modality,
        task_type=pb.TaskType.Name(message.task_type).removeprefix("TASK_TYPE_"),  # type: ignore[arg-type]
        dimensionality=pb.Dimensionality.Name(message.dimensionality).removeprefix("DIMENSIONALITY_"),  # type: ignore[arg-type]
        created_at=message.created_at.ToDatetime(tzinfo=UTC),
        label_schema=LabelSchema(
            classes=[LabelClass(name=c.name, color=c.color) for c in message.label_schema.classes],
            level=pb.LabelLevel.Name(message.label_schema.level).removeprefix("LABEL_LEVEL_").lower(),  # type: ignore[arg-type]
            multi_label=message.label_schema.multi_label,
        ),
        sites=list(message.sites),
    )


@router.post("", status_code=201, summary="Create a labeling project; its creator becomes its lead")
async def create_project(
    body: NewProject, request: Request, labeling: Labeling, principal: CurrentPrincipal, access: Access
) -> Project:
    answer = await labeling.CreateProject(
        pb.CreateProjectRequest(
            name=body.name,
            description=body.description,
            modality=body.modality,
            task_type=f"TASK_TYPE_{body.task_type}",
            dimensionality=f"DIMENSIONALITY_{body.dimensionality}",
            label_schema=pb.LabelSchema(
                classes=[pb.LabelClass(name=c.name, color=c.color) for c in body.label_schema.classes],
                level=f"LABEL_LEVEL_{body.label_schema.level.upper()}",
                multi_label=body.label_schema.multi_label,
            ),
            sites=body.sites,
        )
    )
    request.state.audit_resource = f"project:{answer.project.id}"
    await asyncio.to_thread(access.memberships.set, answer.project.id, principal.user.id, "lead")
    return _project(answer.project)


@router.get("", summary="List the projects you belong to (admins: all), by name")
async def list_projects(
    labeling: Labeling, page_size: Annotated[int, Query(ge=0, le=1000)] = 50, page_token: str = ""
) -> ProjectPage:
    answer = await labeling.ListProjects(pb.ListProjectsRequest(page=page_request(page_size, page_token)))
    return ProjectPage(
        projects=[_project(p) for p in answer.projects],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/{project_id}", summary="Read one project")
async def get_project(project_id: str, labeling: Labeling) -> Project:
    return _project((await labeling.GetProject(pb.GetProjectRequest(project_id=project_id))).project)


ProjectRole = Literal["lead", "researcher", "annotator", "reviewer", "viewer"]


class Member(BaseModel):
    user_id: str
    username: str
    role: ProjectRole


class MemberList(BaseModel):
    members: list[Member]


class Membership(BaseModel):
    role: ProjectRole


@router.get("/{project_id}/members", summary="Who belongs to a project, with their roles")
async def list_members(project_id: str, access: Access) -> MemberList:
    members = await asyncio.to_thread(access.memberships.of_project, project_id)
    return MemberList(
        members=[Member(user_id=m.user.id, username=m.user.username, role=str(m.role)) for m in members]  # type: ignore[arg-type]
    )


@router.put("/{project_id}/members/{user_id}", summary="Add a member or change their role")
async def set_member(project_id: str, user_id: str, body: Membership, labeling: Labeling, access: Access) -> Member:
    await labeling.GetProject(pb.GetProjectRequest(project_id=project_id))  # 404 for a project that does not exist
    member = await asyncio.to_thread(access.memberships.set, project_id, user_id, body.role)
    return Member(user_id=member.user.id, username=member.user.username, role=str(member.role))  # type: ignore[arg-type]


@router.delete("/{project_id}/members/{user_id}", status_code=204, summary="Remove a member")
async def remove_member(project_id: str, user_id: str, access: Access) -> Response:
    await asyncio.to_thread(access.memberships.remove, project_id, user_id)
    return Response(status_code=204)
