"""create_app(): middleware, routers, lifespan (engine, cache, queue, jobs)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from starlette.types import ASGIApp, Receive, Scope, Send

from experimently import __doc__ as product_doc
from experimently.auth.deps import get_actor
from experimently.config import Settings, load_settings
from experimently.console import install_console
from experimently.deps import RuntimeDep
from experimently.error_docs import render_html
from experimently.errors import DEPENDENCY_RETRY_AFTER, install_error_handlers
from experimently.events.pipeline import redis_persistence
from experimently.input_guard import InputGuardMiddleware
from experimently.kit import gc_pauses, supervisor
from experimently.kit.deferred_routes import DeferredRouter, load_all
from experimently.logging_setup import configure_logging
from experimently.middleware import RequestMiddleware
from experimently.openapi import declare_errors
from experimently.runtime import Runtime, build_runtime
from experimently.sdk.client_side import ClientCorsMiddleware
from experimently.wiring import register_jobs, register_services, start_services, stop_services

if TYPE_CHECKING:
    from experimently.fastpath import FastPathMiddleware

# The domain routers: (module, attribute, the first path segments of its routes), in the order FastAPI
# tries them on every request (hot paths first). Their modules (and pydantic models) are imported on
# the first request under one of the segments (kit.deferred_routes); tests/foundation/
# test_deferred_routes.py checks the segments against the routers and the OpenAPI document.
RouterSpec = tuple[str, str, tuple[str, ...]]
API_ROUTERS: tuple[RouterSpec, ...] = (
    ("experimently.flags.router", "router", ("feature-flags",)),
    ("experimently.flags.router", "sdk_router", ("sdk",)),
    ("experimently.sdk.router", "router", ("sdk",)),
    ("experimently.sdk.client_side", "router", ("feature-flags", "sdk")),
    ("experimently.events.router", "router", ("events",)),
    ("experimently.experiments.router", "router", ("experiments",)),
    ("experimently.auth.router", "router", ("auth",)),
    ("experimently.auth.mfa_router", "router", ("auth",)),
    ("experimently.auth.session_router", "router", ("auth",)),
    ("experimently.auth.session_router", "users_admin_router", ("users",)),
    ("experimently.auth.router", "users_router", ("users",)),
    ("experimently.auth.mfa_router", "admin_router", ("users",)),
    ("experimently.auth.router", "keys_router", ("api-keys",)),
    ("experimently.environments.router", "router", ("environments",)),
    ("experimently.audit.router", "router", ("audit-logs",)),
    ("experimently.segments.router", "router", ("segments",)),
    ("experimently.experiments.router", "layers_router", ("layers",)),
    ("experimently.analysis.router", "router", ("analysis", "experiments")),
    ("experimently.safety.router", "router", ("environments", "experiments", "feature-flags")),
    ("experimently.metrics.router", "router", ("metrics",)),
    ("experimently.privacy.router", "router", ("privacy",)),
    ("experimently.webhooks.router", "router", ("webhooks",)),
    ("experimently.flags.explain_router", "router", ("feature-flags",)),
)
# ``/api/beta``: endpoints whose shape may still change without a deprecation period (listed in
# docs/api.md); they move to ``/api/v1`` once stable.
BETA_ROUTERS: tuple[RouterSpec, ...] = (
    ("experimently.auth.sessions_router", "router", ("sessions", "users")),
)
lifecycle = structlog.get_logger("experimently.server")
API_PREFIX = "/api/v1"
BETA_PREFIX = "/api/beta"


ops = APIRouter(tags=["operations"])


@ops.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: the process answers (HEAD too: some load balancers' checks send it)."""
    return {"data": {"status": "ok"}, "meta": {}}


@ops.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Whether the shared dependencies are reachable: the database (and Redis, when configured); 503
    when one is not. For people, dashboards and deployment gates, not for a load balancer's readiness
    probe: the server serves degraded through a dependency outage, and a probe following shared
    dependencies would take every replica out at once (the shipped probes ask ``/health``;
    docs/operations.md, "Probes")."""
    database = await runtime.db.ping()
    redis = await runtime.redis_ok()
    ok = database and redis is not False
    data: dict[str, Any] = {"status": "ready" if ok else "not_ready", "database": database, "redis": redis}
    if runtime.redis is not None and redis:
        # a warning, not a failure: without an append-only file a Redis restart loses queued events
        data["redis_persistence"] = await redis_persistence(runtime.redis)
    body = {"data": data, "meta": {}}
    if ok:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER)})


# HEAD as well (some load balancers' checks send it), kept out of the API reference
ops.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
ops.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)


@ops.get("/api/errors", response_class=HTMLResponse)
async def error_codes() -> HTMLResponse:
    """Every error code with its cause and remedy (the target of each error's ``documentation_url``;
    public)."""
    return HTMLResponse(render_html())


@ops.get("/metrics", include_in_schema=False)
async def metrics(runtime: RuntimeDep) -> Response:
    await runtime.pipeline.refresh_depth()  # the shared queue's depth as of this scrape
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # serve --workers N: every worker's figures
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def domain_router(spec: RouterSpec) -> APIRouter:
    """Import one domain router and declare its error statuses (the error statuses of every
    operation, in OpenAPI)."""
    module, attribute, _segments = spec
    router: APIRouter = getattr(importlib.import_module(module), attribute)
    declare_errors(router, get_actor)
    return router


def api_router() -> APIRouter:
    """Every ``/api/v1`` router, imported now (``create_app(defer_routers=False)``)."""
    api = APIRouter(prefix=API_PREFIX)
    for spec in API_ROUTERS:
        api.include_router(domain_router(spec))
    return api


def beta_router() -> APIRouter:
    """Every ``/api/beta`` router, imported now."""
    beta = APIRouter(prefix=BETA_PREFIX)
    for spec in BETA_ROUTERS:
        beta.include_router(domain_router(spec))
    return beta


class LazyFastPath:
    """The HTTP fast path (``experimently.fastpath``), imported on the first API request: it calls the
    flags, experiments and SDK routes, whose modules a start does not import (``API_ROUTERS``).
    ``/health``, ``/metrics`` and the console never load it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fast_path: FastPathMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is None:
            if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX + "/"):
                await self.app(scope, receive, send)
                return
            from experimently.fastpath import FastPathMiddleware

            self.fast_path = FastPathMiddleware(self.app)
        await self.fast_path(scope, receive, send)


