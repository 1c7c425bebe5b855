"""Builds the stats gRPC server: the composition root of the service."""

from pathlib import Path

from radscholar_core.db import create_engine_for, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.job_driver import job_environment
from radscholar_core.jobs import JobEvents, JobStore
from radscholar_core.objectstore import open_object_store
from radscholar_core.ray_jobs import RayJobRunner, RayJobs
from radscholar_proto.stats.v1 import stats_pb2, stats_pb2_grpc
from radscholar_stats.adapters.stored import Results, Tables
from radscholar_stats.api import StatsServicer
from radscholar_stats.config import Settings
from radscholar_stats.jobs import KIND, AnalysisJobs, finish

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    objects = open_object_store(settings.object_store)
    events = JobEvents()
    store = JobStore(create_engine_for(settings.database_url), events=events)
    runner = RayJobRunner(
        store,
        RayJobs(settings.ray_address),
        KIND,
        job_environment(settings.object_store),
        finish(objects),
        settings.job_poll_seconds,
    )
    return Server(
        [
            Registration(
                stats_pb2.DESCRIPTOR.services_by_name["StatsService"].full_name,
                StatsServicer(Tables(objects), Results(objects), AnalysisJobs(runner, objects), store, events),
                stats_pb2_grpc.add_StatsServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
        background=[runner.keep_following],
    )
