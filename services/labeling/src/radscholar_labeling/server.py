"""Builds the labeling gRPC server: the composition root of the service."""

from pathlib import Path

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_labeling.adapters.project_repository import SqlProjectRepository
from radscholar_labeling.adapters.work_repository import SqlWork
from radscholar_labeling.api import LabelingServicer
from radscholar_labeling.config import Settings
from radscholar_proto.labeling.v1 import labeling_pb2, labeling_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    sessions = session_factory(create_engine_for(settings.database_url))
    return Server(
        [
            Registration(
                labeling_pb2.DESCRIPTOR.services_by_name["LabelingService"].full_name,
                LabelingServicer(SqlProjectRepository(sessions), SqlWork(sessions)),
                labeling_pb2_grpc.add_LabelingServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
