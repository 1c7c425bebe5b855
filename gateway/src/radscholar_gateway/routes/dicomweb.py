"""DICOMweb (PS3.18) at `/dicom-web/...`, behind the gateway's sign-in, permissions and audit.

QIDO-RS and WADO-RS are proxied to the DICOM server's DICOMweb plugin and streamed back unchanged.
STOW-RS is not proxied: each part is staged and ingested like a REST upload (the same checks,
de-duplication and report), then answered with the PS3.18 Store Instances Response.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO, cast

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.datastructures import URL

from radscholar_core.errors import NotFound, Unavailable
from radscholar_core.objectstore import ObjectStore
from radscholar_gateway.deps import DicomStore
from radscholar_gateway.dicomweb.multipart import (
    MalformedMultipart,
    PartData,
    PartSplitter,
    PartStarted,
    UnsupportedMediaType,
    related_boundary,
)
from radscholar_gateway.dicomweb.stow import (
    PartHeader,
    StoredPart,
    answer_type,
    http_status,
    read_part_header,
    stow_response,
    warning_header,
)
from radscholar_gateway.dicomweb.upstream import PASSED_HEADERS, forwarded, resource_path, transaction
from radscholar_gateway.errors import error_body
from radscholar_gateway.routes.dicom import Destination, IngestedFile, UploadReport, require_member
from radscholar_gateway.security.guard import CurrentPrincipal
from radscholar_proto.dicomstore.v1 import dicomstore_pb2 as pb

log = logging.getLogger(__name__)
router = APIRouter(prefix="/dicom-web", tags=["dicomweb"])

MAX_WARNING_HEADERS = 20  # failures beyond these are still in the body (and in the JSON report)


def dicomweb_upstream(request: Request) -> httpx.AsyncClient:
    return request.app.state.dicomweb  # type: ignore[no-any-return]


DicomWebUpstream = Annotated[httpx.AsyncClient, Depends(dicomweb_upstream)]


@router.get(
    "/{path:path}",
    summary="QIDO-RS searches and WADO-RS retrievals (studies, series, instances, metadata, frames, rendered)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/dicom+json": {}, "multipart/related": {}}}},
)
async def read(path: str, request: Request, upstream: DicomWebUpstream) -> Response:
    """Forwards the search or retrieval to the DICOM server with the caller's query and Accept header."""
    resource = resource_path(path)
    if resource is None:
        raise NotFound(f"'/dicom-web/{path}' is not a QIDO-RS or WADO-RS resource", reason="NOT_A_DICOMWEB_RESOURCE")
    query = request.url.query
    request.state.audit_details = {"transaction": transaction(resource), **({"query": query} if query else {})}
    headers = {"Forwarded": forwarded(public_base(request))}
    if accept := request.headers.get("accept"):
        headers["Accept"] = accept
    outgoing = upstream.build_request("GET", f"{resource}?{query}" if query else resource, headers=headers)
    try:
        answer = await upstream.send(outgoing, stream=True)
    except httpx.TransportError as exc:
        log.warning("DICOMweb upstream unreachable", extra={"error": type(exc).__name__})
        raise Unavailable("the DICOM server is not reachable; retry later", reason="SERVICE_UNAVAILABLE") from None
    if answer.status_code in (401, 403):  # the gateway's own credentials, never the caller's
        await answer.aclose()
        log.error("the DICOM server refused the gateway's DICOMweb credentials", extra={"status": answer.status_code})
        return error_body(502, "BAD_GATEWAY", "DICOM_SERVER_REFUSED", "the DICOM server refused the gateway's request")

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        finally:
            await answer.aclose()

    passed = {name: value for name in PASSED_HEADERS if (value := answer.headers.get(name)) is not None}
    return StreamingResponse(body(), status_code=answer.status_code, headers=passed)


STOW_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            'multipart/related; type="application/dicom"': {
                "schema": {"type": "string", "format": "binary", "description": "one DICOM file per part"}
            }
        },
    }
}
STOW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "every instance stored (or already stored)", "content": {"application/dicom+json": {}}},
    202: {"description": "some instances stored, some failed (Failed SOP Sequence)"},
    409: {"description": "no instance stored"},
    400: {"description": "not a valid multipart body"},
    406: {"description": "the Accept header allows neither application/dicom+json nor application/json"},
    415: {"description": 'not multipart/related; type="application/dicom"'},
}


