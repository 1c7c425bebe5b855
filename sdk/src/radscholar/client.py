"""A thin client of the gateway's REST API, signed in with a password session, a token or an API key."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal, TypedDict, TypeVar, Unpack, cast
from urllib.parse import quote

import httpx
import pydicom

from radscholar.credentials import CredentialStore, Login
from radscholar.uploads import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_FILES,
    REQUEST_TOO_LARGE,
    UNREADABLE,
    CountingReader,
    FileResult,
    IngestLine,
    LocalFile,
    UploadSummary,
    attribute,
    local_files,
    plan_batches,
    rejected_whole,
)

DEFAULT_URL = "http://127.0.0.1:8000"
API_KEY_ENV = "RADSCHOLAR_API_KEY"
# A 401 with one of these reasons is worth one refresh: expired, or not verifiable any more (for
# instance the gateway's signing key changed); refresh tokens live server-side and may still be good.
REFRESHABLE = frozenset({"TOKEN_EXPIRED", "TOKEN_INVALID"})
# Refresh this long before the access token's stated expiry, so a call does not race the clock.
EXPIRY_MARGIN = timedelta(seconds=30)
PAGE_SIZE = 200

# Reading a whole batch's response may take long: the gateway ingests every file before it answers.
UPLOAD_TIMEOUT = 900.0
# A feature table may be large; this is a pause between its chunks, not the whole download.
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, read=300.0)
# The gateway sends a comment line on a quiet event stream every 15 s; this much silence means it is gone.
STREAM_READ_TIMEOUT = 60.0
FINISHED_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
RADIOMICS_JOBS = "/api/v1/radiomics/jobs"
STATS_JOBS = "/api/v1/stats/jobs"
TRAINING_JOBS = "/api/v1/training/jobs"
TRAINING_RUNS = "/api/v1/training/runs"
MODELS = "/api/v1/models"

Body = dict[str, Any] | Callable[[], dict[str, Any]] | None
Files = list[tuple[str, tuple[str, Any, str]]] | None
T = TypeVar("T")


class ResultList(list[T]):
    """A list of results, with ``total_size``: how many the gateway has in all (None when it did not say)."""

    total_size: int | None = None


class BatchResult(list[FileResult]):
    """The files of one batch, in the order sent; ``unmatched`` holds report lines naming none of them.

    When the project uploaded into de-identifies on ingest, ``deidentified`` counts the data elements it
    changed, by action (removed, replaced, pseudonymised, ...), and ``removed`` names the elements removed.
    """

    unmatched: list[IngestLine]
    deidentified: dict[str, int]
    removed: list[str]

    def __init__(
        self,
        results: Iterable[FileResult] = (),
        unmatched: Iterable[IngestLine] = (),
        deidentified: dict[str, int] | None = None,
        removed: Iterable[str] = (),
    ) -> None:
        super().__init__(results)
        self.unmatched = list(unmatched)
        self.deidentified = dict(deidentified or {})
        self.removed = sorted(set(removed))

    @classmethod
    def joined(cls, first: BatchResult, second: BatchResult) -> BatchResult:
        """One batch's results from those of its two halves."""
        counts = dict(first.deidentified)
        for action, count in second.deidentified.items():
            counts[action] = counts.get(action, 0) + count
        return cls([*first, *second], first.unmatched + second.unmatched, counts, [*first.removed, *second.removed])


class StudyFilter(TypedDict, total=False):
    """Filters of studies, and of the patients and series in them; they combine with AND.

    ``patient_id`` is matched exactly; ``modality`` (CT, MR, DX, MG, ...) and ``body_part`` (Body Part
    Examined, e.g. CHEST) are any series' of the study; ``study_date_from`` and ``study_date_to`` are days
    (YYYY-MM-DD), both ends included; ``description`` is text the study description contains; ``site`` is a
    registered site's id (or the institution name of an unregistered one); ``project_id`` a project the
    study was uploaded into or copied for.
    """

    patient_id: str | None
    modality: str | None
    study_date_from: date | str | None
    study_date_to: date | str | None
    description: str | None
    institution: str | None
    body_part: str | None
    site: str | None
    project_id: str | None


class CaseQuery(TypedDict, total=False):
    """Studies of the DICOM store to add as cases, filtered as :class:`StudyFilter` filters them."""

    modality: str | None
    site: str | None
    study_date_from: date | str | None
    study_date_to: date | str | None
    description: str | None
    body_part: str | None
    patient_id: str | None


