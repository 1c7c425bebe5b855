"""Builds the radiomics gRPC server."""

from pathlib import Path

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.objectstore import open_object_store
from radscholar_proto.radiomics.v1 import radiomics_pb2, radiomics_pb2_grpc
from radscholar_radiomics.adapters.presets import SqlPresets
from radscholar_radiomics.api import RadiomicsServicer
from radscholar_radiomics.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    sessions = session_factory(create_engine_for(settings.database_url))
    return Server(
        [
            Registration(
                radiomics_pb2.DESCRIPTOR.services_by_name["RadiomicsService"].full_name,
                RadiomicsServicer(open_object_store(settings.object_store), SqlPresets(sessions)),
                radiomics_pb2_grpc.add_RadiomicsServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
