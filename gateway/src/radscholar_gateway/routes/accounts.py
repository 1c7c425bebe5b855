"""Sign-in, the caller's own account and API keys; user administration; the audit trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from radscholar_core.errors import InvalidArgument
from radscholar_gateway.accounts import ApiKey, TokenPair, User
from radscholar_gateway.deps import Access as AppState
from radscholar_gateway.security.guard import CurrentPrincipal, client_address

router = APIRouter(prefix="/api/v1", tags=["accounts"])

RoleName = Literal["admin", "researcher", "annotator", "reviewer", "site-operator"]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutRequest(BaseModel):
    refresh_token: str = Field("", max_length=512)


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    access_expires_at: datetime
    refresh_expires_at: datetime


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[RoleName]
    active: bool
    created_at: datetime


class Me(UserOut):
    projects: dict[str, str] = Field(description="project id -> your role in it")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=1, max_length=1024)


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: datetime | None = Field(None, description="at most a year ahead; default 90 days")


class KeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreatedKey(BaseModel):
    key: KeyOut
    secret: str = Field(description="shown once; store it now")


class KeyList(BaseModel):
    keys: list[KeyOut]


class NewUser(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    roles: list[RoleName] = Field(min_length=1)
    display_name: str = Field("", max_length=200)


class UserChange(BaseModel):
    roles: list[RoleName] | None = Field(None, min_length=1)
    active: bool | None = None


class UserPage(BaseModel):
    users: list[UserOut]
    next_page_token: str
    total_size: int


class AuditRecordOut(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    actor_username: str
    via: str
    action: str
    resource: str
    client_address: str
    outcome: str
    status_code: int
    request_id: str
    details: dict[str, str]
    hash: str


class AuditPageOut(BaseModel):
    records: list[AuditRecordOut]
    next_page_token: str


class ProblemOut(BaseModel):
    seq: int
    kind: str
    message: str


class Verification(BaseModel):
    ok: bool
    checked: int
    problems: list[ProblemOut]


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        access_expires_at=pair.access_expires_at,
        refresh_expires_at=pair.refresh_expires_at,
    )


def _user(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=sorted(str(r) for r in user.roles),  # type: ignore[misc]
        active=user.active,
        created_at=user.created_at,
    )


def _key(key: ApiKey) -> KeyOut:
    return KeyOut(**{name: getattr(key, name) for name in KeyOut.model_fields})


# --- sign-in ------------------------------------------------------------------------------------


@router.post("/auth/login", summary="Sign in with a user name and password")
async def login(body: Credentials, request: Request, state: AppState) -> Tokens:
    request.state.audit_username = body.username[:64]
    user = await asyncio.to_thread(state.accounts.authenticate, body.username, body.password, client_address(request))
    request.state.audit_actor_id = user.id
    return _tokens(await asyncio.to_thread(state.tokens.issue, user))


@router.post("/auth/refresh", summary="Trade a refresh token for a new token pair (rotation)")
async def refresh(body: RefreshRequest, state: AppState) -> Tokens:
    return _tokens(await asyncio.to_thread(state.tokens.refresh, body.refresh_token))


@router.post("/auth/logout", status_code=204, summary="End this session (access and refresh token)")
async def logout(body: LogoutRequest, principal: CurrentPrincipal, state: AppState) -> Response:
    if principal.via != "password":
        raise InvalidArgument("API keys are revoked, not logged out", reason="NOT_A_SESSION")
    await asyncio.to_thread(state.tokens.logout, principal.access_token, body.refresh_token)
    return Response(status_code=204)


# --- own account --------------------------------------------------------------------------------


@router.get("/me", summary="The signed-in user and their projects")
async def me(principal: CurrentPrincipal) -> Me:
    return Me(**_user(principal.user).model_dump(), projects=principal.projects)


@router.put("/me/password", summary="Change your password; every other session ends")
async def change_password(body: PasswordChange, principal: CurrentPrincipal, state: AppState) -> Tokens:
    user = await asyncio.to_thread(
        state.accounts.change_password, principal.user.id, body.current_password, body.new_password
    )
    return _tokens(await asyncio.to_thread(state.tokens.issue, user))


@router.get("/me/keys", summary="Your API keys (never their secrets)")
async def list_keys(principal: CurrentPrincipal, state: AppState) -> KeyList:
    return KeyList(keys=[_key(k) for k in await asyncio.to_thread(state.api_keys.list, principal.user.id)])


@router.post("/me/keys", status_code=201, summary="Create an API key; its secret is shown once")
async def create_key(body: NewKey, request: Request, principal: CurrentPrincipal, state: AppState) -> CreatedKey:
    key, secret = await asyncio.to_thread(state.api_keys.create, principal.user.id, body.name, body.expires_at)
    request.state.audit_resource = f"api_key:{key.id}"
    return CreatedKey(key=_key(key), secret=secret)


@router.delete("/me/keys/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke_key(key_id: str, principal: CurrentPrincipal, state: AppState) -> Response:
    await asyncio.to_thread(state.api_keys.revoke, key_id, principal.user)
    return Response(status_code=204)


# --- administration -----------------------------------------------------------------------------


@router.get("/users", summary="All users")
async def list_users(
    state: AppState, page_size: Annotated[int, Query(ge=0, le=1000)] = 50, page_token: str = ""
) -> UserPage:
    listing = await asyncio.to_thread(state.accounts.list_users, page_size, page_token)
    return UserPage(
        users=[_user(u) for u in listing.users],
        next_page_token=listing.next_page_token,
        total_size=listing.total_size,
    )


@router.post("/users", status_code=201, summary="Create a user")
async def create_user(body: NewUser, request: Request, state: AppState) -> UserOut:
    user = await asyncio.to_thread(
        state.accounts.create_user, body.username, body.password, body.roles, body.display_name
    )
    request.state.audit_resource = f"user:{user.id}"
    return _user(user)


@router.get("/users/{user_id}", summary="One user")
async def get_user(user_id: str, state: AppState) -> UserOut:
    return _user(await asyncio.to_thread(state.accounts.get_user, user_id))


@router.patch("/users/{user_id}", summary="Change a user's roles or (de)activate them")
async def update_user(user_id: str, body: UserChange, state: AppState) -> UserOut:
    user = await asyncio.to_thread(state.accounts.get_user, user_id)
    if body.roles is not None:
        user = await asyncio.to_thread(state.accounts.set_roles, user_id, body.roles)
    if body.active is not None:
        user = await asyncio.to_thread(state.accounts.set_active, user_id, body.active)
    return _user(user)


@router.put("/users/{user_id}/password", status_code=204, summary="Reset a user's password; their sessions end")
async def reset_password(user_id: str, body: PasswordReset, state: AppState) -> Response:
    await asyncio.to_thread(state.accounts.reset_password, user_id, body.new_password)
    return Response(status_code=204)


@router.get("/audit", summary="Query the audit trail, newest first")
async def query_audit(
    state: AppState,
    actor: Annotated[str | None, Query(description="user id or user name")] = None,
    resource: Annotated[str | None, Query(description="prefix, e.g. 'study:' or 'project:<id>'")] = None,
    action: Annotated[str | None, Query(description="prefix, e.g. 'dicom.' or 'auth.login'")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: Annotated[int, Query(ge=0, le=1000)] = 100,
    page_token: str = "",
) -> AuditPageOut:
    page = await asyncio.to_thread(
        state.audit.query,
        actor=actor,
        resource=resource,
        action=action,
        since=_aware(since),
        until=_aware(until),
        page_size=page_size,
        page_token=page_token,
    )
    return AuditPageOut(
        records=[AuditRecordOut(**{f: getattr(r, f) for f in AuditRecordOut.model_fields}) for r in page.records],
        next_page_token=page.next_page_token,
    )


@router.get("/audit/verification", summary="Check the audit trail's hash chain for edits and removals")
async def verify_audit(state: AppState) -> Verification:
    report = await asyncio.to_thread(state.audit.verify)
    return Verification(
        ok=report.ok,
        checked=report.checked,
        problems=[ProblemOut(seq=p.seq, kind=str(p.kind), message=p.message) for p in report.problems],
    )


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
