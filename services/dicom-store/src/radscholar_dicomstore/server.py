"""Builds the DICOM store gRPC server: the composition root of the service."""

from pathlib import Path

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.grpc_server import Registration, Server
from radscholar_core.objectstore import open_object_store
from radscholar_dicomstore.adapters.catalog import SqlCatalog
from radscholar_dicomstore.adapters.orthanc import OrthancStore
from radscholar_dicomstore.adapters.staged_uploads import StagedUploads
from radscholar_dicomstore.api import DicomStoreServicer
from radscholar_dicomstore.config import Settings
from radscholar_dicomstore.domain.deidentified_copies import DeidentifiedCopies
from radscholar_dicomstore.domain.indexing import CatalogIndexer
from radscholar_dicomstore.domain.ingest import ZipLimits
from radscholar_dicomstore.domain.pixels import SeriesPixels
from radscholar_dicomstore.domain.uploads import Ingestion
from radscholar_proto.dicomstore.v1 import dicomstore_pb2, dicomstore_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations"


def build_server(settings: Settings) -> Server:
    upgrade_to_head(settings.database_url, MIGRATIONS)
    catalog = SqlCatalog(session_factory(create_engine_for(settings.database_url)))
    orthanc = OrthancStore(
        settings.orthanc_url,
        settings.orthanc_username,
        settings.orthanc_password.get_secret_value(),
        settings.orthanc_timeout_seconds,
    )
    indexer = CatalogIndexer(orthanc, catalog, poll_seconds=settings.index_poll_seconds)
    master_secret = settings.deidentification_secret.get_secret_value().encode()
    objects = open_object_store(settings.object_store)
    ingestion = Ingestion(
        orthanc.store,
        catalog,
        indexer.refresh,
        master_secret,
        max_instance_bytes=settings.max_instance_bytes,
        limits=ZipLimits(
            max_entries=settings.max_archive_entries,
            max_entry_bytes=settings.max_instance_bytes,
            max_total_bytes=settings.max_archive_bytes,
        ),
    )
    return Server(
        [
            Registration(
                dicomstore_pb2.DESCRIPTOR.services_by_name["DicomStoreService"].full_name,
                DicomStoreServicer(
                    catalog,
                    orthanc,
                    indexer,
                    StagedUploads(objects, ingestion),
                    SeriesPixels(orthanc, objects),
                    DeidentifiedCopies(orthanc, master_secret),
                ),
                dicomstore_pb2_grpc.add_DicomStoreServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
        background=[indexer.run],
    )
