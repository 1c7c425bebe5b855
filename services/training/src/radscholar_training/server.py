"""Builds the training gRPC server."""

from radscholar_core.grpc_server import Registration, Server
from radscholar_proto.training.v1 import training_pb2, training_pb2_grpc
from radscholar_training.api import TrainingServicer
from radscholar_training.config import Settings


def build_server(settings: Settings) -> Server:
    return Server(
        [
            Registration(
                training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
                TrainingServicer(),
                training_pb2_grpc.add_TrainingServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
