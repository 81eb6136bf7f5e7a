"""HTTP requests enter the app at the request middleware (``app.ExperimentlyAPI``), below FastAPI's
outer layers; with OpenTelemetry on, through FastAPI's own entry."""

from __future__ import annotations

from pathlib import Path

import httpx

from experimently.app import ExperimentlyAPI, create_app
from experimently.middleware import RequestMiddleware
from tests.conftest import Harness, make_settings


async def test_requests_enter_at_the_request_middleware(harness: Harness) -> None:
    app = harness.client._transport.app  # type: ignore[attr-defined]  # the harness's ASGITransport
    assert isinstance(app, ExperimentlyAPI)
    await harness.client.get("/health")  # builds the stack (a server's lifespan call does it first)
    response = await harness.client.get("/health", headers={"X-Request-ID": "entry-1"})
    assert response.status_code == 200
    # a FastAPI upgrade that puts other layers in front of the user middleware fails here
    assert isinstance(app.entry, RequestMiddleware)
    assert response.headers["x-request-id"] == "entry-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_with_opentelemetry_every_request_takes_fastapis_entry(tmp_path: Path) -> None:
    app = create_app(make_settings("sqlite", tmp_path, opentelemetry=True))
    assert isinstance(app, ExperimentlyAPI)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(2):  # the second request finds the stack built
            response = await client.get("/health")
            assert response.status_code == 200
            assert response.headers["x-content-type-options"] == "nosniff"
    assert app.middleware_stack is not None
    assert app.entry is None
