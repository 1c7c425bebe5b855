"""Sites (hospitals), the modalities that C-STORE for them, and projects' ingest profiles."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from radscholar_gateway.convert import to_model
from radscholar_gateway.deps import DicomStore
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb

router = APIRouter(prefix="/api/v1", tags=["sites"])


class Modality(BaseModel):
    ae_title: str = Field(description="its AE title: 1 to 16 letters, digits, '_', '-' or '.'")
    site_id: str
    host: str = Field(description="the IP address or host name it connects from")
    port: int = Field(description="its own DICOM port")
    description: str = ""


class NewModality(BaseModel):
    ae_title: str
    host: str
    port: int = Field(104, ge=1, le=65535)
    description: str = ""


class Site(BaseModel):
    id: str
    name: str
    institution_names: list[str]
    registered: bool = Field(description="False for an institution studies came from that is not a registered site")
    modalities: list[Modality]
    patients: int
    studies: int
    series: int
    instances: int
    size_bytes: int


class SiteList(BaseModel):
    sites: list[Site]


class NewSite(BaseModel):
    id: str = Field(description="1 to 63 lower-case letters, digits or '-'", examples=["st-mary"])
    name: str = Field(examples=["St Mary's Hospital"])
    institution_names: list[str] = Field(
        default_factory=list, description="InstitutionName values that mean this site (case-insensitive)"
    )


class IngestProfile(BaseModel):
    deidentify: bool = Field(False, description="de-identify every uploaded file before it is stored")
    retain_longitudinal_dates: bool = Field(False, description="keep dates, shifted consistently per patient")
    retain_patient_characteristics: bool = Field(False, description="keep sex, age, size, weight")
    clean_descriptors: bool = Field(False, description="keep short descriptions, scrubbed")


@router.get("/sites", summary="Sites with their counts (registered ones, then unregistered institutions)")
async def list_sites(store: DicomStore) -> SiteList:
    answer = await store.ListSites(pb.ListSitesRequest())
    return SiteList(sites=[to_model(Site, s) for s in answer.sites])


@router.post("/sites", status_code=201, summary="Register a site")
async def create_site(body: NewSite, store: DicomStore) -> Site:
    return to_model(Site, await store.CreateSite(pb.CreateSiteRequest(**body.model_dump())))


@router.delete("/sites/{site_id}", status_code=204, summary="Remove a site and its modalities (studies keep it)")
async def delete_site(site_id: str, store: DicomStore) -> Response:
    await store.DeleteSite(pb.DeleteSiteRequest(id=site_id))
    return Response(status_code=204)


@router.post("/sites/{site_id}/modalities", status_code=201, summary="Allow a modality or PACS to C-STORE for the site")
async def register_modality(site_id: str, body: NewModality, store: DicomStore, request: Request) -> Modality:
    answer = await store.RegisterModality(
        pb.RegisterModalityRequest(modality=pb.Modality(site_id=site_id, **body.model_dump()))
    )
    request.state.audit_details = {"ae_title": answer.ae_title, "host": answer.host}
    return to_model(Modality, answer)


@router.delete("/sites/{site_id}/modalities/{ae_title}", status_code=204, summary="Stop accepting an AE title")
async def unregister_modality(site_id: str, ae_title: str, store: DicomStore) -> Response:
    await store.UnregisterModality(pb.UnregisterModalityRequest(site_id=site_id, ae_title=ae_title))
    return Response(status_code=204)


def _profile(answer: pb.IngestProfile) -> IngestProfile:
    return IngestProfile(
        deidentify=answer.deidentify, **to_model(IngestProfile, answer.options).model_dump(exclude={"deidentify"})
    )


@router.get("/projects/{project_id}/ingest-profile", summary="What the project asks of uploads into it")
async def get_ingest_profile(project_id: str, store: DicomStore) -> IngestProfile:
    return _profile(await store.GetIngestProfile(pb.GetIngestProfileRequest(project_id=project_id)))


@router.put("/projects/{project_id}/ingest-profile", summary="De-identify uploads into the project (or stop)")
async def set_ingest_profile(
    project_id: str, body: IngestProfile, store: DicomStore, request: Request
) -> IngestProfile:
    options = body.model_dump(exclude={"deidentify"})
    answer = await store.SetIngestProfile(
        pb.SetIngestProfileRequest(
            profile=pb.IngestProfile(
                project_id=project_id, deidentify=body.deidentify, options=pb.DeidentificationOptions(**options)
            )
        )
    )
    request.state.audit_details = {"deidentify": str(body.deidentify).lower()}
    return _profile(answer)
