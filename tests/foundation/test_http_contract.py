"""The HTTP contract: envelopes, request ids, error codes, headers, health, metrics."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

from experimently.app import create_app
from tests.conftest import Harness, make_settings

PUBLIC = {
    "/health",
    "/ready",
    "/metrics",
    "/api/errors",
    "/api/v1/auth/token",
    "/api/v1/auth/token/mfa",
    "/api/v1/auth/refresh",
    "/api/v1/auth/session",  # the console's sign-in and cookie refresh: public like the two above
    "/api/v1/auth/session/refresh",
    "/api/v1/auth/session/mfa",  # the console's second sign-in step (MFA), like /auth/token/mfa
    "/api/v1/auth/oidc/config",  # the browser's OIDC sign-in (authorization code with PKCE)
    "/api/v1/auth/oidc/start",
    "/api/v1/auth/oidc/callback",
}


async def test_health_and_ready__embedded__answer_without_auth(harness: Harness) -> None:
    health = await harness.client.get("/health")
    ready = await harness.client.get("/ready")
    assert health.status_code == 200 and health.json()["data"]["status"] == "ok"
    assert ready.status_code == 200
    body = ready.json()["data"]
    assert body["database"] is True
    assert body["redis"] is (True if harness.backend == "postgres" else None)
    # a load balancer's check may send HEAD: the same status, no body
    for path in ("/health", "/ready"):
        head = await harness.client.head(path)
        assert head.status_code == 200 and head.content == b""


async def test_openapi_and_docs__served_under_api_docs(harness: Harness) -> None:
    docs = await harness.client.get("/api/docs")
    spec = await harness.client.get("/api/openapi.json")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/api/v1/auth/token" in spec.json()["paths"]


async def test_every_management_route__without_auth__is_401_envelope(harness: Harness) -> None:
    spec = (await harness.client.get("/api/openapi.json")).json()
    checked = 0
    for path, methods in spec["paths"].items():
        if path in PUBLIC:
            continue
        concrete = path.replace("{", "").replace("}", "")
        for method in methods:
            response = await harness.client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.status_code, response.text)
            error = response.json()["error"]
            assert error["code"] == "AUTHENTICATION_REQUIRED"
            assert error["request_id"] == response.headers["x-request-id"]
            checked += 1
    assert checked >= 10


async def test_request_id__incoming_is_honoured__otherwise_generated(harness: Harness) -> None:
    given = await harness.client.get("/health", headers={"X-Request-ID": "abc-123"})
    made = [(await harness.client.get("/health")).headers["x-request-id"] for _ in range(3)]
    assert given.headers["x-request-id"] == "abc-123"
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made) and len(set(made)) == 3


async def test_unknown_route_and_method__envelope(harness: Harness) -> None:
    missing = await harness.client.get("/api/v1/nope")
    wrong = await harness.client.delete("/health")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_malformed_json__422_envelope_not_500(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/environments",
        content=b'{"key": "x",',
        headers={**await harness.admin(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert response.json()["error"]["details"]["errors"][0]["path"] == "body"
    # nested deeper than the parser goes: a 400 that says why
    deep = await harness.client.post(
        "/api/v1/environments",
        content=b"[" * 5000 + b"]" * 5000,
        headers={**await harness.admin(), "Content-Type": "application/json"},
    )
    assert (deep.status_code, deep.json()["error"]["code"]) == (400, "VALIDATION_ERROR"), deep.text
    assert "nested too deeply" in deep.json()["error"]["message"]
    # `curl -d` without -H: the JSON arrives as a form; the message says what to send
    form = await harness.client.post(
        "/api/v1/environments",
        content=b'{"key": "x", "name": "X"}',
        headers={**await harness.admin(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 422
    assert "Content-Type: application/json" in form.json()["error"]["details"]["errors"][0]["message"]


async def test_wrong_types__422_with_field_paths(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/environments", json={"key": "Bad Key!", "name": 42}, headers=await harness.admin()
    )
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["error"]["details"]["errors"]}
    assert paths == {"key", "name"}


async def test_oversized_body__413_envelope(harness: Harness) -> None:
    big = b'{"key": "' + b"x" * (harness.settings.max_body_bytes + 10) + b'"}'
    declared = await harness.client.post(
        "/api/v1/environments",
        content=big,
        headers={**await harness.admin(), "Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b"x" * 100_000

    streamed = await harness.client.post(
        "/api/v1/environments",
        content=chunks(),
        headers={**await harness.admin(), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_security_headers__on_every_response(harness: Harness) -> None:
    response = await harness.client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers


async def test_metrics__by_route_template(harness: Harness) -> None:
    await harness.client.patch(
        "/api/v1/environments/staging", json={"name": "S"}, headers=await harness.admin()
    )
    text = (await harness.client.get("/metrics")).text
    assert 'route="/api/v1/environments/{key}"' in text
    assert "experimently_http_request_duration_seconds_bucket" in text


async def test_success_envelope__data_and_meta(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/environments", headers=await harness.admin())
    body = response.json()
    assert set(body) == {"data", "meta"}
    assert [e["key"] for e in body["data"]] == ["development", "staging", "production"]


async def test_unexpected_error__500_envelope_with_request_id_and_headers(harness: Harness) -> None:
    app = harness.client._transport.app  # type: ignore[attr-defined]  # the harness's ASGITransport

    async def explode() -> None:
        raise RuntimeError("boom: secret detail")

    app.router.add_api_route("/test-explode", explode, methods=["GET"])
    response = await harness.client.get("/test-explode", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "INTERNAL_ERROR",
        "message": "internal error",
        "details": {},
        "request_id": "trace-500",
        "documentation_url": "/api/errors#internal_error",
    }
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "secret detail" not in response.text


def test_fastapi_opentelemetry__off_unless_asked(tmp_path: Path) -> None:
    """FastAPI's native OpenTelemetry layer looks up the global providers on every request: off by
    default (``OPENTELEMETRY=false``), FastAPI's own defaults when turned on."""
    off = create_app(make_settings("sqlite", tmp_path))
    on = create_app(make_settings("sqlite", tmp_path, opentelemetry=True))
    assert not off._native_telemetry.enabled()
    assert (off._telemetry["tracing"], off._telemetry["metrics"], off._telemetry["logs"]) == (False,) * 3
    assert (on._telemetry["tracing"], on._telemetry["metrics"], on._telemetry["logs"]) == (True,) * 3


