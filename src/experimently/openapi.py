"""The error statuses each operation declares in OpenAPI, derived from what the operation is, so a
schema-driven client or fuzzer sees every status the server can answer with.

Applied to each domain router before it is included (``app.api_router``); statuses a route declares
itself (``responses=errors(...)``) are kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from experimently.errors import errors

AUTHENTICATED = (401, 403, 429)  # behind the actor dependency (API keys are rate limited per key)
BODY_METHODS = {"POST", "PUT", "PATCH"}
CHANGE_METHODS = {"PUT", "PATCH", "DELETE"}


def _needs(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _needs(d, call) for d in dependant.dependencies)


def statuses_of(route: APIRoute, actor_dependency: Callable[..., Any]) -> list[int]:
    """401, 403 and 429 when the operation needs an actor; 404 when its path names a resource; 409 for a
    change or a creation (stale version, duplicate key, resource in use); 413 with a body. Operations
    with other conflicts (lifecycle transitions) declare 409 themselves."""
    statuses: list[int] = []
    methods = route.methods or set()
    if _needs(route.dependant, actor_dependency):
        statuses += AUTHENTICATED
    if route.param_convertors:
        statuses.append(404)
    if methods & CHANGE_METHODS or ("POST" in methods and route.status_code == 201):
        statuses.append(409)
    if methods & BODY_METHODS:
        statuses.append(413)
    return statuses


def declare_errors(router: APIRouter, actor_dependency: Callable[..., Any]) -> None:
    for route in router.routes:
        if isinstance(route, APIRoute):
            for status, response in errors(*statuses_of(route, actor_dependency)).items():
                route.responses.setdefault(status, response)