@router.post(
    "/studies",
    summary="STOW-RS: store DICOM instances, each through the ingest checks",
    response_class=JSONResponse,
    responses=STOW_RESPONSES,
    openapi_extra=STOW_OPENAPI,
)
async def store_instances(
    request: Request, store: DicomStore, principal: CurrentPrincipal, into: Annotated[Destination, Depends()]
) -> Response:
    require_member(principal, into.project_id)
    return await _store(request, store, "", into)


@router.post(
    "/studies/{study_instance_uid}",
    summary="STOW-RS into one study: instances of another study are refused",
    response_class=JSONResponse,
    responses=STOW_RESPONSES,
    openapi_extra=STOW_OPENAPI,
)
async def store_study_instances(
    study_instance_uid: str,
    request: Request,
    store: DicomStore,
    principal: CurrentPrincipal,
    into: Annotated[Destination, Depends()],
) -> Response:
    require_member(principal, into.project_id)
    return await _store(request, store, study_instance_uid, into)


def public_base(request: Request) -> URL:
    """The gateway's address as the caller should use it: the configured public URL, else the request's."""
    configured: str | None = request.app.state.settings.public_url
    return URL(configured.rstrip("/") + "/") if configured else request.base_url


async def _store(request: Request, store: DicomStore, study_instance_uid: str, into: Destination) -> Response:
    answer_as = answer_type(request.headers.get("accept"))
    if answer_as is None:
        return error_body(
            406,
            "NOT_ACCEPTABLE",
            "NOT_ACCEPTABLE",
            "STOW-RS answers in application/dicom+json (or application/json for the per-file report)",
        )
    try:
        splitter = PartSplitter(related_boundary(request.headers.get("content-type")))
        parts = await StowIngest(request, store, study_instance_uid, into).run(request.stream(), splitter)
    except UnsupportedMediaType as exc:
        return error_body(415, "UNSUPPORTED_MEDIA_TYPE", "UNSUPPORTED_MEDIA_TYPE", str(exc))
    except MalformedMultipart as exc:
        return error_body(400, "INVALID_ARGUMENT", "MALFORMED_MULTIPART", str(exc))
    stored, already_present, rejected = (
        sum(p.status == status for p in parts) for status in ("stored", "already_present", "rejected")
    )
    request.state.audit_details = {
        "transaction": "STOW-RS",
        "stored": str(stored),
        "already_present": str(already_present),
        "rejected": str(rejected),
    } | {k: v for k, v in (("site", into.site), ("project", into.project_id)) if v}
    status = http_status(parts)
    if answer_as == "report":
        report = UploadReport(
            files=[
                IngestedFile(
                    name=p.name,
                    status=p.status,
                    reason=p.reason,
                    message=p.message,
                    sop_instance_uid=p.sop_instance_uid,
                    study_instance_uid=p.study_instance_uid,
                )
                for p in parts
            ],
            stored=stored,
            already_present=already_present,
            rejected=rejected,
        )
        return JSONResponse(report.model_dump(), status_code=status)
    response = JSONResponse(
        stow_response(parts, f"{public_base(request)}dicom-web/", study_instance_uid),
        status_code=status,
        media_type="application/dicom+json",
    )
    for part in [p for p in parts if not p.succeeded][:MAX_WARNING_HEADERS]:
        response.headers.append("Warning", warning_header(part))
    return response


class _Spool:
    """One part's bytes in a temporary file, written in batches off the event loop."""

    FLUSH_BYTES = 1 << 20

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    @classmethod
    async def open(cls) -> _Spool:
        return cls(cast(BinaryIO, await asyncio.to_thread(tempfile.TemporaryFile, prefix="rs-stow-")))

    async def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= self.FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._pending_bytes = [], 0
            await asyncio.to_thread(self.file.write, data)

    async def close(self) -> None:
        await asyncio.to_thread(self.file.close)


