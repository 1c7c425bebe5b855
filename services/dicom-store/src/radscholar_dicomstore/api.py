"""The DICOM store servicer: proto -> domain -> proto, nothing else."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import grpc

from radscholar_core.errors import InvalidArgument
from radscholar_core.paging import Page
from radscholar_dicomstore.adapters.catalog import SqlCatalog
from radscholar_dicomstore.adapters.orthanc import OrthancStore
from radscholar_dicomstore.adapters.staged_uploads import StagedFile, StagedUploads
from radscholar_dicomstore.domain.deidentified_copies import DeidentifiedCopies
from radscholar_dicomstore.domain.deidentify import IngestProfile
from radscholar_dicomstore.domain.indexing import CatalogIndexer
from radscholar_dicomstore.domain.ingest import IngestStatus
from radscholar_dicomstore.domain.pixels import SeriesPixels
from radscholar_dicomstore.domain.sites import Modality, Site, SiteCounts
from radscholar_dicomstore.domain.studies import (
    PATIENT_SORTS,
    SERIES_SORTS,
    STUDY_SORTS,
    SeriesSummary,
    Sort,
    StudyQuery,
)
from radscholar_proto.common.v1 import paging_pb2
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb
from radscholar_proto.dicomstore.v1 import dicomstore_pb2_grpc

STATUS = {
    IngestStatus.STORED: pb.INGEST_STATUS_STORED,
    IngestStatus.ALREADY_PRESENT: pb.INGEST_STATUS_ALREADY_PRESENT,
    IngestStatus.REJECTED: pb.INGEST_STATUS_REJECTED,
}


def _query(f: pb.StudyFilter) -> StudyQuery:
    return StudyQuery.parse(
        patient_id=f.patient_id,
        modality=f.modality,
        study_date_from=f.study_date_from,
        study_date_to=f.study_date_to,
        description_contains=f.description_contains,
        institution=f.institution,
        body_part=f.body_part,
        site=f.site,
        project_id=f.project_id,
        study_instance_uid=f.study_instance_uid,
    )


def _page(page: Page, returned: int, total: int) -> paging_pb2.PageResponse:
    return paging_pb2.PageResponse(next_page_token=page.next_token(returned, total), total_size=total)


def _series(series: SeriesSummary) -> pb.Series:
    return pb.Series(**asdict(series))


def _modality(m: Modality) -> pb.Modality:
    return pb.Modality(**asdict(m))


def _site(s: SiteCounts) -> pb.Site:
    return pb.Site(
        id=s.site.id,
        name=s.site.name,
        institution_names=s.site.institution_names,
        registered=s.registered,
        modalities=[_modality(m) for m in s.modalities],
        patients=s.patients,
        studies=s.studies,
        series=s.series,
        instances=s.instances,
        size_bytes=s.size_bytes,
    )


def _profile(project_id: str, profile: IngestProfile) -> pb.IngestProfile:
    return pb.IngestProfile(
        project_id=project_id,
        deidentify=profile.deidentify,
        options=pb.DeidentificationOptions(
            retain_longitudinal_dates=profile.retain_longitudinal_dates,
            retain_patient_characteristics=profile.retain_patient_characteristics,
            clean_descriptors=profile.clean_descriptors,
        ),
    )


def _project_id(project_id: str, *, required: bool = True) -> str:
    project_id = project_id.strip()
    if required and not project_id:
        raise InvalidArgument("project_id is required", reason="MISSING_PROJECT_ID")
    if len(project_id) > 64:
        raise InvalidArgument("project_id is at most 64 characters", reason="INVALID_PROJECT_ID")
    return project_id


class DicomStoreServicer(dicomstore_pb2_grpc.DicomStoreServiceServicer):
    def __init__(
        self,
        catalog: SqlCatalog,
        orthanc: OrthancStore,
        indexer: CatalogIndexer,
        uploads: StagedUploads,
        pixels: SeriesPixels,
        copies: DeidentifiedCopies,
    ) -> None:
        self._catalog = catalog
        self._orthanc = orthanc
        self._indexer = indexer
        self._uploads = uploads
        self._pixels = pixels
        self._copies = copies

    async def _read(self, method: Any, *args: Any) -> Any:
        return await asyncio.to_thread(method, *args)

    async def GetStoreStatistics(
        self, request: pb.GetStoreStatisticsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStoreStatisticsResponse:
        stats = await self._read(self._catalog.statistics)
        return pb.GetStoreStatisticsResponse(**asdict(stats))

    async def QueryPatients(
        self, request: pb.QueryPatientsRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryPatientsResponse:
        query, sort = _query(request.filter), Sort.parse(request.sort, PATIENT_SORTS)
        page = Page.of(request.page.page_size, request.page.page_token)
        patients, total = await self._read(self._catalog.find_patients, query, sort, page.offset, page.limit)
        return pb.QueryPatientsResponse(
            patients=[pb.Patient(**asdict(p)) for p in patients], page=_page(page, len(patients), total)
        )

    async def QueryStudies(
        self, request: pb.QueryStudiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryStudiesResponse:
        query, sort = _query(request.filter), Sort.parse(request.sort, STUDY_SORTS)
        page = Page.of(request.page.page_size, request.page.page_token)
        studies, total = await self._read(self._catalog.find_studies, query, sort, page.offset, page.limit)
        return pb.QueryStudiesResponse(
            studies=[pb.Study(**asdict(s)) for s in studies], page=_page(page, len(studies), total)
        )

    async def QuerySeries(
        self, request: pb.QuerySeriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.QuerySeriesResponse:
        query = _query(request.filter)
        sort = Sort.parse(request.sort, SERIES_SORTS, default_descending=False)
        page = Page.of(request.page.page_size, request.page.page_token)
        series, total = await self._read(self._catalog.find_series, query, sort, page.offset, page.limit)
        return pb.QuerySeriesResponse(series=[_series(s) for s in series], page=_page(page, len(series), total))

    async def GetSeries(self, request: pb.GetSeriesRequest, context: grpc.aio.ServicerContext) -> pb.Series:
        return _series(await self._read(self._catalog.get_series, request.series_instance_uid))

    async def ListSites(self, request: pb.ListSitesRequest, context: grpc.aio.ServicerContext) -> pb.ListSitesResponse:
        return pb.ListSitesResponse(sites=[_site(s) for s in await self._read(self._catalog.sites)])

    async def CreateSite(self, request: pb.CreateSiteRequest, context: grpc.aio.ServicerContext) -> pb.Site:
        site = Site.parse(id=request.id, name=request.name, institution_names=list(request.institution_names))
        await self._read(self._catalog.create_site, site)
        return next(_site(s) for s in await self._read(self._catalog.sites) if s.registered and s.site.id == site.id)

    async def DeleteSite(
        self, request: pb.DeleteSiteRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteSiteResponse:
        for ae_title in await self._read(self._catalog.delete_site, request.id):
            await self._orthanc.unregister_modality(ae_title)
        return pb.DeleteSiteResponse()

    async def RegisterModality(
        self, request: pb.RegisterModalityRequest, context: grpc.aio.ServicerContext
    ) -> pb.Modality:
        m = request.modality
        modality = Modality.parse(
            ae_title=m.ae_title, site_id=m.site_id, host=m.host, port=m.port, description=m.description
        )
        await self._read(self._catalog.add_modality, modality)  # checks the site and the AE title first
        await self._orthanc.register_modality(modality)
        return _modality(modality)

    async def UnregisterModality(
        self, request: pb.UnregisterModalityRequest, context: grpc.aio.ServicerContext
    ) -> pb.UnregisterModalityResponse:
        await self._read(self._catalog.delete_modality, request.site_id, request.ae_title)
        await self._orthanc.unregister_modality(request.ae_title)
        return pb.UnregisterModalityResponse()

    async def GetIngestProfile(
        self, request: pb.GetIngestProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.IngestProfile:
        project_id = _project_id(request.project_id)
        return _profile(project_id, await self._read(self._catalog.ingest_profile, project_id))

    async def SetIngestProfile(
        self, request: pb.SetIngestProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.IngestProfile:
        project_id = _project_id(request.profile.project_id)
        options = request.profile.options
        profile = IngestProfile(
            deidentify=request.profile.deidentify,
            retain_longitudinal_dates=options.retain_longitudinal_dates,
            retain_patient_characteristics=options.retain_patient_characteristics,
            clean_descriptors=options.clean_descriptors,
        )
        await self._read(self._catalog.set_ingest_profile, project_id, profile)
        return _profile(project_id, profile)

    async def IngestUpload(
        self, request: pb.IngestUploadRequest, context: grpc.aio.ServicerContext
    ) -> pb.IngestUploadResponse:
        report = await self._uploads.ingest(
            [
                StagedFile(
                    f.object_key,
                    f.file_name or f.object_key,
                    (f.byte_range.offset, f.byte_range.length) if f.HasField("byte_range") else None,
                )
                for f in request.files
            ],
            site=request.site_id.strip(),
            project_id=_project_id(request.project_id, required=False),
        )
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
            deidentified=dict(report.deidentified),
            removed=sorted(report.removed),
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

    async def ExportSeriesHeaders(
        self, request: pb.ExportSeriesHeadersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportSeriesHeadersResponse:
        key, instances = await self._pixels.export_headers(request.series_instance_uid)
        return pb.ExportSeriesHeadersResponse(object_key=key, instances=instances)

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
        project_id = _project_id(request.project_id)
        copy = await self._copies.create(
            request.study_instance_uid,
            project_id,
            retain_longitudinal_dates=options.retain_longitudinal_dates,
            retain_patient_characteristics=options.retain_patient_characteristics,
            clean_descriptors=options.clean_descriptors,
        )
        await self._read(self._catalog.attribute_like, request.study_instance_uid, [copy.study_instance_uid], "copy")
        await self._read(self._catalog.add_to_project, [copy.study_instance_uid], project_id)
        await self._indexer.refresh(copy.series_instance_uids)
        return pb.CreateDeidentifiedCopyResponse(
            study_instance_uid=copy.study_instance_uid,
            pseudonym=copy.pseudonym,
            instances=copy.instances,
            actions=copy.actions,
            removed=copy.removed,
            burned_in_annotation=copy.burned_in_annotation,
        )
