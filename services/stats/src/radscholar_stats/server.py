"""Builds the stats gRPC server."""

from radscholar_core.grpc_server import Registration, Server
from radscholar_core.objectstore import open_object_store
from radscholar_proto.stats.v1 import stats_pb2, stats_pb2_grpc
from radscholar_stats.adapters.stored import Results, Tables
from radscholar_stats.api import StatsServicer
from radscholar_stats.config import Settings


def build_server(settings: Settings) -> Server:
    objects = open_object_store(settings.object_store)
    return Server(
        [
            Registration(
                stats_pb2.DESCRIPTOR.services_by_name["StatsService"].full_name,
                StatsServicer(Tables(objects), Results(objects)),
                stats_pb2_grpc.add_StatsServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
