"""Builds the DICOM store gRPC server: the composition root of the service."""

from radscholar_core.grpc_server import Registration, Server
from radscholar_dicomstore.adapters.orthanc import OrthancStudyIndex
from radscholar_dicomstore.api import DicomStoreServicer
from radscholar_dicomstore.config import Settings
from radscholar_proto.dicomstore.v1 import dicomstore_pb2, dicomstore_pb2_grpc


def build_server(settings: Settings) -> Server:
    index = OrthancStudyIndex(
        settings.orthanc_url,
        settings.orthanc_username,
        settings.orthanc_password.get_secret_value(),
        settings.orthanc_timeout_seconds,
    )
    return Server(
        [
            Registration(
                dicomstore_pb2.DESCRIPTOR.services_by_name["DicomStoreService"].full_name,
                DicomStoreServicer(index),
                dicomstore_pb2_grpc.add_DicomStoreServiceServicer_to_server,
            )
        ],
        verifier=settings.identity.verifier(),
    )
