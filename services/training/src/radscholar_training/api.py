"""The training servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import grpc

from radscholar_core.errors import InvalidArgument
from radscholar_proto.training.v1 import training_pb2 as pb
from radscholar_proto.training.v1 import training_pb2_grpc
from radscholar_training.domain.zoo import Task, architectures

TASKS = {
    pb.TASK_CLASSIFICATION: Task.CLASSIFICATION,
    pb.TASK_SEGMENTATION: Task.SEGMENTATION,
    pb.TASK_DETECTION: Task.DETECTION,
}
TASK_PROTO = {task: value for value, task in TASKS.items()}


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    async def ListArchitectures(
        self, request: pb.ListArchitecturesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListArchitecturesResponse:
        if request.spatial_dims not in (0, 2, 3):
            raise InvalidArgument(
                f"spatial_dims must be 0 (any), 2 or 3, got {request.spatial_dims}",
                reason="INVALID_SPATIAL_DIMS",
            )
        if request.task not in (pb.TASK_UNSPECIFIED, *TASKS):
            raise InvalidArgument(f"unknown task {request.task}", reason="INVALID_TASK")
        found = architectures(TASKS.get(request.task), request.spatial_dims or None)
        return pb.ListArchitecturesResponse(
            architectures=[
                pb.Architecture(
                    id=a.id,
                    display_name=a.display_name,
                    task=TASK_PROTO[a.task],
                    spatial_dims=a.spatial_dims,
                    library=a.library,
                    description=a.description,
                )
                for a in found
            ]
        )
