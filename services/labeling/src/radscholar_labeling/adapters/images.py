"""The DICOM store (over gRPC, for the caller being served) and the object store, as masks need them."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile

import pydicom
from pydicom.dataset import Dataset

from radscholar_core.errors import FailedPrecondition
from radscholar_core.objectstore import ObjectStore
from radscholar_core.status import relayed
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb
from radscholar_proto.dicomstore.v1.dicomstore_pb2_grpc import DicomStoreServiceStub


class DicomStoreImages:
    def __init__(self, store: DicomStoreServiceStub, objects: ObjectStore) -> None:
        self._store = store
        self._objects = objects

    async def headers(self, series_instance_uid: str) -> list[Dataset]:
        """The series' instances without pixel data."""
        answer = await relayed(
            self._store.ExportSeriesHeaders(pb.ExportSeriesHeadersRequest(series_instance_uid=series_instance_uid))
        )
        data = await asyncio.to_thread(self._objects.get, answer.object_key)
        return await asyncio.to_thread(_datasets, data)

    async def deidentification_profile(self, project_id: str) -> str:
        """How the project's images are de-identified on ingest, in words: "none" or the PS3.15 profile and options."""
        profile = await relayed(self._store.GetIngestProfile(pb.GetIngestProfileRequest(project_id=project_id)))
        if not profile.deidentify:
            return "none"
        options = profile.options
        names = ("retain_longitudinal_dates", "retain_patient_characteristics", "clean_descriptors")
        chosen = [name for name in names if getattr(options, name)]
        return "+".join(["ps3.15-annex-e-basic", *chosen])

    async def store(self, dicom: bytes, name: str) -> None:
        """Stores one DICOM file (a SEG) through the store's ingest checks."""
        key = f"staging/labels/{uuid.uuid4().hex}"
        await asyncio.to_thread(self._objects.put, key, dicom, "application/dicom")
        try:
            answer = await relayed(
                self._store.IngestUpload(pb.IngestUploadRequest(files=[pb.StagedFile(object_key=key, file_name=name)]))
            )
        finally:
            await asyncio.to_thread(self._objects.delete, key)
        if answer.rejected:
            raise FailedPrecondition(
                f"the DICOM store refused the mask: {answer.files[0].message}", reason="SEG_REFUSED"
            )


def _datasets(archive: bytes) -> list[Dataset]:
    with zipfile.ZipFile(io.BytesIO(archive)) as files:
        return [pydicom.dcmread(io.BytesIO(files.read(name))) for name in files.namelist()]
