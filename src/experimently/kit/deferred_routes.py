"""Routers imported and included on the first request under their path prefix (start-up time).

A :class:`DeferredRouter` stands in an application's route list where a router would have been
included. It matches every request whose path lies under one of the router's first path segments
(``/api/v1`` + ``/feature-flags``); on the first such request it builds the router's routes exactly as
an eager ``include_router`` would, puts them in its own place in the list (so the routes keep the order
they would have had), and dispatches the request again. A stand-in whose segments do not cover a path
holds no route that could match it, so the first route that matches is the one the eager application
would have chosen. ``load_all`` includes every router still deferred (the OpenAPI document is built
after it, so it is complete and identical).

Not supported on a deferred route until it is loaded: ``url_path_for`` (nothing in the server uses it).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send


class DeferredRouter(BaseRoute):
    def __init__(
        self, app: FastAPI, prefix: str, segments: tuple[str, ...], include: Callable[[], None]
    ) -> None:
        """``include`` includes the router into ``app`` (appending its routes, as ``include_router``
        does); ``segments`` are the first path segments after ``prefix`` that its routes use."""
        self.app_ = app
        self.prefix = prefix.rstrip("/")
        self.segments = frozenset(segments)
        self.include = include

    def covers(self, path: str) -> bool:
        if not path.startswith(self.prefix + "/"):
            return False
        return path[len(self.prefix) + 1 :].split("/", 1)[0] in self.segments

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and self.covers(get_route_path(scope)):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)

    def load(self) -> None:
        """Replace this stand-in with the router's routes (idempotent: a second call does nothing)."""
        routes = self.app_.router.routes
        if not any(route is self for route in routes):
            return
        count = len(routes)
        self.include()
        added = routes[count:]
        del routes[count:]
        at = next(i for i, route in enumerate(routes) if route is self)
        routes[at : at + 1] = added
        # FastAPI keys its caches (effective routes, the OpenAPI document) on a routes version
        changed = getattr(self.app_.router, "_mark_routes_changed", None)
        if changed is not None:
            changed()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.load()
        await self.app_.router.app(scope, receive, send)  # the same request, against the real routes

    def __repr__(self) -> str:
        return f"DeferredRouter({self.prefix!r}, {sorted(self.segments)!r})"


def deferred(app: FastAPI) -> list[DeferredRouter]:
    return [route for route in app.router.routes if isinstance(route, DeferredRouter)]


def load_all(app: FastAPI) -> None:
    """Include every router still deferred, in place."""
    for route in deferred(app):
        route.load()


def load_covering(app: FastAPI, path: str) -> None:
    """Include every router still deferred whose routes could match ``path`` (callers that dispatch
    to a route's endpoint themselves, like the HTTP fast path, and need its route object)."""
    for route in deferred(app):
        if route.covers(path):
            route.load()
