"""create_app(): middleware, routers, lifespan (engine, cache, queue, jobs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from experimently import __doc__ as product_doc
from experimently.analysis.router import router as analysis_router
from experimently.audit.router import router as audit_router
from experimently.auth.router import keys_router, users_router
from experimently.auth.router import router as auth_router
from experimently.config import Settings, load_settings
from experimently.deps import RuntimeDep
from experimently.environments.router import router as environments_router
from experimently.errors import install_error_handlers
from experimently.events.router import router as events_router
from experimently.experiments.router import layers_router
from experimently.experiments.router import router as experiments_router
from experimently.flags.router import router as flags_router
from experimently.flags.router import sdk_router
from experimently.logging_setup import configure_logging
from experimently.metrics.router import router as metrics_router
from experimently.middleware import RequestMiddleware
from experimently.privacy.router import router as privacy_router
from experimently.runtime import Runtime, build_runtime
from experimently.safety.router import router as safety_router
from experimently.sdk.client_side import ClientCorsMiddleware
from experimently.sdk.client_side import router as sdk_client_router
from experimently.sdk.router import router as sdk_stream_router
from experimently.segments.router import router as segments_router
from experimently.webhooks.router import router as webhooks_router
from experimently.wiring import register_jobs, register_services, start_services, stop_services

ops = APIRouter(tags=["operations"])


@ops.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"data": {"status": "ok"}, "meta": {}}


@ops.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database (and Redis, when configured) are reachable."""
    database = await runtime.db.ping()
    redis = await runtime.redis_ok()
    ok = database and redis is not False
    body = {
        "data": {"status": "ready" if ok else "not_ready", "database": database, "redis": redis},
        "meta": {},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@ops.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    routers = (  # hot paths first: FastAPI tries routers in order on every request
        flags_router,
        sdk_router,
        sdk_stream_router,
        sdk_client_router,
        events_router,
        experiments_router,
        auth_router,
        users_router,
        keys_router,
        environments_router,
        audit_router,
        segments_router,
        layers_router,
        analysis_router,
        safety_router,
        metrics_router,
        privacy_router,
        webhooks_router,
    )
    for router in routers:
        api.include_router(router)
    return api


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        await rt.cache.start()
        register_services(rt)
        register_jobs(rt)
        await start_services(rt, http=True)
        if settings.run_jobs:
            rt.jobs.start()
        try:
            yield
        finally:
            await stop_services(rt)
            await rt.close()

    app = FastAPI(
        title="Experimently",
        description=product_doc or "",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(ops)
    app.include_router(api_router())
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag", "Retry-After"],
        )
    if settings.sdk_client_origins:
        app.add_middleware(ClientCorsMiddleware, origins=settings.sdk_client_origins)
    app.add_middleware(RequestMiddleware, settings=settings)
    return app
