"""Domain routers are imported on the first request under their path (``kit.deferred_routes``): the
application must route every request, and describe itself in OpenAPI, exactly as one built eagerly."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _iter_routes_with_context

from experimently.app import API_ROUTERS, BETA_ROUTERS, create_app
from experimently.kit.deferred_routes import DeferredRouter, deferred
from tests.conftest import Harness


def _effective_routes(app: FastAPI) -> list[tuple[str, tuple[str, ...], str, Any]]:
    """(path, methods, name, endpoint) of every route, in the order FastAPI tries them."""
    routes = []
    for route, context in _iter_routes_with_context(app.routes):
        assert not isinstance(route, DeferredRouter)
        if context is None:
            path, methods = getattr(route, "path", ""), getattr(route, "methods", None)
            name = getattr(route, "name", "")
            endpoint = getattr(route, "endpoint", None)
        else:
            path, methods, name, endpoint = context.path, context.methods, context.name, context.endpoint
        routes.append((path, tuple(sorted(methods or ())), name, endpoint))
    return routes


def _route_table(app: FastAPI) -> list[tuple[str, tuple[str, ...], str, str]]:
    """The routes as comparable values (an endpoint by its module and name: closures differ per app)."""
    return [
        (path, methods, name, f"{endpoint.__module__}.{endpoint.__qualname__}")
        for path, methods, name, endpoint in _effective_routes(app)
    ]


def _fresh(h: Harness) -> FastAPI:
    app = create_app(h.settings, runtime=h.runtime)
    app.state.runtime = h.runtime  # what the lifespan does; the harness runs the lifespan once
    return app


@pytest.mark.parametrize(
    ("prefix", "spec"), [("/api/v1", s) for s in API_ROUTERS] + [("/api/beta", s) for s in BETA_ROUTERS]
)
def test_router_segments__are_the_first_segments_of_its_paths(
    prefix: str, spec: tuple[str, str, tuple[str, ...]]
) -> None:
    # Given a router of the table, When its paths are read, Then their first segments are the declared
    # ones (a request elsewhere can never need it) and none is a path parameter
    module, attribute, segments = spec
    router: APIRouter = getattr(importlib.import_module(module), attribute)
    firsts = set()
    for route, context in _iter_routes_with_context(router.routes):
        path = context.path if context is not None else getattr(route, "path", "")
        firsts.add((router.prefix + path if context is None else path).split("/")[1])
    assert firsts == set(segments)
    assert not any(re.search(r"[{}]", segment) for segment in firsts)


async def test_openapi__deferred_app__is_the_eager_apps_document(harness: Harness) -> None:
    # Given an application whose routers are all still deferred
    app = _fresh(harness)
    assert len(deferred(app)) == len(API_ROUTERS) + len(BETA_ROUTERS)
    # When its OpenAPI document is requested over HTTP
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/api/openapi.json")
    # Then it is, byte for byte, the document of an application built eagerly, and routes as it does
    eager = create_app(harness.settings, runtime=harness.runtime, defer_routers=False)
    assert response.status_code == 200
    assert response.text == json.dumps(eager.openapi(), separators=(",", ":"))
    assert deferred(app) == []
    assert _route_table(app) == _route_table(eager)
    assert len(response.json()["paths"]) > 80


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


async def test_every_route__is_reached_as_the_first_request_of_a_fresh_app(harness: Harness) -> None:
    # Given every route of the eagerly built application
    eager = create_app(harness.settings, runtime=harness.runtime, defer_routers=False)
    eager.state.runtime = harness.runtime
    checked = 0
    for path, methods, _name, endpoint in _effective_routes(eager):
        if not path.startswith("/api/v1/") and not path.startswith("/api/beta/"):
            continue
        method = next(m for m in methods if m != "HEAD")
        answers = []
        for app in (_fresh(harness), eager):
            # When the route is the first request a fresh application (all routers deferred) gets
            seen: dict[str, Any] = {}

            async def spy(
                scope: Any, receive: Any, send: Any, app: FastAPI = app, seen: dict[str, Any] = seen
            ) -> None:
                await app(scope, receive, send)
                seen["endpoint"] = scope.get("endpoint")

            transport = httpx.ASGITransport(app=spy, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.request(method, _concrete(path))
            answers.append((seen["endpoint"], response.status_code))
        # Then the endpoint the eager application chose answers, with the same status
        assert answers[0] == answers[1], (method, path)
        assert answers[0][0] is endpoint, (method, path)
        checked += 1
    assert checked > 80
