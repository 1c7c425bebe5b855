"""Training: the model zoo."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from radscholar_gateway.deps import Training
from radscholar_proto.training.v1 import training_pb2 as pb

router = APIRouter(prefix="/api/v1/training", tags=["training"])

Task = Literal["CLASSIFICATION", "SEGMENTATION", "DETECTION"]


class Architecture(BaseModel):
    id: str
    display_name: str
    task: Task
    spatial_dims: list[int]
    library: str
    description: str


class ArchitectureList(BaseModel):
    architectures: list[Architecture]


@router.get("/architectures", summary="Networks of the model zoo")
async def list_architectures(
    training: Training,
    task: Task | None = None,
    spatial_dims: Annotated[int | None, Query(description="2 or 3")] = None,
) -> ArchitectureList:
    answer = await training.ListArchitectures(
        pb.ListArchitecturesRequest(task=f"TASK_{task or 'UNSPECIFIED'}", spatial_dims=spatial_dims or 0)
    )
    return ArchitectureList(
        architectures=[
            Architecture(
                id=a.id,
                display_name=a.display_name,
                task=pb.Task.Name(a.task).removeprefix("TASK_"),  # type: ignore[arg-type]
                spatial_dims=list(a.spatial_dims),
                library=a.library,
                description=a.description,
            )
            for a in answer.architectures
        ]
    )
