"""The gateway application: the composition root of accounts, audit, routes, middleware and upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from radscholar_core.db import create_engine_for, session_factory, upgrade_to_head
from radscholar_core.identity import (
    IdentitySigner,
    key_id_of,
    load_private_key,
    signed_identity_interceptors,
)
from radscholar_core.objectstore import open_object_store
from radscholar_gateway import errors
from radscholar_gateway.accounts import Accounts, ApiKeys, Memberships, Tokens
from radscholar_gateway.audit import AuditLog
from radscholar_gateway.config import Settings
from radscholar_gateway.deps import AccessControl
from radscholar_gateway.dicomweb.upstream import open_upstream
from radscholar_gateway.migrations import MIGRATIONS
from radscholar_gateway.request_ids import RequestIdInterceptor, RequestIdMiddleware
from radscholar_gateway.routes import accounts, dicom, health, labeling, projects, radiomics, sites, stats, training
from radscholar_gateway.routes.dicomweb import router as dicomweb_router
from radscholar_gateway.security.guard import AuditMiddleware, authorize
from radscholar_gateway.security.hardening import RequestSizeLimit, SecurityHeaders
from radscholar_gateway.security.permissions import ROUTES
from radscholar_gateway.security.principal import Authenticator
from radscholar_gateway.upstreams import Channels

API_PREFIX = "/api/v1"
# Paths that take files (REST uploads, STOW-RS): max_upload_bytes instead of max_request_bytes.
# Paths that take files (DICOM, masks, images for radiomics), with the upload size limit.
UPLOAD_PATHS = (
    f"{API_PREFIX}/dicom/uploads",
    "/dicom-web/studies",
    f"{API_PREFIX}/tasks/",
    f"{API_PREFIX}/radiomics/extractions",
    f"{API_PREFIX}/radiomics/selections",
    f"{API_PREFIX}/radiomics/stability",
    f"{API_PREFIX}/radiomics/jobs/pairs",
    f"{API_PREFIX}/stats/tables",
    f"{API_PREFIX}/training/custom-models",
    f"{API_PREFIX}/training/weights",
)


def build_access_control(settings: Settings) -> AccessControl:
    """Migrates the gateway database, creates the first admin if configured, wires the domain."""
    upgrade_to_head(settings.database_url, MIGRATIONS)
    sessions = session_factory(create_engine_for(settings.database_url))
    users = Accounts(sessions)
    if settings.admin_username and settings.admin_password:
        users.ensure_first_admin(settings.admin_username, settings.admin_password.get_secret_value())
    tokens = Tokens(
        sessions,
        settings.token_secret.get_secret_value(),
        access_ttl=timedelta(minutes=settings.access_token_minutes),
        refresh_ttl=timedelta(days=settings.refresh_token_days),
    )
    keys, memberships = ApiKeys(sessions), Memberships(sessions)
    return AccessControl(users, tokens, keys, memberships, AuditLog(sessions), Authenticator(tokens, keys, memberships))


def identity_signer(settings: Settings) -> IdentitySigner:
    from cryptography.hazmat.primitives import serialization

    private_pem = settings.identity_private_key.get_secret_value()
    public_pem = (
        load_private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return IdentitySigner(private_pem, key_id_of(public_pem))


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes of the API document without an entry in the permission table (the gateway refuses to
    start with any; a route hidden from the document is still refused at run time)."""
    return [
        f"{method.upper()} {path}"
        for path, operations in get_openapi(title=app.title, version=app.version, routes=app.routes)["paths"].items()
        for method in operations
        if (method.upper(), path) not in ROUTES
    ]


def create_app(settings: Settings) -> FastAPI:
    signer = identity_signer(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.channels = Channels.open(
            settings.upstreams(),
            [RequestIdInterceptor(settings.upstream_timeout_seconds), *signed_identity_interceptors(signer)],
        )
        app.state.dicomweb = open_upstream(
            settings.orthanc_dicomweb_url,
            settings.orthanc_username,
            settings.orthanc_password.get_secret_value(),
            settings.upstream_timeout_seconds,
        )
        try:
            yield
        finally:
            await app.state.channels.close()
            await app.state.dicomweb.aclose()

    app = FastAPI(
        title="RadScholar",
        version="0.1.0",
        summary="Medical imaging research platform: DICOM, labeling, training, radiomics, statistics.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
    )
    app.state.settings = settings
    app.state.access = build_access_control(settings)
    app.state.objects = open_object_store(settings.object_store)
    # added innermost first. The size limit sits right outside the router so that its 413 reaches the
    # error handlers as is (middlewares built on BaseHTTPMiddleware wrap errors raised while reading).
    app.add_middleware(
        RequestSizeLimit,
        max_bytes=settings.max_request_bytes,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    for module in (health, accounts, dicom, sites, projects, labeling, training, radiomics, stats):
        app.include_router(module.router)
    app.include_router(dicomweb_router)  # DICOMweb keeps its standard place, outside /api/v1
    if missing := undeclared_routes(app):
        raise RuntimeError(f"routes without a declared permission: {', '.join(missing)}")
    return app