class ApiError(Exception):
    """An error answer of the gateway, with its machine-readable reason."""

    def __init__(self, status: int, code: str, reason: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.code, self.reason, self.message, self.details = (
            status,
            code,
            reason,
            message,
            details,
        )

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            if not isinstance(error, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            error = {"code": "HTTP_ERROR", "reason": "HTTP_ERROR", "message": response.text[:500]}
        return cls(
            response.status_code,
            error.get("code") or "",
            error.get("reason") or "",
            error.get("message") or "",
            error.get("details") or {},
        )


class Client:
    """Talks to one RadScholar gateway. `url` defaults to $RADSCHOLAR_URL, then 127.0.0.1:8000.

    Credentials, first found wins: ``token`` (a bearer access token), ``api_key`` (``rsk_...``), the
    sign-in kept in ``credentials`` for this URL, then $RADSCHOLAR_API_KEY. A stored or ``login()``
    session is refreshed when its access token is due or the gateway says it expired, once per call;
    the rotated pair is saved back to ``credentials``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        api_key: str | None = None,
        credentials: CredentialStore | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.url = (url or os.environ.get("RADSCHOLAR_URL") or DEFAULT_URL).rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._credentials = credentials
        self._refresh_lock = threading.Lock()
        self._login: Login | None = None
        self._bearer: str | None = None
        self.auth = "none"
        if token:
            self._bearer, self.auth = token, "token"
        elif api_key:
            self._bearer, self.auth = api_key, "api_key"
        elif credentials is not None and (stored := credentials.get(self.url)) is not None:
            self._login, self.auth = stored, "login"
        elif env_key := os.environ.get(API_KEY_ENV):
            self._bearer, self.auth = env_key, "api_key"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def current_login(self) -> Login | None:
        """The password session this client uses, if it uses one."""
        return self._login

    # -- transport -------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (),
        json: Body = None,
        params: dict[str, Any] | None = None,
        authenticated: bool = True,
        files: Files = None,
        timeout: float | None = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
        raw: bool = False,
    ) -> Any:
        """One call; ``files`` (a multipart body of open files, rewound by httpx when sent again), ``content`` (a
        raw body) and ``timeout`` (instead of the client's) are for uploads; ``raw`` answers the body's bytes."""
        if authenticated and self._login is not None and self._login.access_expires_within(EXPIRY_MARGIN):
            self._refresh(self._login)
        sent_with = self._login

        def send() -> httpx.Response:
            return self._send(
                method,
                path,
                json,
                authenticated,
                params=params,
                files=files,
                timeout=timeout,
                content=content,
                content_type=content_type,
            )

        response = send()
        if (
            response.status_code == 401
            and authenticated
            and sent_with is not None
            and ApiError.of(response).reason in REFRESHABLE
        ):
            self._refresh(sent_with)
            response = send()
        if response.is_success or response.status_code in ok:
            if raw:
                return response.content
            return response.json() if response.content else None
        raise ApiError.of(response)

    def _send(
        self,
        method: str,
        path: str,
        json: Body,
        authenticated: bool,
        *,
        params: dict[str, Any] | None = None,
        files: Files = None,
        timeout: float | None = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if content is not None else {}
        if authenticated:
            headers |= self._authorization()
        body = json() if callable(json) else json
        return self._http.request(
            method,
            path,
            json=body,
            params=params,
            headers=headers,
            files=files,
            content=content,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout),
        )

    def _authorization(self) -> dict[str, str]:
        bearer = self._login.access_token if self._login is not None else self._bearer
        return {"Authorization": f"Bearer {bearer}"} if bearer else {}

    @contextlib.contextmanager
    def _streamed(self, path: str, timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives (event streams, downloads); an error answer raises ApiError, and
        an expired session is refreshed once, as in :meth:`_request`."""
        if self._login is not None and self._login.access_expires_within(EXPIRY_MARGIN):
            self._refresh(self._login)
        for retried in (False, True):
            sent_with = self._login
            with self._http.stream("GET", path, headers=self._authorization(), timeout=timeout) as response:
                if response.is_success:
                    yield response
                    return
                response.read()
                error = ApiError.of(response)
            if retried or error.status != 401 or sent_with is None or error.reason not in REFRESHABLE:
                raise error
            self._refresh(sent_with)

    # -- jobs (radiomics batches, statistics analyses): the same routes under each service's ``jobs`` path ------

    def _job(self, jobs: str, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"{jobs}/{_segment(job_id)}")  # type: ignore[no-any-return]

    def _watch_job(self, jobs: str, job_id: str, timeout: float | None) -> Iterator[dict[str, Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        path = f"{jobs}/{_segment(job_id)}/events"
        with self._streamed(path, httpx.Timeout(30.0, read=STREAM_READ_TIMEOUT)) as response:
            for kind, data in _server_sent_events(response.iter_lines(), deadline):
                if kind == "error":
                    answer = json.loads(data)
                    error = answer.get("error") or {}
                    raise ApiError(
                        int(answer.get("status") or 0),
                        error.get("code") or "",
                        error.get("reason") or "",
                        error.get("message") or "",
                        error.get("details") or {},
                    )
                yield json.loads(data)

    def _wait_for_job(
        self,
        jobs: str,
        job_id: str,
        on_event: Callable[[dict[str, Any]], None] | None,
        timeout: float | None,
    ) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                for event in self._watch_job(jobs, job_id, left):
                    if on_event is not None:
                        on_event(event)
                    if job_state(event["job"]) in FINISHED_STATES:
                        return event["job"]  # type: ignore[no-any-return]
            except TimeoutError:
                raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s") from None
            except httpx.RemoteProtocolError:
                pass  # the gateway went away mid-stream (a restart): look at the job, then follow it again
            job: dict[str, Any] = self._job(jobs, job_id)["job"]
            if job_state(job) in FINISHED_STATES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not finish within {timeout:g} s")
            time.sleep(1.0)

    def _cancel_job(self, jobs: str, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"{jobs}/{_segment(job_id)}/cancel")["job"]  # type: ignore[no-any-return]

    def _refresh(self, stale: Login) -> None:
        """Replaces the stale session with a rotated one, unless another thread or process already did.

        A refresh the gateway refuses (401) ends the session here too: it is forgotten, and the error
        raised, since no later call could succeed with it.
        """
        with self._refresh_lock, self._store_lock():
            if self._login is not stale:
                return  # another thread refreshed meanwhile
            if self._credentials is not None:
                stored = self._credentials.get(self.url)
                if stored is not None and stored.refresh_token != stale.refresh_token:
                    self._login = stored  # another process refreshed (or signed in) meanwhile
                    return
            response = self._http.post("/api/v1/auth/refresh", json={"refresh_token": stale.refresh_token})
            if response.status_code == 401:
                self._forget(stale)
            if not response.is_success:
                raise ApiError.of(response)
            self._adopt(Login.from_token_pair(response.json(), stale.username))

    def _store_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._credentials.locked() if self._credentials is not None else contextlib.nullcontext()

    def _adopt(self, login: Login) -> None:
        self._login, self._bearer, self.auth = login, None, "login"
        if self._credentials is not None:
            self._credentials.save(self.url, login)

    def _forget(self, login: Login) -> None:
        """Drops ``login`` here and from the store (if the store still holds that same session)."""
        if self._login is login:
            self._login, self.auth = None, "none"
        if self._credentials is not None:
            with self._credentials.locked():
                stored = self._credentials.get(self.url)
                if stored is not None and stored.refresh_token == login.refresh_token:
                    self._credentials.remove(self.url)

    def _pages(self, path: str, field: str, params: dict[str, Any], limit: int | None = None) -> ResultList[Any]:
        """Follows next_page_token; stops after ``limit`` items when one is given."""
        found: ResultList[Any] = ResultList()
        token = ""
        while limit is None or len(found) < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(found))
            page = self._request("GET", path, params={**params, "page_size": size, "page_token": token})
            found += page[field]
            if isinstance(page.get("total_size"), int):
                found.total_size = page["total_size"]
            token = page.get("next_page_token") or ""
            if not token:
                break
        if limit is not None:
            del found[limit:]
        return found

    # -- health ----------------------------------------------------------------------------------

    def alive(self) -> bool:
        """Whether the gateway process answers."""
        return self._request("GET", "/healthz", authenticated=False)["status"] == "ok"  # type: ignore[no-any-return]

    def readiness(self) -> dict[str, Any]:
        """{"ready": bool, "upstreams": {service: status}}; answered also when not ready."""
        return self._request("GET", "/readyz", ok=(503,), authenticated=False)  # type: ignore[no-any-return]

    # -- sessions --------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> Login:
        """Signs in with a password; the session is used from now on and kept in the store, if any."""
        body = self._request(
            "POST",
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            authenticated=False,
        )
        login = Login.from_token_pair(body, username)
        self._adopt(login)
        return login

    def logout(self) -> bool:
        """Ends the password session at the gateway and forgets it; False when there was none.

        A session the gateway already considers over (401) is forgotten all the same.
        """
        login = self._login
        if login is None:
            return False
        try:
            self._request("POST", "/api/v1/auth/logout", json=self._refresh_token_body)
        except ApiError as exc:
            if exc.status != 401:
                raise
        self._forget(self._login or login)  # the session may have been refreshed during the call
        return True

    def _refresh_token_body(self) -> dict[str, Any]:
        return {"refresh_token": self._login.refresh_token if self._login is not None else ""}

    def me(self) -> dict[str, Any]:
        """{id, username, display_name, roles, active, created_at, projects: {project_id: role}}."""
        return self._request("GET", "/api/v1/me")  # type: ignore[no-any-return]

    def change_password(self, current_password: str, new_password: str) -> Login:
        """Changes your password; every other session ends and this client continues in the new one."""
        username = self._login.username if self._login is not None else self.me()["username"]
        body = self._request(
            "PUT",
            "/api/v1/me/password",
            json={"current_password": current_password, "new_password": new_password},
        )
        login = Login.from_token_pair(body, username)
        self._adopt(login)
        return login

    # -- API keys --------------------------------------------------------------------------------

    def keys(self) -> list[dict[str, Any]]:
        """Your API keys: {id, prefix, name, created_at, expires_at, last_used_at, revoked_at}."""
        return self._request("GET", "/api/v1/me/keys")["keys"]  # type: ignore[no-any-return]

    def create_key(self, name: str, expires_at: datetime | None = None) -> tuple[dict[str, Any], str]:
        """A new key and its secret ``rsk_...``; the gateway shows the secret this once only."""
        body: dict[str, Any] = {"name": name}
        if expires_at is not None:
            body["expires_at"] = _iso(expires_at)
        created = self._request("POST", "/api/v1/me/keys", json=body)
        return created["key"], created["secret"]

    def revoke_key(self, key_id: str) -> None:
        self._request("DELETE", f"/api/v1/me/keys/{_segment(key_id)}")

    # -- users (admin) ---------------------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Every user, following the pages."""
        return self._pages("/api/v1/users", "users", {})

    def create_user(
        self, username: str, password: str, roles: list[str] | tuple[str, ...] = (), display_name: str = ""
    ) -> dict[str, Any]:
        body = {
            "username": username,
            "password": password,
            "roles": list(roles),
            "display_name": display_name,
        }
        return self._request("POST", "/api/v1/users", json=body)  # type: ignore[no-any-return]

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/users/{_segment(user_id)}")  # type: ignore[no-any-return]

    def update_user(
        self, user_id: str, *, roles: list[str] | tuple[str, ...] | None = None, active: bool | None = None
    ) -> dict[str, Any]:
        """Sets the user's roles and/or whether the account is active; None leaves a field as it is."""
        body: dict[str, Any] = {}
        if roles is not None:
            body["roles"] = list(roles)
        if active is not None:
            body["active"] = active
        return self._request("PATCH", f"/api/v1/users/{_segment(user_id)}", json=body)  # type: ignore[no-any-return]

    def reset_password(self, user_id: str, new_password: str) -> None:
        """Sets another user's password (their sessions end)."""
        self._request("PUT", f"/api/v1/users/{_segment(user_id)}/password", json={"new_password": new_password})

    # -- audit (admin) ---------------------------------------------------------------------------

    def audit(
        self,
        *,
        actor: str | None = None,
        resource: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Audit records, newest first: every match, or the newest ``limit``.

        ``actor`` is a user id or username, ``action`` a prefix, [since, until) a time range.
        """
        filters = {
            "actor": actor,
            "resource": resource,
            "action": action,
            "since": _iso(since) if since is not None else None,
            "until": _iso(until) if until is not None else None,
        }
        return self._pages("/api/v1/audit", "records", {k: v for k, v in filters.items() if v}, limit)

    def verify_audit(self) -> dict[str, Any]:
        """{ok, checked, problems: [{seq, kind, message}]}: whether the hash chain is intact."""
        return self._request("GET", "/api/v1/audit/verification")  # type: ignore[no-any-return]

    # -- DICOM store -------------------------------------------------------------------------------

    def store_statistics(self) -> dict[str, Any]:
        """{patients, studies, series, instances, disk_size_bytes, by_modality, by_site, by_month} of the DICOM
        store; each ``by_`` list holds {key, studies, series, instances, size_bytes}, the key being a modality,
        a site, or the month of the study date as YYYY-MM ("" for studies without a date)."""
        return self._request("GET", "/api/v1/dicom/statistics")  # type: ignore[no-any-return]

    def patients(
        self, *, sort: str | None = None, limit: int | None = None, **filters: Unpack[StudyFilter]
    ) -> ResultList[dict[str, Any]]:
        """Patients with a study matching every filter given (see :class:`StudyFilter`): all, or the first ``limit``.

        Each is {patient_id, patient_name, study_count, series_count, instance_count, latest_study_date,
        sites}. ``sort`` is latest_study_date (the default, newest first), patient_id or studies; "-" in
        front sorts descending. The list's ``total_size`` counts every match.
        """
        return self._pages("/api/v1/dicom/patients", "patients", _query(filters, sort), limit)

    def studies(
        self, *, sort: str | None = None, limit: int | None = None, **filters: Unpack[StudyFilter]
    ) -> ResultList[dict[str, Any]]:
        """Studies matching every filter given (see :class:`StudyFilter`): all of them, or the first ``limit``.

        Each is {study_instance_uid, patient_id, patient_name, study_date, description, accession_number,
        institution, modalities, series_count, instance_count, site, project_ids, size_bytes, body_parts,
        received_at}. ``sort`` is study_date (the default, newest first), received, patient_id, description,
        instances or size; "-" in front sorts descending. The list's ``total_size`` counts every match.
        """
        return self._pages("/api/v1/dicom/studies", "studies", _query(filters, sort), limit)

    def find_series(
        self, *, sort: str | None = None, limit: int | None = None, **filters: Unpack[StudyFilter]
    ) -> ResultList[dict[str, Any]]:
        """Series across studies, of the studies matching every filter given (see :class:`StudyFilter`;
        ``modality`` and ``body_part`` are then the series' own): all of them, or the first ``limit``.

        Each is a series summary (see :meth:`series_summary`). ``sort`` is series_number (the default),
        modality, body_part, instances, size or study_date; "-" in front sorts descending. The list's
        ``total_size`` counts every match.
        """
        return self._pages("/api/v1/dicom/series", "series", _query(filters, sort), limit)

    def series(self, study_uid: str) -> list[dict[str, Any]]:
        """The series of one study, as summaries (see :meth:`series_summary`); ApiError STUDY_NOT_FOUND (404)
        for a study the store does not have."""
        path = f"/api/v1/dicom/studies/{_segment(study_uid)}/series"
        return self._request("GET", path)["series"]  # type: ignore[no-any-return]

    def series_summary(self, series_uid: str) -> dict[str, Any]:
        """One series: {series_instance_uid, study_instance_uid, modality, description, series_number,
        body_part, instance_count, size_bytes, rows, columns, slices, spacing, orientation, plane}.

        ``spacing`` is mm between columns, rows and (when known) slices; ``orientation`` the six direction
        cosines of Image Orientation (Patient); ``plane`` axial, coronal, sagittal, oblique or "".
        """
        return self._request("GET", f"/api/v1/dicom/series/{_segment(series_uid)}")  # type: ignore[no-any-return]

    # -- sites -----------------------------------------------------------------------------------

    def sites(self) -> list[dict[str, Any]]:
        """Registered sites, then institutions studies came from that are no registered site: {id, name,
        institution_names, registered, modalities: [{ae_title, site_id, host, port, description}], patients,
        studies, series, instances, size_bytes}."""
        return self._request("GET", "/api/v1/sites")["sites"]  # type: ignore[no-any-return]

    def create_site(self, id: str, name: str, institution_names: Iterable[str] = ()) -> dict[str, Any]:
        """Registers a site (``id``: 1 to 63 lower-case letters, digits or '-'); studies whose InstitutionName
        is one of ``institution_names`` (case-insensitive) count as the site's. The site comes back."""
        body = {"id": id, "name": name, "institution_names": list(institution_names)}
        return self._request("POST", "/api/v1/sites", json=body)  # type: ignore[no-any-return]

    def delete_site(self, id: str) -> None:
        """Removes a site and its modalities; studies attributed to it keep the attribution."""
        self._request("DELETE", f"/api/v1/sites/{_segment(id)}")

    def register_modality(
        self, site_id: str, ae_title: str, host: str, port: int = 104, description: str = ""
    ) -> dict[str, Any]:
        """Lets a modality or PACS C-STORE for the site: the AE title, from this host (an IP address or host
        name), with its own DICOM port. The modality {ae_title, site_id, host, port, description} comes back."""
        body = {"ae_title": ae_title, "host": host, "port": port, "description": description}
        path = f"/api/v1/sites/{_segment(site_id)}/modalities"
        return self._request("POST", path, json=body)  # type: ignore[no-any-return]

    def unregister_modality(self, site_id: str, ae_title: str) -> None:
        """Stops accepting images from this AE title."""
        self._request("DELETE", f"/api/v1/sites/{_segment(site_id)}/modalities/{_segment(ae_title)}")

    # -- uploads ---------------------------------------------------------------------------------

    def upload(
        self,
        paths: Iterable[Path | str],
        *,
        batch_files: int = DEFAULT_BATCH_FILES,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        on_batch: Callable[[BatchResult], None] | None = None,
        on_bytes: Callable[[int], None] | None = None,
        site: str | None = None,
        project_id: str | None = None,
    ) -> UploadSummary:
        """Uploads DICOM files and zip archives (folders named are walked, skipping hidden files), in
        batches of at most ``batch_files`` files and ``batch_bytes`` bytes, one after the other; from a
        registered ``site`` and into ``project_id`` when given (de-identified first if the project asks:
        see :meth:`set_ingest_profile`; the summary then counts what de-identification did).

        Files are streamed from disk, never read whole into memory. Each is named to the gateway by its
        path relative to the folder all the paths share. A file already in the store is harmless: it is
        answered ``already_present``. ``on_batch`` is called with each batch's results, ``on_bytes`` with
        the bytes read as they are sent. Raises ApiError when the gateway refuses the upload (say, 403
        without the ingest permission, 404 SITE_NOT_FOUND for a site that is not registered); bad files
        never raise, they are ``rejected`` in the summary.
        """
        summary = UploadSummary()
        for batch in plan_batches(local_files(paths), batch_files, batch_bytes):
            result = self.upload_batch(batch, on_bytes=on_bytes, site=site, project_id=project_id)
            summary.add(result, result.unmatched, deidentified=result.deidentified, removed=result.removed)
            if on_batch is not None:
                on_batch(result)
        return summary

    def upload_batch(
        self,
        files: Sequence[LocalFile],
        *,
        on_bytes: Callable[[int], None] | None = None,
        timeout: float = UPLOAD_TIMEOUT,
        site: str | None = None,
        project_id: str | None = None,
    ) -> BatchResult:
        """Sends these files in one request (see :meth:`upload`); safe to call from several threads.

        A batch the gateway finds too large (413) is sent again in halves; a single file over its limit,
        or one that cannot be read here, comes back rejected (REQUEST_TOO_LARGE, UNREADABLE) unsent.
        """
        with contextlib.ExitStack() as stack:
            readable: list[tuple[LocalFile, CountingReader]] = []
            refused: dict[LocalFile, FileResult] = {}
            for file in files:
                try:
                    handle = stack.enter_context(file.path.open("rb"))
                except OSError as exc:
                    refused[file] = rejected_whole(file, UNREADABLE, f"{file.name} could not be read: {exc}")
                    continue
                readable.append((file, CountingReader(handle, on_bytes)))
            params = {k: v for k, v in (("site", site), ("project_id", project_id)) if v}
            sent = self._post_files(readable, timeout, params)
        by_file = {result.file: result for result in sent} | refused
        return BatchResult((by_file[f] for f in files), sent.unmatched, sent.deidentified, sent.removed)

    def _post_files(
        self, files: Sequence[tuple[LocalFile, CountingReader]], timeout: float, params: dict[str, str]
    ) -> BatchResult:
        if not files:
            return BatchResult()
        body: Files = [("files", (f.name, cast(IO[bytes], reader), "application/octet-stream")) for f, reader in files]
        try:
            report = self._request("POST", "/api/v1/dicom/uploads", files=body, params=params, timeout=timeout)
        except ApiError as exc:
            if exc.status != 413:
                raise
            if len(files) == 1:
                file = files[0][0]
                message = f"{file.name} is over the gateway's upload limit: {exc.message}"
                return BatchResult([rejected_whole(file, exc.reason or REQUEST_TOO_LARGE, message)])
            middle = len(files) // 2
            first = self._post_files(files[:middle], timeout, params)
            return BatchResult.joined(first, self._post_files(files[middle:], timeout, params))
        results, unmatched = attribute([f for f, _ in files], map(IngestLine.from_json, report["files"]))
        return BatchResult(results, unmatched, report.get("deidentified"), report.get("removed") or ())

    # -- projects --------------------------------------------------------------------------------

    def create_project(
        self,
        name: str,
        modality: str,
        task_type: str,
        dimensionality: str,
        description: str = "",
        *,
        classes: Iterable[tuple[str, str]] = (),
        level: str = "case",
        multi_label: bool = False,
        sites: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Creates a labeling project, you as its lead; the project {id, name, description, modality, task_type,
        dimensionality, label_schema: {classes: [{name, color}], level, multi_label}, sites, created_at} comes back.

        ``task_type`` is CLASSIFICATION, DETECTION or SEGMENTATION; ``dimensionality`` 2D or 3D; ``classes``
        (name, "#rrggbb") pairs; ``level`` what a label belongs to: case, series, image or lesion; ``sites`` the
        sites whose studies it takes (none: any). ApiError PROJECT_EXISTS (409) for a name already taken.
        """
        body = {
            "name": name,
            "modality": modality,
            "task_type": task_type,
            "dimensionality": dimensionality,
            "description": description,
            "label_schema": {
                "classes": [{"name": class_name, "color": color} for class_name, color in classes],
                "level": level,
                "multi_label": multi_label,
            },
            "sites": list(sites),
        }
        return self._request("POST", "/api/v1/projects", json=body)  # type: ignore[no-any-return]

    def projects(self) -> list[dict[str, Any]]:
        """Every project you belong to (admins: all), by name, following the pages."""
        return self._pages("/api/v1/projects", "projects", {})

    def project(self, project_id: str) -> dict[str, Any]:
        """One project (see :meth:`create_project`); ApiError PROJECT_NOT_FOUND (404) for one that does not exist."""
        return self._request("GET", f"/api/v1/projects/{_segment(project_id)}")  # type: ignore[no-any-return]

    def members(self, project_id: str) -> list[dict[str, Any]]:
        """Who belongs to the project: {user_id, username, role}."""
        path = f"/api/v1/projects/{_segment(project_id)}/members"
        return self._request("GET", path)["members"]  # type: ignore[no-any-return]

    def set_member(self, project_id: str, user_id: str, role: str) -> dict[str, Any]:
        """Adds a user to the project, or changes their role: lead, researcher, annotator, reviewer or viewer.
        The member {user_id, username, role} comes back."""
        path = f"/api/v1/projects/{_segment(project_id)}/members/{_segment(user_id)}"
        return self._request("PUT", path, json={"role": role})  # type: ignore[no-any-return]

    def remove_member(self, project_id: str, user_id: str) -> None:
        """Takes a user out of the project."""
        self._request("DELETE", f"/api/v1/projects/{_segment(project_id)}/members/{_segment(user_id)}")

    def ingest_profile(self, project_id: str) -> dict[str, Any]:
        """What the project asks of uploads into it: {deidentify, retain_longitudinal_dates,
        retain_patient_characteristics, clean_descriptors}."""
        path = f"/api/v1/projects/{_segment(project_id)}/ingest-profile"
        return self._request("GET", path)  # type: ignore[no-any-return]

    def set_ingest_profile(
        self,
        project_id: str,
        *,
        deidentify: bool,
        retain_longitudinal_dates: bool = False,
        retain_patient_characteristics: bool = False,
        clean_descriptors: bool = False,
    ) -> dict[str, Any]:
        """Sets whether uploads into the project are de-identified before they are stored (PS3.15 basic
        profile), and with which options: dates kept but shifted per patient, sex/age/size/weight kept,
        descriptions kept but scrubbed. The profile comes back."""
        body = {
            "deidentify": deidentify,
            "retain_longitudinal_dates": retain_longitudinal_dates,
            "retain_patient_characteristics": retain_patient_characteristics,
            "clean_descriptors": clean_descriptors,
        }
        path = f"/api/v1/projects/{_segment(project_id)}/ingest-profile"
        return self._request("PUT", path, json=body)  # type: ignore[no-any-return]

    # -- labeling --------------------------------------------------------------------------------

    def add_cases(
        self,
        project_id: str,
        *,
        study_instance_uids: Iterable[str] | None = None,
        query: CaseQuery | None = None,
    ) -> dict[str, Any]:
        """Adds studies of the DICOM store to the project as cases, each with an unassigned task: the studies
        named, or every study matching ``query`` (give one of the two).

        Returns {added: [case], already_present: [study_instance_uid]}; a case is {id, project_id,
        study_instance_uid, patient_id, site, study_date, description, series: [{series_instance_uid, modality,
        rows, columns, slices}]}. ApiError STUDY_NOT_FOUND (422) names a study the store does not have.
        """
        if (study_instance_uids is None) == (query is None):
            raise ValueError("give either study_instance_uids or query")
        body: dict[str, Any]
        if query is not None:
            where: dict[str, Any] = {**query}
            for end in ("study_date_from", "study_date_to"):
                where[end] = _day(where.get(end))
            body = {"query": {name: value for name, value in where.items() if value}}
        else:
            body = {"study_instance_uids": list(study_instance_uids or ())}
        path = f"/api/v1/projects/{_segment(project_id)}/cases"
        return self._request("POST", path, json=body)  # type: ignore[no-any-return]

    def tasks(
        self,
        project_id: str,
        *,
        site: str | None = None,
        study_date_from: date | str | None = None,
        study_date_to: date | str | None = None,
        status: str | Iterable[str] | None = None,
        assignee_id: str | None = None,
        limit: int | None = None,
    ) -> ResultList[dict[str, Any]]:
        """The project's tasks (annotators see their own): all of them, or the first ``limit``.

        ``status`` is one or more of untagged, in_progress, tagged, reviewed, rejected; ``assignee_id`` a user
        id, or "-" for unassigned tasks. Each task is {id, project_id, case, assignee_id, status,
        annotation_version, review_comment, updated_at}. The list's ``total_size`` counts every match.
        """
        statuses = [status] if isinstance(status, str) else list(status or ())
        params = {
            "site": site,
            "study_date_from": _day(study_date_from),
            "study_date_to": _day(study_date_to),
            "status": statuses,
            "assignee_id": assignee_id,
        }
        path = f"/api/v1/projects/{_segment(project_id)}/tasks"
        return self._pages(path, "tasks", {k: v for k, v in params.items() if v}, limit)

    def my_tasks(
        self,
        *,
        task_type: str | None = None,
        site: str | None = None,
        study_date_from: date | str | None = None,
        study_date_to: date | str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> ResultList[dict[str, Any]]:
        """Your tasks across every project (your inbox), like :meth:`tasks`; ``task_type`` CLASSIFICATION,
        DETECTION or SEGMENTATION."""
        statuses = [status] if isinstance(status, str) else list(status or ())
        params = {
            "task_type": task_type.upper() if task_type else None,
            "site": site,
            "study_date_from": _day(study_date_from),
            "study_date_to": _day(study_date_to),
            "status": statuses,
        }
        return self._pages("/api/v1/tasks", "tasks", {k: v for k, v in params.items() if v}, limit)

    def assign_tasks(
        self,
        project_id: str,
        annotator_ids: Iterable[str],
        *,
        mode: str = "split",
        site: str | None = None,
        study_date_from: date | str | None = None,
        study_date_to: date | str | None = None,
        case_ids: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Assigns the project's cases (those of ``site``, in the date range, among ``case_ids``: each given
        narrows; none given: every case) to members who annotate. ``mode`` "split" gives each case to one of
        them, evenly; "each" to all of them (double reading). Returns {assigned, per_annotator: {user_id: n}};
        ApiError NOT_AN_ANNOTATOR (422) for a user who is no annotating member of the project."""
        cases = {
            "site": site or "",
            "study_date_from": _day(study_date_from) or "",
            "study_date_to": _day(study_date_to) or "",
            "case_ids": list(case_ids),
        }
        body = {"cases": cases, "annotator_ids": list(annotator_ids), "mode": mode}
        path = f"/api/v1/projects/{_segment(project_id)}/tasks/assignments"
        return self._request("POST", path, json=body)  # type: ignore[no-any-return]

    def next_task(self, project_id: str) -> dict[str, Any] | None:
        """Your next task to label (rejected ones first, then drafts, then new ones); None when none is left."""
        path = f"/api/v1/projects/{_segment(project_id)}/tasks/next"
        return self._request("GET", path)  # type: ignore[no-any-return]

    def progress(self, project_id: str) -> dict[str, Any]:
        """Task counts by status: {cases, project: {counts: {status: n}, total}, per_annotator: {user_id:
        {counts, total}}}."""
        return self._request("GET", f"/api/v1/projects/{_segment(project_id)}/progress")  # type: ignore[no-any-return]

    def save_annotation(
        self,
        task_id: str,
        *,
        base_version: int,
        labels: Iterable[str | dict[str, Any]] = (),
        boxes: Iterable[dict[str, Any]] = (),
        masks: Iterable[dict[str, Any]] = (),
        comment: str = "",
        submit: bool = False,
        source: str = "person",
    ) -> dict[str, Any]:
        """Saves a new version of your annotation of a task: a draft, or submitted for review with ``submit``.

        ``base_version`` is the version the edit started from (0 for the first); ApiError STALE_VERSION (409)
        when another was saved since. ``labels`` are class names (of the case) or {class_name,
        series_instance_uid, sop_instance_uid}; ``boxes`` {class_name, series_instance_uid, sop_instance_uid,
        min, max}, corners in voxels (column, row[, slice]), or for 3D boxes min_mm/max_mm in patient
        coordinates; ``masks`` {series_instance_uid, and upload_id (see :meth:`upload_mask`), rle [{index,
        label, counts}] or remove: true}. ``source`` is "person" or "model:<name>/<version>"
        for a pre-label. The annotation {id, task_id, case_id, version, author_id, source, labels, boxes,
        comment, submitted, saved_at} comes back.
        """
        body = {
            "base_version": base_version,
            "labels": [{"class_name": label} if isinstance(label, str) else label for label in labels],
            "boxes": list(boxes),
            "masks": list(masks),
            "comment": comment,
            "submit": submit,
            "source": source,
        }
        path = f"/api/v1/tasks/{_segment(task_id)}/annotation"
        return self._request("PUT", path, json=body)  # type: ignore[no-any-return]

    def annotation_versions(self, task_id: str) -> list[dict[str, Any]]:
        """Every saved version of a task's annotation, oldest first (see :meth:`save_annotation`)."""
        path = f"/api/v1/tasks/{_segment(task_id)}/annotation/versions"
        return self._request("GET", path)["versions"]  # type: ignore[no-any-return]

    def review_task(self, task_id: str, decision: str, comment: str = "") -> dict[str, Any]:
        """Reviews a submitted task: ``decision`` accept, reject (a comment is required) or adjudicate (this
        task's annotation wins; the other readers' tasks of the case are rejected with the comment).

        Returns {task, others}: the task reviewed and the other tasks of the case that changed.
        """
        body = {"decision": decision, "comment": comment}
        path = f"/api/v1/tasks/{_segment(task_id)}/review"
        return self._request("POST", path, json=body)  # type: ignore[no-any-return]

    def agreement(self, project_id: str, limit: int = 20) -> dict[str, Any]:
        """Agreement between the project's annotators: {cases_compared, class_kappa, kappa_method, mean_box_iou,
        mean_mask_dice, disagreements: [{case_id, kind, score, detail}]} with the ``limit`` largest
        disagreements; a measure that cannot be computed is None."""
        path = f"/api/v1/projects/{_segment(project_id)}/agreement"
        return self._request("GET", path, params={"limit": limit})  # type: ignore[no-any-return]

    def freeze_dataset(
        self,
        project_id: str,
        *,
        train: float = 0.7,
        validation: float = 0.15,
        test: float = 0.15,
        stratify: str = "none",
        column: str = "",
        seed: int = 0,
        columns: dict[str, dict[str, str]] | None = None,
        deidentification_profile: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Freezes the project's accepted labels into an immutable dataset version, split by patient into train,
        validation and test (fractions summing to 1), stratified by none, class, site or ``column`` (one of the
        extra per-case ``columns``: {case_id: {column: value}}).

        Returns the dataset {id, project_id, content_hash, created_at, created_by, split_counts, manifest} and
        whether an identical version already existed (it is then that one). ApiError NOTHING_ACCEPTED (422)
        when no label is accepted yet, INVALID_SPLIT (422) for fractions or a stratification that do not fit.
        """
        body = {
            "split": {
                "train": train,
                "validation": validation,
                "test": test,
                "stratify": stratify,
                "column": column,
                "seed": seed,
            },
            "columns": columns or {},
            "deidentification_profile": deidentification_profile,
        }
        frozen = self._request("POST", f"/api/v1/projects/{_segment(project_id)}/datasets", json=body)
        return frozen["dataset"], bool(frozen["already_existed"])

    def datasets(self, project_id: str) -> list[dict[str, Any]]:
        """The project's dataset versions, newest first (without their manifests)."""
        path = f"/api/v1/projects/{_segment(project_id)}/datasets"
        return self._request("GET", path)["datasets"]  # type: ignore[no-any-return]

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        """One dataset version (see :meth:`freeze_dataset`) with its ``manifest``: {format, project_id, spec,
        items: [{case_id, patient_id, study_instance_uid, series_instance_uids, site, label_class, annotation_id,
        annotation_version, columns}], splits: {case_id: split}, lineage}."""
        return self._request("GET", f"/api/v1/datasets/{_segment(dataset_id)}")  # type: ignore[no-any-return]

    def import_labels(
        self,
        project_id: str,
        data: bytes,
        format: Literal["csv", "json"],
        *,
        annotator_id: str = "",
        submit: bool = False,
        source: str = "person",
    ) -> dict[str, Any]:
        """Imports class labels (CSV: study_instance_uid, class[, series_instance_uid, sop_instance_uid]) or boxes
        (JSON: {"boxes": [{study_instance_uid, series_instance_uid, class, min, max}]}) into the tasks of
        ``annotator_id`` (default: you) as new versions; a bad row refuses the whole file. Returns {cases, labels,
        boxes}."""
        params = {"format": format, "annotator_id": annotator_id, "submit": submit, "source": source}
        path = f"/api/v1/projects/{_segment(project_id)}/labels/imports"
        return self._request("POST", path, params=params, content=data)  # type: ignore[no-any-return]

    def export_labels(
        self, project_id: str, format: Literal["csv", "json", "coco", "nifti", "seg"], *, statuses: Iterable[str] = ()
    ) -> bytes:
        """A project's labels (default: the accepted ones; else the latest version of tasks in ``statuses``) as CSV
        classes, JSON boxes (with mm corners), COCO 2D boxes, or a zip of NIfTI or DICOM SEG masks."""
        params = {"format": format, "status": list(statuses)}
        path = f"/api/v1/projects/{_segment(project_id)}/labels/export"
        return self._request("GET", path, params=params, raw=True)  # type: ignore[no-any-return]

    def upload_mask(self, task_id: str, data: bytes, kind: Literal["nifti", "dicom"]) -> str:
        """Uploads a mask file (NIfTI, or a DICOM SEG or RTSTRUCT) for the task; name the returned upload id in
        the next :meth:`save_annotation` (``masks=[{"series_instance_uid": ..., "upload_id": ...}]``)."""
        gzipped = data[:2] == b"\x1f\x8b"
        media = (
            "application/dicom" if kind == "dicom" else "application/gzip" if gzipped else "application/octet-stream"
        )
        path = f"/api/v1/tasks/{_segment(task_id)}/mask-uploads"
        return str(self._request("POST", path, content=data, content_type=media)["upload_id"])

    # -- radiomics -------------------------------------------------------------------------------

    def radiomics_presets(self) -> list[dict[str, Any]]:
        """Built-in extraction presets: [{id, display_name, description, settings_yaml}]."""
        return self._request("GET", "/api/v1/radiomics/presets")["presets"]  # type: ignore[no-any-return]

    def save_preset(self, id: str, display_name: str, settings_yaml: str, description: str = "") -> dict[str, Any]:
        """Saves your own extraction preset; ApiError INVALID_SETTINGS names a bad setting."""
        body = {"id": id, "display_name": display_name, "description": description, "settings_yaml": settings_yaml}
        return self._request("POST", "/api/v1/radiomics/presets", json=body)  # type: ignore[no-any-return]

    def delete_preset(self, id: str) -> None:
        self._request("DELETE", f"/api/v1/radiomics/presets/{_segment(id)}")

    def extract_features(
        self, image: Path | str, mask: Path | str, *, preset: str = "", settings_yaml: str = "", label: int = 1
    ) -> dict[str, Any]:
        """The features of one region: ``image`` and ``mask`` are NIfTI or NRRD files on the same grid; ``preset``
        a built-in preset id, or ``settings_yaml`` a pyradiomics parameter file. Returns {features: [{name,
        value, ibsi_name, ibsi_code}], settings_hash, pyradiomics_version, seconds}."""
        image, mask = Path(image), Path(mask)
        with image.open("rb") as image_file, mask.open("rb") as mask_file:
            body: Files = [
                ("image", (image.name, image_file, "application/octet-stream")),
                ("mask", (mask.name, mask_file, "application/octet-stream")),
                ("preset_id", (None, preset)),  # type: ignore[list-item]
                ("settings_yaml", (None, settings_yaml)),  # type: ignore[list-item]
                ("label", (None, str(label))),  # type: ignore[list-item]
            ]
            return self._request("POST", "/api/v1/radiomics/extractions", files=body, timeout=600)  # type: ignore[no-any-return]

    def select_features(
        self,
        table: Path | str,
        outcome: str,
        steps: Sequence[tuple[str, dict[str, Any]]],
        *,
        group: str = "",
        ids: Sequence[str] = (),
        model: str = "logistic",
        folds: int = 5,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Cross-validated feature selection on a table (CSV or Parquet, one row per region): ``steps`` such as
        [("correlation", {"threshold": 0.9}), ("mrmr", {"k": 10})] run inside each fold. Returns {selected,
        cv_auc_mean, cv_auc_std, fold_aucs, selection_frequency, selected_table_csv}."""
        table = Path(table)
        spec = {
            "outcome_column": outcome,
            "group_column": group,
            "id_columns": list(ids),
            "steps": [{"name": name, "params": params} for name, params in steps],
            "model": model,
            "folds": folds,
            "seed": seed,
        }
        with table.open("rb") as handle:
            body: Files = [
                ("table", (table.name, handle, "application/octet-stream")),
                ("spec", (None, json.dumps(spec))),  # type: ignore[list-item]
            ]
            return self._request("POST", "/api/v1/radiomics/selections", files=body, timeout=600)  # type: ignore[no-any-return]

    def feature_stability(
        self,
        table: Path | str,
        target: str,
        rater: str,
        *,
        ids: Sequence[str] = (),
        kind: str = "ICC(3,1)",
        threshold: float = 0.75,
    ) -> dict[str, Any]:
        """ICC per feature between raters (annotators or mask perturbations) from a long table (CSV or Parquet) of
        one row per region and rater. Returns {icc: {feature: value}, stable, targets, raters}."""
        table = Path(table)
        spec = {
            "target_column": target,
            "rater_column": rater,
            "id_columns": list(ids),
            "kind": kind,
            "threshold": threshold,
        }
        with table.open("rb") as handle:
            body: Files = [
                ("table", (table.name, handle, "application/octet-stream")),
                ("spec", (None, json.dumps(spec))),  # type: ignore[list-item]
            ]
            return self._request("POST", "/api/v1/radiomics/stability", files=body, timeout=600)  # type: ignore[no-any-return]

    def ibsi_report(self) -> dict[str, Any]:
        """The IBSI digital phantom's features against the IBSI reference values: {rows, table}."""
        return self._request("GET", "/api/v1/radiomics/ibsi-report", timeout=300)  # type: ignore[no-any-return]

    def start_extraction_job(
        self,
        dataset_id: str,
        *,
        preset: str = "",
        settings_yaml: str = "",
        regions: Literal["lesion", "label"] = "lesion",
        labels: Iterable[int] = (),
        job_id: str = "",
        perturbations: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Starts batch extraction over a frozen dataset version (its series and masks) as a Ray job, with a preset
        or pyradiomics settings. ``regions``: "lesion" makes each connected component of each mask label a region,
        "label" each label; ``labels`` keeps only these labels; ``job_id`` (your choice) makes a retry safe.
        ``perturbations`` such as {"erode": 1, "dilate": 1, "shift": True, "threshold": 0.75} also extracts every
        region on those mask variants and gives each feature's ICC across them (download with
        :meth:`download_feature_table` to a ``stability.csv``). Returns {job, series}; follow the job with
        :meth:`wait_for_radiomics_job`."""
        body = {
            "dataset_id": dataset_id,
            "preset_id": preset,
            "settings_yaml": settings_yaml,
            "regions": regions,
            "labels": list(labels),
            "job_id": job_id,
            "perturbations": perturbations,
        }
        return self._request("POST", RADIOMICS_JOBS, json=body)  # type: ignore[no-any-return]

    def start_extraction_job_on_pairs(
        self,
        pairs: Sequence[tuple[Path | str, Path | str]],
        *,
        preset: str = "",
        settings_yaml: str = "",
        regions: Literal["lesion", "label"] = "lesion",
        labels: Iterable[int] = (),
        case_ids: Sequence[str] = (),
        label_classes: Sequence[str] = (),
        patient_ids: Sequence[str] = (),
        job_id: str = "",
        perturbations: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Like :meth:`start_extraction_job`, over local (image, mask) files (NIfTI or NRRD) instead of a dataset
        version. ``case_ids``, ``label_classes`` and ``patient_ids``, when given, have one value per pair (default
        case id: the image's file name). Returns {job, series}."""
        spec = {
            "preset_id": preset,
            "settings_yaml": settings_yaml,
            "regions": regions,
            "labels": list(labels),
            "job_id": job_id,
            "case_ids": list(case_ids),
            "label_classes": list(label_classes),
            "patient_ids": list(patient_ids),
            "perturbations": perturbations,
        }
        with contextlib.ExitStack() as files:
            body: list[tuple[str, tuple[str | None, Any, str]]] = [
                (field, (path.name, files.enter_context(path.open("rb")), "application/octet-stream"))
                for image, mask in pairs
                for field, path in (("image", Path(image)), ("mask", Path(mask)))
            ]
            body.append(("spec", (None, json.dumps(spec), "application/json")))
            path = "/api/v1/radiomics/jobs/pairs"
            return self._request("POST", path, files=cast(Files, body), timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def radiomics_jobs(self, page_size: int = 0, page_token: str = "") -> dict[str, Any]:
        """One page of the batch jobs you may see, newest first: {jobs, next_page_token}. A job is {id, kind, state
        (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED), progress: {fraction, step, completed, total, eta_seconds},
        created_at, started_at, finished_at, error, result, parameters}."""
        params = {"page_size": page_size, "page_token": page_token}
        return self._request("GET", RADIOMICS_JOBS, params=params)  # type: ignore[no-any-return]

    def radiomics_job(self, job_id: str) -> dict[str, Any]:
        """One batch job and its log: {job, log_lines: [{time, level, message}]} (the newest 500 lines)."""
        return self._job(RADIOMICS_JOBS, job_id)

    def watch_radiomics_job(self, job_id: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Follows a batch job: yields its snapshot, then one event per change, {job, log_lines} with the lines
        written since the previous event, until the job ends or the gateway ends the stream (after an hour: watch
        again). An error after the stream began raises ApiError; past ``timeout`` seconds, TimeoutError."""
        return self._watch_job(RADIOMICS_JOBS, job_id, timeout)

    def wait_for_radiomics_job(
        self,
        job_id: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Follows a batch job until it has SUCCEEDED, FAILED or was CANCELLED and returns the job; ``on_event`` is
        called with every event (see :meth:`watch_radiomics_job`). TimeoutError after ``timeout`` seconds (checked
        at least every 15 s)."""
        return self._wait_for_job(RADIOMICS_JOBS, job_id, on_event, timeout)

    def cancel_radiomics_job(self, job_id: str) -> dict[str, Any]:
        """Stops a queued or running batch job (regions already extracted are kept for a re-run); returns the job."""
        return self._cancel_job(RADIOMICS_JOBS, job_id)

    def feature_table(self, job_id: str) -> dict[str, Any]:
        """What a finished batch job wrote: {rows, features, id_columns, provenance, failures: [{region_id, case_id,
        reason, message}], reused, parquet_object_key, csv_object_key}."""
        return self._request("GET", f"/api/v1/radiomics/jobs/{_segment(job_id)}/features")  # type: ignore[no-any-return]

    def download_feature_table(self, job_id: str, path: Path | str, *, stability: bool = False) -> Path:
        """Writes a finished job's feature table to ``path``, as Parquet or CSV by its suffix (with ``stability``:
        each feature's ICC across the mask variants, CSV); streamed to disk, and in place only once complete."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in ((".csv",) if stability else (".parquet", ".csv")):
            raise ValueError(f"{path}: name a {'.csv' if stability else '.parquet or .csv'} file")
        source = f"/api/v1/radiomics/jobs/{_segment(job_id)}/{'stability' if stability else 'features'}{suffix}"
        return self._download(source, path)

    def _download(self, source: str, path: Path, timeout: httpx.Timeout = DOWNLOAD_TIMEOUT) -> Path:
        """Streams a GET's body to ``path``, which appears only once complete."""
        partial = path.with_name(path.name + ".part")
        try:
            with self._streamed(source, timeout) as answer, partial.open("wb") as out:
                for chunk in answer.iter_bytes(1 << 20):
                    out.write(chunk)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    # -- statistics ------------------------------------------------------------------------------

    def upload_table(self, path: Path | str, *, name: str = "") -> dict[str, Any]:
        """Stores a table to analyse (CSV, Excel .xlsx or Parquet; ``name`` defaults to the file's) and types its
        columns: {id, name, rows, columns: [{name, type (numeric, binary, categorical, date, text or empty),
        missing, distinct, values}], created_by, source}."""
        path = Path(path)
        with path.open("rb") as handle:
            body: Files = [
                ("file", (path.name, handle, "application/octet-stream")),
                ("name", (None, name)),  # type: ignore[list-item]
            ]
            return self._request("POST", "/api/v1/stats/tables", files=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def table_from_radiomics(self, job_id: str) -> dict[str, Any]:
        """Stores a finished radiomics job's feature table as a table to analyse (see :meth:`upload_table`)."""
        body = {"job_id": job_id}
        return self._request("POST", "/api/v1/stats/tables/from-radiomics", json=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def table_from_training(self, run_id: str = "", *, evaluation_id: str = "") -> dict[str, Any]:
        """Stores a finished training run's predictions (one row per validation and test sample), or those of a
        model test (``evaluation_id``), as a table."""
        body = {"run_id": run_id, "evaluation_id": evaluation_id}
        return self._request("POST", "/api/v1/stats/tables/from-training", json=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def table(self, table_id: str) -> dict[str, Any]:
        """A stored table and its typed columns (see :meth:`upload_table`)."""
        return self._request("GET", f"/api/v1/stats/tables/{_segment(table_id)}")  # type: ignore[no-any-return]

    def analyse(self, table_id: str, kind: str, **parameters: Any) -> dict[str, Any]:
        """Runs one analysis on a stored table: ``kind`` is "test", "p-adjust", "table-one", "regression",
        "kaplan-meier", "log-rank", "cox", "classifier", "delong", "kmeans" or "score", with its parameters, e.g.
        ``analyse(table_id, "test", test="welch_t", variable="age", group="sex")``. Returns {id, kind, result,
        rows_used, rows_dropped, plots: [{name, png_url, svg_url, data}], provenance, json_url, csv_url, model_url};
        fetch its files with :meth:`download_result`."""
        body = {"kind": kind, "parameters": parameters}
        path = f"/api/v1/stats/tables/{_segment(table_id)}/analyses"
        return self._request("POST", path, json=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def download_result(self, result_id: str, file: str, path: Path | str) -> Path:
        """Writes one file of a result to ``path``: "result.json", "result.csv", "model.joblib" or a plot as
        "<name>.png" / "<name>.svg"."""
        return self._download(f"/api/v1/stats/results/{_segment(result_id)}/{_segment(file)}", Path(path))

    def start_analysis_job(self, table_id: str, kind: str, *, job_id: str = "", **parameters: Any) -> dict[str, Any]:
        """Starts an analysis (as in :meth:`analyse`) as a job on Ray, with progress: for long ones, such as a
        classifier's hyperparameter search on a large table. ``job_id`` (your choice) makes a retry safe. Returns the
        job (see :meth:`radiomics_jobs`); follow it with :meth:`wait_for_stats_job`. Once it SUCCEEDED,
        ``job["result"]["result_id"]`` is the result: fetch its files with :meth:`download_result`."""
        body = {"kind": kind, "parameters": parameters, "job_id": job_id}
        path = f"/api/v1/stats/tables/{_segment(table_id)}/analysis-jobs"
        return self._request("POST", path, json=body)["job"]  # type: ignore[no-any-return]

    def stats_jobs(self, page_size: int = 0, page_token: str = "") -> dict[str, Any]:
        """One page of your analysis jobs, newest first: {jobs, next_page_token} (jobs as in radiomics_jobs)."""
        params = {"page_size": page_size, "page_token": page_token}
        return self._request("GET", "/api/v1/stats/jobs", params=params)  # type: ignore[no-any-return]

    def stats_job(self, job_id: str) -> dict[str, Any]:
        """One analysis job and its log: {job, log_lines: [{time, level, message}]} (the newest 500 lines)."""
        return self._job(STATS_JOBS, job_id)

    def watch_stats_job(self, job_id: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Follows an analysis job as :meth:`watch_radiomics_job` follows a batch job."""
        return self._watch_job(STATS_JOBS, job_id, timeout)

    def wait_for_stats_job(
        self,
        job_id: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Follows an analysis job until it has SUCCEEDED, FAILED or was CANCELLED and returns the job, as
        :meth:`wait_for_radiomics_job` does."""
        return self._wait_for_job(STATS_JOBS, job_id, on_event, timeout)

    def cancel_stats_job(self, job_id: str) -> dict[str, Any]:
        """Stops a queued or running analysis job; returns the job."""
        return self._cancel_job(STATS_JOBS, job_id)

    # -- training and registered models ----------------------------------------------------------

    def architectures(self, task: str = "", spatial_dims: int = 0) -> list[dict[str, Any]]:
        """Networks of the model zoo and the custom networks imported, optionally of one task ("classification",
        "segmentation") and dimensionality (2, 3): [{id, display_name, task, spatial_dims, library, description}]."""
        params = {name: value for name, value in (("task", task.upper()), ("spatial_dims", spatial_dims)) if value}
        answer = self._request("GET", "/api/v1/training/architectures", params=params)
        return answer["architectures"]  # type: ignore[no-any-return]

    def training_defaults(self, task: str, spatial_dims: int) -> dict[str, Any]:
        """Every setting of a run of ``task`` ("classification" or "segmentation") on ``spatial_dims`` (2 or 3)
        with its default, nested: what :meth:`start_training`'s ``settings`` change."""
        params = {"task": task.upper(), "spatial_dims": spatial_dims}
        return self._request("GET", "/api/v1/training/defaults", params=params)["settings"]  # type: ignore[no-any-return]

    def start_training(
        self,
        dataset_id: str,
        task: str,
        spatial_dims: int,
        settings: Mapping[str, Any] | None = None,
        *,
        model_name: str = "",
        job_id: str = "",
        validate_only: bool = False,
    ) -> dict[str, Any]:
        """Starts a training run on a frozen dataset version (its train split trains, its validation split picks the
        best epoch) as a job on Ray. ``settings`` change the task's defaults (see :meth:`training_defaults`), nested
        as they are, e.g. {"architecture": "resnet18", "optimizer": {"learning_rate": 3e-4}}; a bad one is ApiError
        INVALID_SETTING with ``details["setting"]`` naming it. ``model_name`` names the registered model of the
        best checkpoint; ``job_id`` (your choice, also the run's id) makes a retry safe; ``validate_only`` checks
        the settings and the dataset version and starts nothing. Returns {job (None when validating), settings (in
        full), cases: {train, validation, test}}; follow the job with :meth:`wait_for_training_job`."""
        body = {
            "dataset_id": dataset_id,
            "task": task.upper(),
            "spatial_dims": spatial_dims,
            "settings": dict(settings or {}),
            "model_name": model_name,
            "job_id": job_id,
            "validate_only": validate_only,
        }
        return self._request("POST", TRAINING_JOBS, json=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def training_jobs(self, page_size: int = 0, page_token: str = "") -> dict[str, Any]:
        """One page of your training jobs (every job for an admin), newest first: {jobs, next_page_token}, jobs as
        in :meth:`radiomics_jobs`; a succeeded job's result names its run, MLflow run and model version."""
        params = {"page_size": page_size, "page_token": page_token}
        return self._request("GET", TRAINING_JOBS, params=params)  # type: ignore[no-any-return]

    def training_job(self, job_id: str) -> dict[str, Any]:
        """One training job and its newest log lines: {job, log_lines: [{time, level, message}]}."""
        return self._job(TRAINING_JOBS, job_id)

    def watch_training_job(self, job_id: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Follows a training job (epochs, metrics in its log) as :meth:`watch_radiomics_job` follows a batch job."""
        return self._watch_job(TRAINING_JOBS, job_id, timeout)

    def wait_for_training_job(
        self,
        job_id: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Follows a training job until it has SUCCEEDED, FAILED or was CANCELLED and returns the job, as
        :meth:`wait_for_radiomics_job` does."""
        return self._wait_for_job(TRAINING_JOBS, job_id, on_event, timeout)

    def cancel_training(self, job_id: str) -> dict[str, Any]:
        """Stops a queued or running training job (its run can be resumed from its last checkpoint); returns it."""
        return self._cancel_job(TRAINING_JOBS, job_id)

    def resume_training(self, run_id: str) -> dict[str, Any]:
        """Continues a cancelled or failed run (the id of its first job) from its last checkpoint; returns the new
        job."""
        return self._request("POST", f"{TRAINING_RUNS}/{_segment(run_id)}/resume")["job"]  # type: ignore[no-any-return]

    def training_logs(self, job_id: str) -> str:
        """The whole log of a training job as Ray kept it (driver and workers)."""
        return bytes(self._request("GET", f"{TRAINING_JOBS}/{_segment(job_id)}/logs", raw=True)).decode()

    def run_metrics(self, run_id: str) -> dict[str, Any]:
        """A run's per-epoch curves, live while it trains: {run_id, mlflow_run_id, curves: [{name, points: [{epoch,
        value}]}]} (train_loss, val_loss, val_auc or val_dice, learning_rate, samples_per_second...)."""
        return self._request("GET", f"{TRAINING_RUNS}/{_segment(run_id)}/metrics")  # type: ignore[no-any-return]

    def download_predictions(self, run_id: str, path: Path | str) -> Path:
        """Writes a finished run's predictions on its validation and test splits (CSV) to ``path``."""
        return self._download(f"{TRAINING_RUNS}/{_segment(run_id)}/predictions.csv", Path(path))

    def model_versions(self, name: str = "") -> list[dict[str, Any]]:
        """Registered model versions (of the model ``name``, or of all), newest first: [{name, version, status
        (CANDIDATE, PRODUCTION, ARCHIVED), mlflow_run_id, metrics, params, tags, created_at}]."""
        return self._request("GET", MODELS, params={"name": name} if name else None)["versions"]  # type: ignore[no-any-return]

    def model_version(self, name: str, version: int) -> dict[str, Any]:
        """One registered model version (see :meth:`model_versions`)."""
        return self._request("GET", _model_path(name, version))  # type: ignore[no-any-return]

    def compare_models(self, versions: Iterable[tuple[str, int]]) -> dict[str, Any]:
        """Two or more model versions side by side: {versions (in the order given), differing_params,
        common_metrics}."""
        body = {"versions": [{"name": name, "version": version} for name, version in versions]}
        return self._request("POST", f"{MODELS}/compare", json=body)  # type: ignore[no-any-return]

    def promote_model(self, name: str, version: int) -> dict[str, Any]:
        """Makes a version its model's production version (the previous one becomes a candidate); returns it. Only
        an admin or the researcher who trained it may (ApiError NOT_MODEL_OWNER)."""
        return self._request("POST", f"{_model_path(name, version)}/promote")  # type: ignore[no-any-return]

    def archive_model(self, name: str, version: int) -> dict[str, Any]:
        """Retires a model version (it can be promoted again); returns it."""
        return self._request("POST", f"{_model_path(name, version)}/archive")  # type: ignore[no-any-return]

    def export_model(
        self, name: str, version: int, format: Literal["torchscript", "onnx", "mlflow"], path: Path | str
    ) -> Path:
        """Writes a model version to ``path`` as TorchScript (.pt), ONNX (.onnx) or an MLflow model (zip)."""
        source = f"{_model_path(name, version)}/export?format={quote(format)}"
        # the first export of a version is made while the request waits
        return self._download(source, Path(path), httpx.Timeout(30.0, read=UPLOAD_TIMEOUT))

    def import_custom_model(
        self,
        path: Path | str,
        *,
        format: Literal["torchscript", "monai_bundle"],
        task: str,
        spatial_dims: int,
        in_channels: int,
        patch_size: Sequence[int],
        display_name: str = "",
    ) -> dict[str, Any]:
        """Imports a TorchScript file or a MONAI bundle (zip with configs/ and models/model.pt) as a network to train
        or fine-tune; it is checked with one forward pass of a ``patch_size`` input. Returns {architecture (its id,
        "custom-...", goes into the settings' "architecture"), parameters, output_shape}."""
        path = Path(path)
        with path.open("rb") as handle:
            body: Files = [
                ("file", (path.name, handle, "application/octet-stream")),
                ("format", (None, format)),  # type: ignore[list-item]
                ("task", (None, task.upper())),  # type: ignore[list-item]
                ("spatial_dims", (None, str(spatial_dims))),  # type: ignore[list-item]
                ("in_channels", (None, str(in_channels))),  # type: ignore[list-item]
                ("patch_size", (None, ",".join(map(str, patch_size)))),  # type: ignore[list-item]
                ("display_name", (None, display_name)),  # type: ignore[list-item]
            ]
            return self._request("POST", "/api/v1/training/custom-models", files=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]

    def test_model(
        self,
        name: str,
        version: int,
        dataset_id: str,
        *,
        split: Literal["test", "validation", "train", "all"] = "test",
        threshold: float | None = None,
        job_id: str = "",
        sites: Sequence[str] = (),
        series: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Tests a model version on a split of a dataset version (only ``sites``' cases, and only the cases of
        ``series``, when given), as a job (follow it with :meth:`wait_for_training_job`; its id is the evaluation's).
        Returns {job, cases}."""
        body = {
            "dataset_id": dataset_id,
            "split": split,
            "threshold": threshold,
            "job_id": job_id,
            "sites": list(sites),
            "series_instance_uids": list(series),
        }
        return self._request(  # type: ignore[no-any-return]
            "POST", f"{_model_path(name, version)}/tests", json=body, timeout=UPLOAD_TIMEOUT
        )

    def evaluation(self, evaluation_id: str) -> dict[str, Any]:
        """A finished test's report: {id, model, dataset_id, split, report, plots}."""
        return self._request("GET", f"/api/v1/models/evaluations/{_segment(evaluation_id)}")  # type: ignore[no-any-return]

    def download_evaluation(self, evaluation_id: str, file: str, path: Path | str) -> Path:
        """Writes one file of a test (``predictions.csv`` or ``<plot>.png``) to ``path``."""
        return self._download(f"/api/v1/models/evaluations/{_segment(evaluation_id)}/{quote(file)}", Path(path))

    def predict(
        self, name: str, version: int, series: str | Path, *, dicom: bool = False, out: Path | str | None = None
    ) -> dict[str, Any]:
        """Runs a model version on one series: a series UID of the store, or DICOM file(s) of one series (a file or a
        folder), uploaded first. Returns {probabilities, predicted_class, volumes, overlay, dicom, seconds}; with
        ``out``, the overlay PNG (and the DICOM object) are written there."""
        if isinstance(series, Path) or Path(str(series)).exists():
            paths = sorted(Path(series).rglob("*")) if Path(series).is_dir() else [Path(series)]
            files = [path for path in paths if path.is_file()]
            uids = {str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID) for path in files}
            if len(uids) != 1:
                raise ValueError(f"give the files of one series, not of {len(uids)}")
            self.upload(files)
            series = uids.pop()
        body = {"series_instance_uid": str(series), "dicom": dicom}
        found: dict[str, Any] = self._request(
            "POST", f"{_model_path(name, version)}/predict", json=body, timeout=UPLOAD_TIMEOUT
        )
        if out is not None:
            folder = Path(out)
            folder.mkdir(parents=True, exist_ok=True)
            for url in (found["overlay"], found["dicom"]):
                if url:
                    self._download(url, folder / url.rsplit("/", 1)[1])
        return found

    def batch_predict(self, name: str, version: int, series: Sequence[str], *, job_id: str = "") -> dict[str, Any]:
        """Runs a model version on many series as a job (follow it with :meth:`wait_for_training_job`); returns it."""
        body = {"series_instance_uids": list(series), "job_id": job_id}
        answer: dict[str, Any] = self._request(
            "POST", f"{_model_path(name, version)}/batch-predictions", json=body, timeout=UPLOAD_TIMEOUT
        )
        return answer["job"]  # type: ignore[no-any-return]

    def download_batch_predictions(self, job_id: str, path: Path | str) -> Path:
        """Writes a finished batch prediction's table (one row per series) to ``path``."""
        return self._download(f"/api/v1/models/batch-predictions/{_segment(job_id)}/predictions.csv", Path(path))

    def write_prelabels(
        self, job_id: str, project_id: str, *, annotator_id: str = "", submit: bool = False, min_score: float = 0.5
    ) -> dict[str, Any]:
        """Writes a finished batch prediction's classes (classifier) or boxes scoring at least ``min_score``
        (detector) into the project's tasks as the model's pre-labels (drafts the annotator corrects, unless
        ``submit``). Returns {cases, labels, source}."""
        body = {"project_id": project_id, "annotator_id": annotator_id, "submit": submit, "min_score": min_score}
        return self._request(  # type: ignore[no-any-return]
            "POST", f"/api/v1/models/batch-predictions/{_segment(job_id)}/prelabels", json=body
        )

    def import_weights(self, path: Path | str) -> dict[str, Any]:
        """Uploads weights (a PyTorch state dict) for runs to start from. Returns {weights_key (the settings'
        "pretrained.weights_key"), tensors}."""
        path = Path(path)
        with path.open("rb") as handle:
            body: Files = [("file", (path.name, handle, "application/octet-stream"))]
            return self._request("POST", "/api/v1/training/weights", files=body, timeout=UPLOAD_TIMEOUT)  # type: ignore[no-any-return]


def job_state(job: dict[str, Any]) -> str:
    """A job's state: QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED (also from a proto-style JOB_STATE_ name)."""
    return str(job.get("state") or "").removeprefix("JOB_STATE_")


def _server_sent_events(lines: Iterable[str], deadline: float | None) -> Iterator[tuple[str, str]]:
    """(event type, data) of each event of a text/event-stream; comment lines (keep-alives) only let the deadline
    (time.monotonic) be checked."""
    kind, data = "message", list[str]()
    for line in lines:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("the event stream went on past its deadline")
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)


def _iso(moment: datetime | str) -> str:
    """ISO 8601; a naive datetime is taken as local time."""
    if isinstance(moment, str):
        return moment
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def _day(value: date | str | None) -> str | None:
    """A day as YYYY-MM-DD (a datetime's date part)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else value


def _query(filters: StudyFilter, sort: str | None) -> dict[str, Any]:
    """The query parameters of a patient, study or series search: the filters given, and the sort order."""
    params: dict[str, Any] = {**filters, "sort": sort}
    for end in ("study_date_from", "study_date_to"):
        params[end] = _day(params.get(end))
    return {name: value for name, value in params.items() if value}


def _model_path(name: str, version: int) -> str:
    return f"{MODELS}/{_segment(name)}/versions/{int(version)}"


def _segment(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")
