"""Builds the DICOM store gRPC server: the composition root of the service."""

from radscholar_core.grpc_server import Registration, Server
from radscholar_core.objectstore import open_object_store
from radscholar_dicomstore.adapters.orthanc import OrthancStudyIndex
from radscholar_dicomstore.adapters.staged_uploads import StagedUploads
from radscholar_dicomstore.api import DicomStoreServicer
from radscholar_dicomstore.config import Settings
from radscholar_dicomstore.domain.deidentified_copies import DeidentifiedCopies
from radscholar_dicomstore.domain.ingest import ZipLimits
from radscholar_dicomstore.domain.pixels import SeriesPixels
from radscholar_proto.dicomstore.v1 import dicomstore_pb2, dicomstore_pb2_grpc


def build_server(settings: Settings) -> Server:
    index = OrthancStudyIndex(
        settings.orthanc_url,
        settings.orthanc_username,
        settings.orthanc_password.get_secret_value(),
        settings.orthanc_timeout_seconds,
    )
    objects = open_object_store(settings.object_store)
    uploads = StagedUploads(
        objects,
        index,
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
                    index,
                    uploads,
                    SeriesPixels(index, objects),
                    DeidentifiedCopies(index, settings.deidentification_secret.get_secret_value().encode()),
                ),
                dicomstore_pb2_grpc.add_DicomStoreServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