def _include_deferred(app: FastAPI, prefix: str, specs: tuple[RouterSpec, ...]) -> None:
    """A stand-in per router: included, as ``api_router`` would, on the first request it covers."""

    for spec in specs:

        def include(spec: RouterSpec = spec) -> None:
            holder = APIRouter(prefix=prefix)
            holder.include_router(domain_router(spec))
            app.include_router(holder)
            if gc.get_freeze_count():  # serve froze its start-up objects: these live as long
                gc.freeze()

        app.router.routes.append(DeferredRouter(app, prefix, spec[2], include))


def _complete_openapi(app: FastAPI) -> None:
    """``/api/openapi.json`` (and ``app.openapi()``) include every router first: the document is the
    one an eagerly built application has."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        load_all(app)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace it


# The layers FastAPI and Starlette put in front of the user middleware, in order, and nothing else
_OUTER_LAYERS = ("ServerErrorMiddleware", "ExceptionTelemetryMiddleware", "AppBodyLimitMiddleware")


class ExperimentlyAPI(FastAPI):
    """FastAPI, with HTTP requests entering at the request middleware once the stack is built.

    In front of the user middleware FastAPI puts a server-error layer, its native telemetry and its
    own body limit (``_OUTER_LAYERS``). With telemetry off, no body limit of FastAPI's, no root path
    and no debug pages, none of them does anything for a request here: the request middleware renders
    every error itself (the 500 or 503 envelope) and re-raises only once the answer has started, when
    the server-error layer could only re-raise too. Entering below them saves ~6% of the instructions
    of a fast-path answer (``bench/fastpath.py --instructions``). When the stack in front of the
    request middleware is anything other than exactly those layers (another FastAPI version), every
    request takes FastAPI's own entry, as before; ``tests/foundation/test_app_entry.py`` fails then,
    so the change is seen."""

    entry: ASGIApp | None = None  # the request middleware, once found
    entry_allowed = True  # False: always FastAPI's own entry (telemetry on)
    _entry_checked = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            entry = self.entry
            if entry is None and not self._entry_checked and self.middleware_stack is not None:
                entry = self._find_entry()
            if entry is not None:
                scope["app"] = self  # as Starlette's own entry sets it
                await entry(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _find_entry(self) -> ASGIApp | None:
        self._entry_checked = True
        if not self.entry_allowed or self.root_path or self.debug or self.max_body_size is not None:
            return None
        node: Any = self.middleware_stack
        for name in _OUTER_LAYERS:
            if type(node).__name__ != name:
                return None
            node = getattr(node, "app", None)
        if not isinstance(node, RequestMiddleware):
            return None
        self.entry = node
        return node


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, defer_routers: bool = True
) -> FastAPI:
    """The application. With ``defer_routers`` (the default) each domain router is imported and
    included on the first request under its path (start-up time, issue #17); without, at once."""
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
        orphan_watch = asyncio.create_task(supervisor.watch(), name="supervisor-watch")
        # one line each way, so an operator reading the log of a deploy or a crash loop sees the
        # process come and go (uvicorn itself logs at warning level only)
        embedded = settings.is_embedded
        lifecycle.info("serve.started", pid=os.getpid(), jobs=settings.run_jobs, embedded=embedded)
        try:
            yield
        finally:
            lifecycle.info("serve.stopping", pid=os.getpid())
            orphan_watch.cancel()
            await stop_services(rt)
            await rt.close()
            lifecycle.info("serve.stopped", pid=os.getpid())

    app = ExperimentlyAPI(
        title="Experimently",
        description=product_doc or "",
        version="0.1.0",
        docs_url=None,  # served from local files by experimently.console
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.entry_allowed = not settings.opentelemetry  # its layer must see every request
    install_error_handlers(app, settings.errors_docs_url)
    app.include_router(ops)
    if defer_routers:
        _include_deferred(app, API_PREFIX, API_ROUTERS)
        _include_deferred(app, BETA_PREFIX, BETA_ROUTERS)
        _complete_openapi(app)
    else:
        app.include_router(api_router())
        app.include_router(beta_router())
    install_console(app)  # last: its catch-all must not shadow an API route
    if settings.http_fast_path:  # innermost: every middleware below applies to its answers too
        app.add_middleware(LazyFastPath)
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
