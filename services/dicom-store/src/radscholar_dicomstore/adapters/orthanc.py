"""Orthanc's REST API: storing, reading files, the change log, series records and registered modalities."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import zipfile
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

import httpx
from pyorthanc import AsyncOrthanc

from radscholar_core.errors import NotFound, Unavailable
from radscholar_dicomstore.domain.ingest import CheckedInstance, IngestStatus, Rejection
from radscholar_dicomstore.domain.sites import Modality
from radscholar_dicomstore.domain.studies import (
    SeriesRecord,
    SeriesSummary,
    SliceGeometry,
    StudyRecord,
    parse_dicom_date,
    plane_of,
    slice_spacing,
)

T = TypeVar("T")


async def _call(request: Awaitable[T]) -> T:
    """Orthanc being down or refusing us is UNAVAILABLE for our callers, never INTERNAL; 404 is NOT_FOUND."""
    try:
        return await request
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 404:
            raise NotFound("the DICOM server no longer has this resource", reason="DICOM_RESOURCE_NOT_FOUND") from None
        raise _unavailable(exc) from None
    except httpx.TransportError as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: httpx.HTTPStatusError | httpx.TransportError) -> Unavailable:
    if isinstance(exc, httpx.HTTPStatusError):
        return Unavailable(f"the DICOM server answered {exc.response.status_code}", reason="DICOM_SERVER_ERROR")
    problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__  # httpx's timeouts say nothing
    return Unavailable(f"the DICOM server cannot be reached ({problem})", reason="DICOM_SERVER_UNREACHABLE")


# A kept-alive connection Orthanc closes just as a request goes out on it fails that request with one of these. The
# request is sent again (on another connection) when that is safe: reads, lookups, PUTs, and storing, to which
# Orthanc answers AlreadyStored for what it already holds.
_CONNECTION_LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_RESENDS = 2
_SAFE_POSTS = ("/instances", "/tools/lookup", "/tools/find")


def _resendable(request: httpx.Request) -> bool:
    return request.method in ("GET", "HEAD", "PUT") or (
        request.method == "POST" and request.url.path.endswith(_SAFE_POSTS)
    )


class _Resending(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(_RESENDS):
            try:
                return super().handle_request(request)
            except _CONNECTION_LOST:
                if not _resendable(request):
                    raise
        return super().handle_request(request)


class _AsyncResending(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(_RESENDS):
            try:
                return await super().handle_async_request(request)
            except _CONNECTION_LOST:
                if not _resendable(request):
                    raise
        return await super().handle_async_request(request)


def orthanc_instance_id(instance: CheckedInstance) -> str:
    """Orthanc's id of an instance: the SHA-1 of its patient id and study, series and SOP instance UIDs."""
    key = "|".join(
        (instance.patient_id, instance.study_instance_uid, instance.series_instance_uid, instance.sop_instance_uid)
    )
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def _zip_of(instances: Sequence[CheckedInstance]) -> bytes:
    """The instances as an uncompressed zip (compressing DICOM pixels costs more than it saves on a local link)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index, instance in enumerate(instances):
            archive.writestr(f"{index:06d}.dcm", instance.data)
    return buffer.getvalue()


def _tag(tags: dict[str, Any], name: str) -> str:
    value = tags.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _numbers(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split("\\")] if text else []
    except ValueError:
        return []


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


class OrthancStore:
    """Orthanc's REST API (pyorthanc's async client): the only place that knows Orthanc."""

    def __init__(self, url: str, username: str, password: str, timeout: float = 30.0) -> None:
        # A small pool: httpcore looks at every pooled connection on each request. Idle connections are dropped
        # before Orthanc's own keep-alive timeout (1 s) closes them, or a request could go out on a closed one.
        # Should one be closed all the same, a request that is safe to repeat is sent again (_Resending).
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=0.5)
        self._orthanc = AsyncOrthanc(
            url, username=username, password=password, timeout=timeout, transport=_AsyncResending(limits=limits)
        )
        self._sync = httpx.Client(
            base_url=url, auth=(username, password), timeout=timeout, transport=_Resending(limits=limits)
        )

    async def changes(self, since: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int, bool]:
        """Orthanc's change log after `since`: (changes, last sequence number, done)."""
        answer: dict[str, Any] = await _call(self._orthanc.get_changes(params={"since": since, "limit": limit}))  # type: ignore[assignment]
        return list(answer["Changes"]), int(answer["Last"]), bool(answer["Done"])

    async def last_change(self) -> int:
        answer: dict[str, Any] = await _call(self._orthanc.get_changes(params={"last": ""}))  # type: ignore[assignment]
        return int(answer["Last"])

    async def series_ids(self, series_instance_uids: Iterable[str]) -> list[str]:
        """Orthanc ids of the series with these UIDs that Orthanc holds."""
        return [i for uid in dict.fromkeys(series_instance_uids) for i in await self._ids_of(uid, "Series")]

    async def _ids_of(self, uid: str, level: str) -> list[str]:
        found: list[dict[str, Any]] = await _call(self._orthanc.post_tools_lookup(data=uid))  # type: ignore[assignment]
        return [item["ID"] for item in found if item.get("Type") == level]

    async def series_counts(self, orthanc_id: str) -> tuple[int, int] | None:
        """(instances, bytes of their DICOM files) of a series, cheaply; None when it is gone."""
        try:
            stats: dict[str, Any] = await _call(self._orthanc.get_series_id_statistics(orthanc_id))  # type: ignore[assignment]
        except NotFound:
            return None
        return int(stats["CountInstances"]), int(stats["DicomUncompressedSize"])

    async def series_record(self, orthanc_id: str, known: SeriesSummary | None) -> SeriesRecord | None:
        """The series, its study and its geometry; None when Orthanc no longer has it.

        The pixel grid (rows, columns, pixel spacing) is read from one file, unless `known` has it.
        """
        try:
            return await self._series_record(orthanc_id, known)
        except NotFound:  # deleted while we read it
            return None

    async def _series_record(self, orthanc_id: str, known: SeriesSummary | None) -> SeriesRecord | None:
        series: dict[str, Any] = await _call(self._orthanc.get_series_id(orthanc_id))  # type: ignore[assignment]
        study: dict[str, Any]
        instances: list[dict[str, Any]]
        study, instances = await asyncio.gather(
            _call(self._orthanc.get_studies_id(series["ParentStudy"])),  # type: ignore[arg-type]
            _call(self._orthanc.get_series_id_instances(orthanc_id, params={"expand": ""})),  # type: ignore[arg-type]
        )
        if not instances:
            return None
        instances.sort(key=lambda i: (_int(_tag(i["MainDicomTags"], "InstanceNumber")), i["ID"]))
        first = instances[0]
        metadata: dict[str, Any] = await _call(
            self._orthanc.get_instances_id_metadata(first["ID"], params={"expand": ""})
        )  # type: ignore[assignment]
        if known and known.rows:
            rows, columns, pixel_spacing = known.rows, known.columns, known.spacing[:2]
        else:
            tags: dict[str, Any] = await _call(self._orthanc.get_instances_id_simplified_tags(first["ID"]))  # type: ignore[assignment]
            rows, columns = _int(_tag(tags, "Rows")), _int(_tag(tags, "Columns"))
            row_col = _numbers(_tag(tags, "PixelSpacing") or _tag(tags, "ImagerPixelSpacing"))
            pixel_spacing = [row_col[1], row_col[0]] if len(row_col) == 2 else []
        geometry = SliceGeometry(
            orientation=_numbers(_tag(first["MainDicomTags"], "ImageOrientationPatient")),
            positions=[_numbers(_tag(i["MainDicomTags"], "ImagePositionPatient")) for i in instances],
            frames=sum(max(1, _int(_tag(i["MainDicomTags"], "NumberOfFrames"))) for i in instances),
        )
        between = slice_spacing(geometry)
        tags, study_tags, patient = series["MainDicomTags"], study["MainDicomTags"], study["PatientMainDicomTags"]
        orientation = geometry.orientation if len(geometry.orientation) == 6 else []
        return SeriesRecord(
            orthanc_id=orthanc_id,
            study=StudyRecord(
                study_instance_uid=_tag(study_tags, "StudyInstanceUID"),
                orthanc_id=study["ID"],
                patient_id=_tag(patient, "PatientID"),
                patient_name=_tag(patient, "PatientName"),
                study_date=parse_dicom_date(_tag(study_tags, "StudyDate")),
                description=_tag(study_tags, "StudyDescription"),
                accession_number=_tag(study_tags, "AccessionNumber"),
                institution=_tag(study_tags, "InstitutionName"),
            ),
            summary=SeriesSummary(
                series_instance_uid=_tag(tags, "SeriesInstanceUID"),
                study_instance_uid=_tag(study_tags, "StudyInstanceUID"),
                modality=_tag(tags, "Modality"),
                description=_tag(tags, "SeriesDescription"),
                series_number=_int(_tag(tags, "SeriesNumber")),
                body_part=_tag(tags, "BodyPartExamined").upper(),
                instance_count=len(instances),
                size_bytes=sum(int(i.get("FileSize", 0)) for i in instances),
                rows=rows,
                columns=columns,
                slices=geometry.frames,
                spacing=[*pixel_spacing, between] if pixel_spacing and between else list(pixel_spacing),
                orientation=orientation,
                plane=plane_of(orientation),
            ),
            calling_ae=str(metadata.get("RemoteAET", "")) if metadata.get("Origin") == "DicomProtocol" else "",
        )

    async def register_modality(self, modality: Modality) -> None:
        """Lets `modality` C-STORE (and echo) into Orthanc; nothing else (no find, get or move)."""
        await _call(
            self._orthanc.put_modalities_id(
                modality.ae_title,
                json={
                    "AET": modality.ae_title,
                    "Host": modality.host,
                    "Port": modality.port,
                    "AllowEcho": True,
                    "AllowStore": True,
                    "AllowFind": False,
                    "AllowMove": False,
                    "AllowGet": False,
                    "AllowStorageCommitment": False,
                },
            )
        )

    async def unregister_modality(self, ae_title: str) -> None:
        with contextlib.suppress(NotFound):
            await _call(self._orthanc.delete_modalities_id(ae_title))

    async def modalities(self) -> list[str]:
        return list(await _call(self._orthanc.get_modalities()))  # type: ignore[arg-type]

    async def store(self, instances: Sequence[CheckedInstance]) -> list[IngestStatus | Rejection]:
        """Stores instances, several in one zip (Orthanc takes a zip's entries in one request, faster than one by
        one). Each outcome is found by Orthanc's instance id; an instance the zip's answer does not name (Orthanc
        skips entries it refuses) is posted alone, so that its rejection carries Orthanc's reason."""
        if len(instances) == 1:
            return [await self._store_one(instances[0])]
        try:
            answer = await asyncio.to_thread(self._post, _zip_of(instances), "application/zip")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in (400, 415):
                raise _unavailable(exc) from None
            answer = []  # every instance is posted alone below
        except httpx.TransportError as exc:
            raise _unavailable(exc) from None
        statuses: dict[str, list[str]] = {}
        for stored in answer if isinstance(answer, list) else []:
            statuses.setdefault(str(stored.get("ID")), []).append(str(stored.get("Status")))
        outcomes: list[IngestStatus | Rejection] = []
        for instance in instances:
            found = statuses.get(orthanc_instance_id(instance))
            if not found:  # Orthanc may read the patient id otherwise: ask it for the instance's id
                ids = await self._ids_of(instance.sop_instance_uid, "Instance")
                found = next((statuses[i] for i in ids if statuses.get(i)), None)
            if found:
                outcomes.append(
                    IngestStatus.ALREADY_PRESENT if found.pop(0) == "AlreadyStored" else IngestStatus.STORED
                )
            else:
                outcomes.append(await self._store_one(instance))
        return outcomes

    async def _store_one(self, instance: CheckedInstance) -> IngestStatus | Rejection:
        """POST /instances; Orthanc answers AlreadyStored for a SOP Instance UID it holds."""
        try:
            answer = await asyncio.to_thread(self._post, instance.data, "application/dicom")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (400, 415):
                return Rejection(
                    instance.name,
                    "STORE_REFUSED",
                    f"the DICOM server refused {instance.name}: {exc.response.text[:200]}",
                )
            raise _unavailable(exc) from None
        except httpx.TransportError as exc:
            raise _unavailable(exc) from None
        status = answer.get("Status") if isinstance(answer, dict) else None
        return IngestStatus.ALREADY_PRESENT if status == "AlreadyStored" else IngestStatus.STORED

    def _post(self, body: bytes, content_type: str) -> Any:
        """POST /instances (sent again when the connection drops before any answer: see _Resending)."""
        answer = self._sync.post("/instances", content=body, headers={"Content-Type": content_type})
        answer.raise_for_status()
        return answer.json()

    async def series_instance_ids(self, series_instance_uid: str) -> list[str]:
        """Orthanc ids of a series' instances; NOT_FOUND for an unknown series."""
        found: list[str] = await _call(
            self._orthanc.post_tools_find(json={"Level": "Series", "Query": {"SeriesInstanceUID": series_instance_uid}})
        )  # type: ignore[assignment]
        if not found:
            raise NotFound(f"series '{series_instance_uid}' is not in the store", reason="SERIES_NOT_FOUND")
        series: dict[str, Any] = await _call(self._orthanc.get_series_id(found[0]))  # type: ignore[assignment]
        return list(series["Instances"])

    async def instance_file(self, instance_id: str) -> bytes:
        return await _call(self._orthanc.get_instances_id_file(instance_id))  # type: ignore[return-value]

    async def study_instance_ids(self, study_instance_uid: str) -> list[str]:
        """Orthanc ids of a study's instances; NOT_FOUND for an unknown study."""
        found: list[str] = await _call(
            self._orthanc.post_tools_find(json={"Level": "Study", "Query": {"StudyInstanceUID": study_instance_uid}})
        )  # type: ignore[assignment]
        if not found:
            raise NotFound(f"study '{study_instance_uid}' is not in the store", reason="STUDY_NOT_FOUND")
        instances: list[dict[str, Any]] = await _call(self._orthanc.get_studies_id_instances(found[0]))  # type: ignore[assignment]
        return [instance["ID"] for instance in instances]