API_DOC_LINES = (Path(__file__).resolve().parents[2] / "docs/api.md").read_text().splitlines()


async def test_openapi_tags__one_per_endpoint__as_docs_api_groups_them(harness: Harness) -> None:
    """Each endpoint sits under one tag (the API reference's sections), and docs/api.md lists every one
    of them, under the section of that tag: the guarded rollouts were under both "experiments" and a stray
    "feature-flags" group, while the docs put them with the flags."""
    spec = (await harness.client.get("/api/openapi.json")).json()
    documented: dict[tuple[str, str], str] = {}
    section = ""
    for line in API_DOC_LINES:
        if line.startswith("### "):
            section = line[4:].strip()
        found = re.match(r"\| `([A-Z]+)` \| `([^`]+)` \|", line)
        if found:
            documented[(found[1], re.sub(r"\{[^}]*\}", "{}", found[2]))] = section
    missing = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            tags = operation.get("tags", [])
            assert len(tags) == 1, (method, path, tags)
            where = documented.get((method.upper(), re.sub(r"\{[^}]*\}", "{}", path)))
            if where is None:
                missing.append((method.upper(), path))  # the stream and client-side keys were left out
            else:
                assert where == tags[0], (method, path, tags, where)
    assert missing == [], "endpoints docs/api.md does not list"
    assert len(documented) > 100


async def test_openapi__declares_what_these_endpoints_answer(harness: Harness) -> None:
    """A schema-driven client met statuses and fields the document did not declare: POST /events's
    422, /auth/token's 401 and 429, /sdk/flags's 304, `documentation_url` on every error and the
    `event_ids` of a single event."""
    spec = (await harness.client.get("/api/openapi.json")).json()
    paths = spec["paths"]
    assert {"422", "503"} <= set(paths["/api/v1/events"]["post"]["responses"])
    assert {"422", "503"} <= set(paths["/api/v1/events/batch"]["post"]["responses"])
    assert {"401", "429"} <= set(paths["/api/v1/auth/token"]["post"]["responses"])
    assert "304" in paths["/api/v1/sdk/flags"]["get"]["responses"]
    schemas = spec["components"]["schemas"]
    assert "documentation_url" in schemas["ErrorInfo"]["required"]
    assert "event_ids" in schemas["IngestRead"]["properties"]
    # and the answers carry them
    key = await harness.api_key(["track"])
    one = await harness.client.post("/api/v1/events", json={"name": "c", "user_id": "u1"}, headers=key)
    assert one.status_code == 202 and len(one.json()["data"]["event_ids"]) == 1
    bad = await harness.client.post("/api/v1/events", json={"name": "", "user_id": "u1"}, headers=key)
    assert bad.status_code == 422 and bad.json()["error"]["documentation_url"]
