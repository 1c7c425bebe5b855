"""Builds the labeling gRPC server: the composition root of the service."""

from datetime import timedelta
from pathlib import Path

import grpc

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.identity import relayed_identity_interceptors
from radscholar_core.objectstore import open_object_store
from radscholar_labeling.adapters.images import DicomStoreImages
from radscholar_labeling.adapters.project_repository import SqlProjectRepository
from radscholar_labeling.adapters.staging import keep_sweeping
from radscholar_labeling.adapters.work_repository import SqlWork
from radscholar_labeling.api import LabelingServicer
from radscholar_labeling.config import Settings
from radscholar_labeling.domain.mask_store import MaskStore
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub
from radscholar_proto.labeling.v1 import labeling_pb2, labeling_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    sessions = session_factory(create_engine_for(settings.database_url))
    objects = open_object_store(settings.object_store)
    channel = grpc.aio.insecure_channel(settings.dicomstore_address, interceptors=relayed_identity_interceptors())
    masks = MaskStore(DicomStoreImages(DicomStoreServiceStub(channel), objects), objects)
    return Server(
        [
            Registration(
                labeling_pb2.DESCRIPTOR.services_by_name["LabelingService"].full_name,
                LabelingServicer(SqlProjectRepository(sessions), SqlWork(sessions), masks, objects),
                labeling_pb2_grpc.add_LabelingServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
        background=[
            lambda: keep_sweeping(
                objects, timedelta(hours=settings.staged_upload_max_age_hours), every=timedelta(hours=1)
            )
        ],
    )
