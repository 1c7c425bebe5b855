"""DICOM store: statistics, study query, series of a study."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from radscholar_core.errors import PermissionDenied
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import page_request, to_model
from radscholar_gateway.deps import DicomStore
from radscholar_gateway.security.guard import CurrentPrincipal
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb

router = APIRouter(prefix="/api/v1/dicom", tags=["dicom"])


class StoreStatistics(BaseModel):
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int


class Study(BaseModel):
    study_instance_uid: str
    patient_id: str
    patient_name: str
    study_date: str
    description: str
    accession_number: str
    institution: str
    modalities: list[str]
    series_count: int
    instance_count: int


class StudyPage(BaseModel):
    studies: list[Study]
    next_page_token: str
    total_size: int


class Series(BaseModel):
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    description: str
    series_number: int
    body_part: str
    instance_count: int


class SeriesList(BaseModel):
    series: list[Series]


@router.get("/statistics", summary="Counts and storage of the DICOM store")
async def statistics(store: DicomStore) -> StoreStatistics:
    return to_model(StoreStatistics, await store.GetStoreStatistics(pb.GetStoreStatisticsRequest()))


@router.get("/studies", summary="Find studies, newest first")
async def query_studies(
    store: DicomStore,
    patient_id: str = "",
    modality: Annotated[str, Query(description="CT, MR, DX, MG, ...")] = "",
    study_date_from: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    study_date_to: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    description: Annotated[str, Query(description="text contained in the study description")] = "",
    institution: str = "",
    page_size: Annotated[int, Query(ge=0, le=1000)] = 50,
    page_token: str = "",
) -> StudyPage:
    answer = await store.QueryStudies(
        pb.QueryStudiesRequest(
            patient_id=patient_id,
            modality=modality,
            study_date_from=study_date_from,
            study_date_to=study_date_to,
            description_contains=description,
            institution=institution,
            page=page_request(page_size, page_token),
        )
    )
    return StudyPage(
        studies=[to_model(Study, s) for s in answer.studies],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/studies/{study_instance_uid}/series", summary="The series of one study")
async def list_series(study_instance_uid: str, store: DicomStore) -> SeriesList:
    answer = await store.ListSeries(pb.ListSeriesRequest(study_instance_uid=study_instance_uid))
    return SeriesList(series=[to_model(Series, s) for s in answer.series])


IngestStatus = Literal["stored", "already_present", "rejected"]


class IngestedFile(BaseModel):
    name: str
    status: IngestStatus
    reason: str = Field(description="why it was rejected (NOT_DICOM, TRUNCATED, MISSING_UID, UNSAFE_PATH, ...)")
    message: str
    sop_instance_uid: str
    study_instance_uid: str


class UploadReport(BaseModel):
    files: list[IngestedFile]
    stored: int
    already_present: int
    rejected: int


@router.post("/uploads", summary="Upload DICOM files or zip archives; a report line per file")
async def upload(files: list[UploadFile], request: Request, store: DicomStore) -> UploadReport:
    """Each upload is staged in the object store and ingested by the DICOM store; bad files never stop the rest."""
    objects: ObjectStore = request.app.state.objects
    timeout = request.app.state.settings.upload_timeout_seconds
    report = UploadReport(files=[], stored=0, already_present=0, rejected=0)
    for file in files:
        key = f"staging/uploads/{uuid.uuid4().hex}"
        await asyncio.to_thread(objects.put, key, file.file)
        try:
            answer = await store.IngestUpload(
                pb.IngestUploadRequest(object_key=key, file_name=file.filename or "upload"), timeout=timeout
            )
        finally:
            await asyncio.to_thread(objects.delete, key)
        report.files += [
            IngestedFile(
                name=f.name,
                status=pb.IngestStatus.Name(f.status).removeprefix("INGEST_STATUS_").lower(),  # type: ignore[arg-type]
                reason=f.reason,
                message=f.message,
                sop_instance_uid=f.sop_instance_uid,
                study_instance_uid=f.study_instance_uid,
            )
            for f in answer.files
        ]
        report.stored += answer.stored
        report.already_present += answer.already_present
        report.rejected += answer.rejected
    request.state.audit_details = {k: str(getattr(report, k)) for k in ("stored", "already_present", "rejected")}
    return report


View = Literal["axial", "coronal", "sagittal", "acquired"]


def _object_response(request: Request, key: str, media_type: str, filename: str | None = None) -> StreamingResponse:
    objects: ObjectStore = request.app.state.objects

    def chunks() -> Iterator[bytes]:
        with objects.open(key) as stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


@router.get(
    "/series/{series_instance_uid}/volume.nii.gz",
    summary="The series as a NIfTI volume (HU for CT; a 2D image as one slice)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/gzip": {}}}},
)
async def series_volume(
    series_instance_uid: str,
    request: Request,
    store: DicomStore,
    values: Annotated[Literal["rescaled", "stored"], Query(description="rescaled (HU for CT) or stored")] = "rescaled",
) -> StreamingResponse:
    answer = await store.ExportSeriesVolume(
        pb.ExportSeriesVolumeRequest(series_instance_uid=series_instance_uid, stored_values=values == "stored"),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    return _object_response(request, answer.object_key, "application/gzip", f"{series_instance_uid}.nii.gz")


@router.get(
    "/series/{series_instance_uid}/thumbnail.png",
    summary="A small PNG of the series' middle slice",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/png": {}}}},
)
async def series_thumbnail(
    series_instance_uid: str,
    request: Request,
    store: DicomStore,
    size: Annotated[int, Query(ge=16, le=512)] = 128,
    window: Annotated[str, Query(description="lung, mediastinum, bone, brain, auto or CENTER/WIDTH")] = "auto",
) -> StreamingResponse:
    answer = await store.RenderSeriesImage(
        pb.RenderSeriesImageRequest(
            series_instance_uid=series_instance_uid, view="thumbnail", index=-1, window=window, size=size
        )
    )
    return _object_response(request, answer.object_key, "image/png")


@router.get(
    "/series/{series_instance_uid}/images/{view}.png",
    summary="One slice of the series as PNG, with a window preset",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/png": {}}}},
)
async def series_image(
    series_instance_uid: str,
    view: View,
    request: Request,
    store: DicomStore,
    index: Annotated[int, Query(ge=-1, description="slice along the view's normal; -1 for the middle")] = -1,
    window: Annotated[str, Query(description="lung, mediastinum, bone, brain, auto or CENTER/WIDTH")] = "auto",
    size: Annotated[int, Query(ge=0, le=4096, description="longer side in pixels; 0 for native")] = 0,
) -> StreamingResponse:
    answer = await store.RenderSeriesImage(
        pb.RenderSeriesImageRequest(
            series_instance_uid=series_instance_uid, view=view, index=index, window=window, size=size
        )
    )
    return _object_response(request, answer.object_key, "image/png")


class DeidentificationRequest(BaseModel):
    project_id: str = Field(
        min_length=1, description="the project whose pseudonyms the copy uses; you must belong to it"
    )
    retain_longitudinal_dates: bool = Field(False, description="keep dates, shifted consistently per patient")
    retain_patient_characteristics: bool = Field(False, description="keep sex, age, size, weight")
    clean_descriptors: bool = Field(False, description="keep short descriptions, scrubbed")


class DeidentifiedCopy(BaseModel):
    study_instance_uid: str
    pseudonym: str
    instances: int
    actions: dict[str, int] = Field(description="data elements changed over all instances, by action")
    removed: list[str] = Field(description="keywords of the removed elements")
    burned_in_annotation: int = Field(description="instances declaring burned-in text (pixels are not cleaned)")


@router.post(
    "/studies/{study_instance_uid}/deidentified-copies",
    status_code=201,
    summary="Store a de-identified copy of a study for a project (PS3.15 Annex E basic profile + options)",
)
async def deidentify_study(
    study_instance_uid: str,
    body: DeidentificationRequest,
    request: Request,
    store: DicomStore,
    principal: CurrentPrincipal,
) -> DeidentifiedCopy:
    if not principal.user.is_admin and body.project_id not in principal.projects:
        raise PermissionDenied(f"you are not a member of project '{body.project_id}'", reason="NOT_A_PROJECT_MEMBER")
    answer = await store.CreateDeidentifiedCopy(
        pb.CreateDeidentifiedCopyRequest(
            study_instance_uid=study_instance_uid,
            project_id=body.project_id,
            options=pb.DeidentificationOptions(
                retain_longitudinal_dates=body.retain_longitudinal_dates,
                retain_patient_characteristics=body.retain_patient_characteristics,
                clean_descriptors=body.clean_descriptors,
            ),
        ),
        timeout=request.app.state.settings.upload_timeout_seconds,
    )
    request.state.audit_details = {"project": body.project_id, "copy": answer.study_instance_uid}
    return DeidentifiedCopy(
        study_instance_uid=answer.study_instance_uid,
        pseudonym=answer.pseudonym,
        instances=answer.instances,
        actions=dict(answer.actions),
        removed=list(answer.removed),
        burned_in_annotation=answer.burned_in_annotation,
    )
