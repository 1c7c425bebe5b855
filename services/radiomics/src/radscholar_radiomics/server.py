"""Builds the radiomics gRPC server."""

from radscholar_core.grpc_server import Registration, Server
from radscholar_core.objectstore import open_object_store
from radscholar_proto.radiomics.v1 import radiomics_pb2, radiomics_pb2_grpc
from radscholar_radiomics.api import RadiomicsServicer
from radscholar_radiomics.config import Settings


def build_server(settings: Settings) -> Server:
    return Server(
        [
            Registration(
                radiomics_pb2.DESCRIPTOR.services_by_name["RadiomicsService"].full_name,
                RadiomicsServicer(open_object_store(settings.object_store)),
                radiomics_pb2_grpc.add_RadiomicsServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
