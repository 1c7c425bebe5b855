"""The DICOM store servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

from dataclasses import asdict

import grpc

from radscholar_core.errors import InvalidArgument
from radscholar_core.paging import Page
from radscholar_dicomstore.domain.deidentified_copies import DeidentifiedCopies
from radscholar_dicomstore.domain.ingest import IngestStatus
from radscholar_dicomstore.domain.pixels import SeriesPixels
from radscholar_dicomstore.domain.studies import StudyQuery
from radscholar_dicomstore.ports import StudyIndex, Uploads
from radscholar_proto.common.v1 import paging_pb2
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb
from radscholar_proto.dicomstore.v1 import dicomstore_pb2_grpc

STATUS = {
    IngestStatus.STORED: pb.INGEST_STATUS_STORED,
    IngestStatus.ALREADY_PRESENT: pb.INGEST_STATUS_ALREADY_PRESENT,
    IngestStatus.REJECTED: pb.INGEST_STATUS_REJECTED,
}


class DicomStoreServicer(dicomstore_pb2_grpc.DicomStoreServiceServicer):
    def __init__(self, index: StudyIndex, uploads: Uploads, pixels: SeriesPixels, copies: DeidentifiedCopies) -> None:
        self._copies = copies
        self._index = index
        self._uploads = uploads
        self._pixels = pixels

    async def GetStoreStatistics(
        self, request: pb.GetStoreStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStoreStatisticsResponse:
        return pb.GetStoreStatisticsResponse(**asdict(await self._index.statistics()))

    async def QueryStudies(
        self, request: pb.QueryStudiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryStudiesResponse:
        query = StudyQuery.parse(
            patient_id=request.patient_id,
            modality=request.modality,
            study_date_from=request.study_date_from,
            study_date_to=request.study_date_to,
            description_contains=request.description_contains,
            institution=request.institution,
        )
        page = Page.of(request.page.page_size, request.page.page_token)
        studies, total = await self._index.find_studies(query, page.offset, page.limit)
        return pb.QueryStudiesResponse(
            studies=[pb.Study(**asdict(study)) for study in studies],
            page=paging_pb2.PageResponse(next_page_token=page.next_token(len(studies), total), total_size=total),
        )

    async def ListSeries(
        self, request: pb.ListSeriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSeriesResponse:
        if not request.study_instance_uid:
            raise InvalidArgument("study_instance_uid is required", reason="MISSING_STUDY_UID")
        series = await self._index.list_series(request.study_instance_uid)
        return pb.ListSeriesResponse(series=[pb.Series(**asdict(s)) for s in series])

    async def IngestUpload(
        self, request: pb.IngestUploadRequest, context: grpc.aio.ServicerContext
    ) -> pb.IngestUploadResponse:
        report = await self._uploads.ingest(request.object_key, request.file_name or request.object_key)
        counts = report.counts
        return pb.IngestUploadResponse(
            files=[
                pb.IngestedFile(
                    name=f.name,
                    status=STATUS[f.status],
                    reason=f.reason,
                    message=f.message,
                    sop_instance_uid=f.sop_instance_uid,
                    study_instance_uid=f.study_instance_uid,
                )
                for f in report.files
            ],
            stored=counts["stored"],
            already_present=counts["already_present"],
            rejected=counts["rejected"],
        )

    async def ExportSeriesVolume(
        self, request: pb.ExportSeriesVolumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportSeriesVolumeResponse:
        volume = await self._pixels.export_volume(request.series_instance_uid, stored_values=request.stored_values)
        return pb.ExportSeriesVolumeResponse(
            object_key=volume.object_key,
            geometry=pb.VolumeGeometry(
                size=volume.size, spacing=volume.spacing, origin=volume.origin, direction=volume.direction
            ),
            units=volume.units,
            modality=volume.modality,
            size_bytes=volume.size_bytes,
            cached=volume.cached,
        )

    async def RenderSeriesImage(
        self, request: pb.RenderSeriesImageRequest, context: grpc.aio.ServicerContext
    ) -> pb.RenderSeriesImageResponse:
        key, cached = await self._pixels.render(
            request.series_instance_uid, request.view or "thumbnail", request.index, request.window, request.size
        )
        return pb.RenderSeriesImageResponse(object_key=key, cached=cached)

    async def CreateDeidentifiedCopy(
        self, request: pb.CreateDeidentifiedCopyRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateDeidentifiedCopyResponse:
        options = request.options
        copy = await self._copies.create(
            request.study_instance_uid,
            request.project_id,
            retain_longitudinal_dates=options.retain_longitudinal_dates,
            retain_patient_characteristics=options.retain_patient_characteristics,
            clean_descriptors=options.clean_descriptors,
        )
        return pb.CreateDeidentifiedCopyResponse(
            study_instance_uid=copy.study_instance_uid,
            pseudonym=copy.pseudonym,
            instances=copy.instances,
            actions=copy.actions,
            removed=copy.removed,
            burned_in_annotation=copy.burned_in_annotation,
        )
