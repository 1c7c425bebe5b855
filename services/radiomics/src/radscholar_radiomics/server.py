"""Builds the radiomics gRPC server: the composition root of the service."""

from pathlib import Path

import grpc

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.identity import relayed_identity_interceptors
from radscholar_core.job_driver import job_environment
from radscholar_core.jobs import JobEvents, JobStore
from radscholar_core.objectstore import open_object_store
from radscholar_core.ray_jobs import RayJobRunner, RayJobs
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1.labeling_pb2_grpc import LabelingServiceStub
from radscholar_proto.radiomics.v1 import radiomics_pb2, radiomics_pb2_grpc
from radscholar_radiomics.adapters.datasets import DatasetSource
from radscholar_radiomics.adapters.presets import SqlPresets
from radscholar_radiomics.api import RadiomicsServicer
from radscholar_radiomics.batch import REGION_CPUS_ENV
from radscholar_radiomics.config import Settings
from radscholar_radiomics.domain.batch import KIND
from radscholar_radiomics.jobs import BatchJobs, finish

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    engine = create_engine_for(settings.database_url)
    objects = open_object_store(settings.object_store)
    events = JobEvents()
    store = JobStore(engine, events=events)
    environment = {**job_environment(settings.object_store), REGION_CPUS_ENV: str(settings.region_cpus)}
    runner = RayJobRunner(
        store, RayJobs(settings.ray_address), KIND, environment, finish(objects), settings.job_poll_seconds
    )
    jobs = BatchJobs(runner, store, objects)
    relay = relayed_identity_interceptors()
    datasets = DatasetSource(
        LabelingServiceStub(grpc.aio.insecure_channel(settings.labeling_address, interceptors=relay)),
        DicomStoreServiceStub(grpc.aio.insecure_channel(settings.dicomstore_address, interceptors=relay)),
    )
    return Server(
        [
            Registration(
                radiomics_pb2.DESCRIPTOR.services_by_name["RadiomicsService"].full_name,
                RadiomicsServicer(objects, SqlPresets(session_factory(engine)), jobs, store, events, datasets),
                radiomics_pb2_grpc.add_RadiomicsServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
        background=[runner.keep_following],
    )
