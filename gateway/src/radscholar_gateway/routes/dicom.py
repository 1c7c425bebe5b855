"""DICOM store: statistics, patient/study/series queries, uploads, pixels, de-identified copies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from radscholar_core.errors import NotFound, PermissionDenied
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.convert import page_request, to_model
from radscholar_gateway.deps import DicomStore
from radscholar_gateway.security.guard import CurrentPrincipal
from radscholar_gateway.security.principal import Principal
from radscholar_gateway.staging import staged_together
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb

router = APIRouter(prefix="/api/v1/dicom", tags=["dicom"])


class StatisticsGroup(BaseModel):
    key: str = Field(description="the modality, site or month (YYYY-MM of the study date)")
    studies: int
    series: int
    instances: int
    size_bytes: int


class StoreStatistics(BaseModel):
    patients: int
    studies: int
    series: int
    instances: int
    disk_size_bytes: int
    by_modality: list[StatisticsGroup]
    by_site: list[StatisticsGroup]
    by_month: list[StatisticsGroup]


class Patient(BaseModel):
    patient_id: str
    patient_name: str
    study_count: int
    series_count: int
    instance_count: int
    latest_study_date: str
    sites: list[str]


class PatientPage(BaseModel):
    patients: list[Patient]
    next_page_token: str
    total_size: int


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
    site: str = Field(description="registered site id, or the institution name of an unregistered site")
    project_ids: list[str]
    size_bytes: int
    body_parts: list[str]
    received_at: str


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
    size_bytes: int
    rows: int
    columns: int
    slices: int = Field(description="frames over all instances (a 2D image is 1)")
    spacing: list[float] = Field(description="mm between columns, rows and (when known) slices")
    orientation: list[float] = Field(description="Image Orientation (Patient), 6 direction cosines")
    plane: str = Field(description="axial, coronal, sagittal, oblique or empty")


class SeriesPage(BaseModel):
    series: list[Series]
    next_page_token: str
    total_size: int


class SeriesList(BaseModel):
    series: list[Series]


def study_filter(
    patient_id: str = "",
    modality: Annotated[str, Query(description="CT, MR, DX, MG, ...")] = "",
    study_date_from: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    study_date_to: Annotated[str, Query(description="YYYY-MM-DD, inclusive")] = "",
    description: Annotated[str, Query(description="text contained in the study description")] = "",
    institution: str = "",
    body_part: Annotated[str, Query(description="Body Part Examined, e.g. CHEST")] = "",
    site: Annotated[str, Query(description="site id (or institution name of an unregistered site)")] = "",
    project_id: Annotated[str, Query(description="studies ingested into or copied for this project")] = "",
) -> pb.StudyFilter:
    return pb.StudyFilter(
        patient_id=patient_id,
        modality=modality,
        study_date_from=study_date_from,
        study_date_to=study_date_to,
        description_contains=description,
        institution=institution,
        body_part=body_part,
        site=site,
        project_id=project_id,
    )


Filter = Annotated[pb.StudyFilter, Depends(study_filter)]
PageSize = Annotated[int, Query(ge=0, le=1000)]


@router.get("/statistics", summary="Counts and storage of the DICOM store, by modality, site and month")
async def statistics(store: DicomStore) -> StoreStatistics:
    return to_model(StoreStatistics, await store.GetStoreStatistics(pb.GetStoreStatisticsRequest()))


@router.get("/patients", summary="Find patients with matching studies")
async def query_patients(
    store: DicomStore,
    filter: Filter,
    sort: Annotated[str, Query(description="latest_study_date (default, newest first), patient_id, studies")] = "",
    page_size: PageSize = 50,
    page_token: str = "",
) -> PatientPage:
    answer = await store.QueryPatients(
        pb.QueryPatientsRequest(filter=filter, sort=sort, page=page_request(page_size, page_token))
    )
    return PatientPage(
        patients=[to_model(Patient, p) for p in answer.patients],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/studies", summary="Find studies, newest first unless sorted otherwise")
async def query_studies(
    store: DicomStore,
    filter: Filter,
    sort: Annotated[
        str,
        Query(
            description="study_date (default, newest first), received, patient_id, description, instances, size; "
            "'-' in front for descending"
        ),
    ] = "",
    page_size: PageSize = 50,
    page_token: str = "",
) -> StudyPage:
    answer = await store.QueryStudies(
        pb.QueryStudiesRequest(filter=filter, sort=sort, page=page_request(page_size, page_token))
    )
    return StudyPage(
        studies=[to_model(Study, s) for s in answer.studies],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/series", summary="Find series")
async def query_series(
    store: DicomStore,
    filter: Filter,
    sort: Annotated[
        str, Query(description="series_number (default), modality, body_part, instances, size, study_date")
    ] = "",
    page_size: PageSize = 50,
    page_token: str = "",
) -> SeriesPage:
    answer = await store.QuerySeries(
        pb.QuerySeriesRequest(filter=filter, sort=sort, page=page_request(page_size, page_token))
    )
    return SeriesPage(
        series=[to_model(Series, s) for s in answer.series],
        next_page_token=answer.page.next_page_token,
        total_size=answer.page.total_size,
    )


@router.get("/series/{series_instance_uid}", summary="One series: modality, dimensions, spacing, orientation")
async def get_series(series_instance_uid: str, store: DicomStore) -> Series:
    return to_model(Series, await store.GetSeries(pb.GetSeriesRequest(series_instance_uid=series_instance_uid)))


@router.get("/studies/{study_instance_uid}/series", summary="The series of one study")
async def list_series(study_instance_uid: str, store: DicomStore) -> SeriesList:
    answer = await store.QuerySeries(
        pb.QuerySeriesRequest(filter=pb.StudyFilter(study_instance_uid=study_instance_uid), page=page_request(1000, ""))
    )
    if not answer.series:
        raise NotFound(f"study '{study_instance_uid}' is not in the store", reason="STUDY_NOT_FOUND")
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
    deidentified: dict[str, int] = Field(
        default_factory=dict, description="when the project de-identifies on ingest: elements changed, by action"
    )
    removed: list[str] = Field(default_factory=list, description="keywords of the elements de-identification removed")


@dataclass(frozen=True)
class Destination:
    """Where ingested files go (query parameters of uploads and STOW-RS)."""

    site: Annotated[str, Query(description="the registered site the files come from")] = ""
    project_id: Annotated[
        str, Query(description="the project the files go into (de-identified first if the project asks)")
    ] = ""


def require_member(principal: Principal, project_id: str) -> None:
    if project_id and not principal.user.is_admin and project_id not in principal.projects:
        raise PermissionDenied(f"you are not a member of project '{project_id}'", reason="NOT_A_PROJECT_MEMBER")


@router.post("/uploads", summary="Upload DICOM files or zip archives; a report line per file")
async def upload(
    files: list[UploadFile],
    request: Request,
    store: DicomStore,
    principal: CurrentPrincipal,
    into: Annotated[Destination, Depends()],
) -> UploadReport:
    """Each upload is staged in the object store and ingested by the DICOM store; bad files never stop the rest."""
    site, project_id = into.site, into.project_id
    require_member(principal, project_id)
    timeout = request.app.state.settings.upload_timeout_seconds
    async with staged_together(request, [file.file for file in files], "staging/uploads") as bundle:
        answer = await store.IngestUpload(
            pb.IngestUploadRequest(
                files=[
                    pb.StagedFile(
                        object_key=bundle.key,
                        file_name=file.filename or "upload",
                        byte_range=pb.ByteRange(offset=offset, length=length),
                    )
                    for (offset, length), file in zip(bundle.ranges, files, strict=True)
                ],
                site_id=site,
                project_id=project_id,
            ),
            timeout=timeout,
        )
    report = UploadReport(
        files=[
            IngestedFile(
                name=f.name,
                status=pb.IngestStatus.Name(f.status).removeprefix("INGEST_STATUS_").lower(),  # type: ignore[arg-type]
                reason=f.reason,
                message=f.message,
                sop_instance_uid=f.sop_instance_uid,
                study_instance_uid=f.study_instance_uid,
            )
            for f in answer.files
        ],
        stored=answer.stored,
        already_present=answer.already_present,
        rejected=answer.rejected,
        deidentified=dict(answer.deidentified),
        removed=list(answer.removed),
    )
    request.state.audit_details = {k: str(getattr(report, k)) for k in ("stored", "already_present", "rejected")} | {
        k: v for k, v in (("site", site), ("project", project_id)) if v
    }
    return report


View = Literal["axial", "coronal", "sagittal", "acquired"]


def object_response(
    request: Request, key: str, media_type: str, filename: str | None = None, *, delete_after: bool = False
) -> StreamingResponse:
    """An object of the object store streamed to the client (deleted once sent, for one-off exports)."""
    objects: ObjectStore = request.app.state.objects

    def chunks() -> Iterator[bytes]:
        with objects.open(key) as stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
    cleanup = BackgroundTask(objects.delete, key) if delete_after else None
    return StreamingResponse(chunks(), media_type=media_type, headers=headers, background=cleanup)


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
    return object_response(request, answer.object_key, "application/gzip", f"{series_instance_uid}.nii.gz")


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
    return object_response(request, answer.object_key, "image/png")


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
    return object_response(request, answer.object_key, "image/png")


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
    require_member(principal, body.project_id)
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