class StowIngest:
    """Ingests the parts of one STOW-RS request one after the other, as they arrive."""

    def __init__(self, request: Request, store: DicomStore, study_instance_uid: str, into: Destination) -> None:
        self._objects: ObjectStore = request.app.state.objects
        self._timeout: float = request.app.state.settings.upload_timeout_seconds
        self._store = store
        self._study = study_instance_uid
        self._into = into

    async def run(self, body: AsyncIterator[bytes], splitter: PartSplitter) -> list[StoredPart]:
        """A result per part; a bad part never stops the rest. Raises `MalformedMultipart` when the
        body holds no part at all; a body that breaks off later fails only the part it broke off in.

        Parts are checked and staged as they arrive, then ingested in one call (indexed once)."""
        parts: list[StoredPart | _Staged] = []
        spool: _Spool | None = None
        number = 0  # of the part being received
        try:
            try:
                async for chunk in body:
                    for event in splitter.feed(chunk):
                        if isinstance(event, PartStarted):
                            number += 1
                            spool = await _Spool.open()
                        elif isinstance(event, PartData):
                            assert spool is not None
                            await spool.write(event.data)
                        else:
                            assert spool is not None
                            try:
                                parts.append(await self._stage(spool, f"part {number}"))
                            finally:
                                await spool.close()
                                spool = None
                if not splitter.finished:
                    raise MalformedMultipart("the body ended before the closing boundary")
            except MalformedMultipart as exc:
                if spool is not None:
                    parts.append(StoredPart(f"part {number}", "rejected", "INCOMPLETE_PART", str(exc)))
                if not parts:
                    raise
            finally:
                if spool is not None:
                    await spool.close()
            if not parts:
                raise MalformedMultipart("the body holds no parts")
            return await self._ingest(parts)
        finally:
            for part in parts:
                if isinstance(part, _Staged):
                    await asyncio.to_thread(self._objects.delete, part.key)

    async def _stage(self, spool: _Spool, name: str) -> StoredPart | _Staged:
        """Refuses what must not be stored (archives, another study's instances), else stages the part."""
        await spool.flush()
        header = await asyncio.to_thread(read_part_header, spool.file)
        if header.archive:
            return StoredPart(
                name,
                "rejected",
                "NOT_DICOM",
                f"'{name}' is a zip archive: STOW-RS takes one DICOM instance per part "
                "(archives go to /api/v1/dicom/uploads)",
            )
        if self._study and header.study_instance_uid and header.study_instance_uid != self._study:
            return StoredPart(
                name,
                "rejected",
                "STUDY_MISMATCH",
                f"'{name}' belongs to study {header.study_instance_uid}, not to study {self._study} of the URL",
                sop_class_uid=header.sop_class_uid,
                sop_instance_uid=header.sop_instance_uid,
                study_instance_uid=header.study_instance_uid,
            )
        key = f"staging/uploads/{uuid.uuid4().hex}"
        await asyncio.to_thread(self._objects.put, key, spool.file)
        return _Staged(key, name, header)

    async def _ingest(self, parts: list[StoredPart | _Staged]) -> list[StoredPart]:
        staged = [p for p in parts if isinstance(p, _Staged)]
        if not staged:
            return [p for p in parts if isinstance(p, StoredPart)]
        answer = await self._store.IngestUpload(
            pb.IngestUploadRequest(
                files=[pb.StagedFile(object_key=p.key, file_name=p.name) for p in staged],
                site_id=self._into.site,
                project_id=self._into.project_id,
            ),
            timeout=self._timeout,
        )
        if len(answer.files) != len(staged):  # a non-archive file always gets exactly one line
            raise RuntimeError(f"the DICOM store answered {len(answer.files)} lines for {len(staged)} instances")
        lines = iter(answer.files)
        return [_stored_part(next(lines), p.header) if isinstance(p, _Staged) else p for p in parts]


@dataclass(frozen=True)
class _Staged:
    """A part waiting in the object store for the ingest call."""

    key: str
    name: str
    header: PartHeader


def _stored_part(line: pb.IngestedFile, header: PartHeader) -> StoredPart:
    status = pb.IngestStatus.Name(line.status).removeprefix("INGEST_STATUS_").lower()
    same = bool(line.sop_instance_uid) and line.sop_instance_uid == header.sop_instance_uid
    return StoredPart(
        name=line.name,
        status=status,  # type: ignore[arg-type]
        reason=line.reason,
        message=line.message,
        sop_class_uid=header.sop_class_uid if same else "",
        sop_instance_uid=line.sop_instance_uid,
        study_instance_uid=line.study_instance_uid,
        series_instance_uid=header.series_instance_uid if same else "",
    )
