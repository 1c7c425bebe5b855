"""The gateway application: routers, error translation, request ids, upstream channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from radscholar_gateway import errors
from radscholar_gateway.config import Settings
from radscholar_gateway.request_ids import RequestIdInterceptor, RequestIdMiddleware
from radscholar_gateway.routes import dicom, health, projects, radiomics, stats, training
from radscholar_gateway.upstreams import Channels

API_PREFIX = "/api/v1"


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.channels = Channels.open(
            settings.upstreams(), [RequestIdInterceptor(settings.upstream_timeout_seconds)]
        )
        try:
            yield
        finally:
            await app.state.channels.close()

    app = FastAPI(
        title="RadScholar",
        version="0.1.0",
        summary="Medical imaging research platform: DICOM, labeling, training, radiomics, statistics.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(RequestIdMiddleware)
    errors.install(app)
    for module in (health, dicom, projects, training, radiomics, stats):
        app.include_router(module.router)
    return app
