"""create_app(): middleware, routers, lifespan (engine, cache, queue, jobs)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from experimently import __doc__ as product_doc
from experimently.analysis.router import router as analysis_router
from experimently.audit.router import router as audit_router
from experimently.auth.deps import get_actor
from experimently.auth.mfa_router import admin_router as mfa_admin_router
from experimently.auth.mfa_router import router as mfa_router
from experimently.auth.router import keys_router, users_router
from experimently.auth.router import router as auth_router
from experimently.auth.session_router import router as session_router
from experimently.auth.session_router import users_admin_router
from experimently.auth.sessions_router import router as sessions_router
from experimently.config import Settings, load_settings
from experimently.console import install_console
from experimently.deps import RuntimeDep
from experimently.environments.router import router as environments_router
from experimently.error_docs import render_html
from experimently.errors import install_error_handlers
from experimently.events.pipeline import redis_persistence
from experimently.events.router import router as events_router
from experimently.experiments.router import layers_router
from experimently.experiments.router import router as experiments_router
from experimently.fastpath import FastPathMiddleware
from experimently.flags.explain_router import router as explain_router
from experimently.flags.router import router as flags_router
from experimently.flags.router import sdk_router
from experimently.input_guard import InputGuardMiddleware
from experimently.kit import gc_pauses
from experimently.logging_setup import configure_logging
from experimently.metrics.router import router as metrics_router
from experimently.middleware import RequestMiddleware
from experimently.openapi import declare_errors
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
    data: dict[str, Any] = {"status": "ready" if ok else "not_ready", "database": database, "redis": redis}
    if runtime.redis is not None and redis:
        # a warning, not a failure: without an append-only file a Redis restart loses queued events
        data["redis_persistence"] = await redis_persistence(runtime.redis)
    body = {"data": data, "meta": {}}
    return JSONResponse(body, status_code=200 if ok else 503)


@ops.get("/api/errors", response_class=HTMLResponse)
async def error_codes() -> HTMLResponse:
    """Every error code with its cause and remedy (the target of each error's ``documentation_url``;
    public)."""
    return HTMLResponse(render_html())


@ops.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # serve --workers N: every worker's figures
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
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
        mfa_router,
        session_router,
        users_admin_router,
        users_router,
        mfa_admin_router,
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
        explain_router,
    )
    for router in routers:
        declare_errors(router, get_actor)  # the error statuses of every operation, in OpenAPI
        api.include_router(router)
    return api


def beta_router() -> APIRouter:
    """``/api/beta``: endpoints whose shape may still change without a deprecation period (listed in
    docs/api.md); they move to ``/api/v1`` once stable."""
    beta = APIRouter(prefix="/api/beta")
    beta.include_router(sessions_router)
    return beta


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_json)
    gc_pauses.install()

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
        docs_url=None,  # served from local files by experimently.console
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    install_error_handlers(app, settings.errors_docs_url)
    app.include_router(ops)
    app.include_router(api_router())
    app.include_router(beta_router())
    install_console(app)  # last: its catch-all must not shadow an API route
    if settings.http_fast_path:  # innermost: every middleware below applies to its answers too
        app.add_middleware(FastPathMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "ETag", "Retry-After"],
        )
    app.add_middleware(InputGuardMiddleware)  # inside RequestMiddleware: ids, headers and limits apply
    if settings.sdk_client_origins:
        app.add_middleware(ClientCorsMiddleware, origins=settings.sdk_client_origins)
    app.add_middleware(RequestMiddleware, settings=settings)
    return app
