"""The HTTP fast path answers exactly as the FastAPI routes it stands in for.

Every request is sent twice on the same runtime (same database, caches and rate limiter): to the app
(where ``experimently.fastpath`` answers it) and to a reference app built with ``http_fast_path`` off
(FastAPI's routing and dependencies). Status, headers and body bytes must be equal, errors included;
each test also checks that the fast path did answer (a comparison of FastAPI with itself proves
nothing). The 503 of a database outage is compared on a private PostgreSQL that is stopped.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from experimently.app import LazyFastPath, create_app
from experimently.fastpath import FastPathMiddleware, match
from experimently.middleware import REQUESTS
from tests.conftest import Harness, start_harness
from tests.experiments.test_api import act, create
from tests.flags.test_api import FLAGS, create_flag, put_env
from tests.private_services import PrivatePostgres, available, fresh_schema, private_postgres

EXP = "/api/v1/experiments"
RATE_LIMIT = 60


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"api_key_rate_limit": f"{RATE_LIMIT}/minute"}


class Pair:
    """The app under test and its FastAPI-only twin on one runtime."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        reference = create_app(h.settings.model_copy(update={"http_fast_path": False}), runtime=h.runtime)
        reference.state.runtime = h.runtime
        self.reference = httpx.AsyncClient(transport=httpx.ASGITransport(app=reference), base_url="http://t")
        self.number = 0

    def answered(self) -> int:
        app: Any = self.h.client._transport.app  # type: ignore[attr-defined]  # httpx keeps it private
        layer: Any = app.middleware_stack
        while layer is not None and not isinstance(layer, (FastPathMiddleware, LazyFastPath)):
            layer = getattr(layer, "app", None)
        assert layer is not None, "the fast path is not installed"
        if isinstance(layer, LazyFastPath):  # imported on the first API request
            return 0 if layer.fast_path is None else layer.fast_path.answered
        return int(layer.answered)

    async def both(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
        self.number += 1
        headers = {**kwargs.pop("headers", {}), "X-Request-ID": f"req-{self.number}"}
        before = self.answered()
        fast = await self.h.client.request(method, path, headers=headers, **kwargs)
        handled = self.answered() - before
        reference = await self.reference.request(method, path, headers=headers, **kwargs)
        return fast, reference if handled else _not_handled(fast)

    async def same(self, method: str, path: str, *, fast_path: bool = True, **kwargs: Any) -> httpx.Response:
        """Send to both; assert equal answers and whether the fast path answered; the answer."""
        self.number += 1
        headers = {**kwargs.pop("headers", {}), "X-Request-ID": f"req-{self.number}"}
        before = self.answered()
        fast = await self.h.client.request(method, path, headers=headers, **kwargs)
        assert (self.answered() - before == 1) is fast_path, (method, path, fast.status_code)
        reference = await self.reference.request(method, path, headers=headers, **kwargs)
        assert fast.status_code == reference.status_code, (fast.text, reference.text)
        assert dict(fast.headers) == dict(reference.headers)
        assert fast.content == reference.content
        return fast


def _not_handled(response: httpx.Response) -> httpx.Response:
    raise AssertionError(f"the fast path did not answer: {response.status_code} {response.text}")


@pytest.fixture
async def pair(harness: Harness) -> AsyncIterator[Pair]:
    p = Pair(harness)
    yield p
    await p.reference.aclose()


async def _flag(h: Harness, key: str = "new-checkout") -> None:
    await create_flag(h, key)
    config = {
        "enabled": True,
        "rules": [
            {
                "id": "de",
                "conditions": [{"attribute": "country", "operator": "in", "values": ["DE", "Ö"]}],
                "serve": {"variation": "on"},
            }
        ],
        "fallthrough": {
            "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
        },
    }
    assert (await put_env(h, key, "production", config, 1)).status_code == 200


async def test_match__exact_paths_and_methods_only() -> None:
    assert match("POST", "/api/v1/feature-flags/f/evaluate") is not None
    assert match("POST", "/api/v1/feature-flags/evaluate/batch") is not None
    assert match("POST", "/api/v1/experiments/e/assign") is not None
    assert match("GET", "/api/v1/sdk/flags") is not None
    assert match("POST", "/api/v1/sdk/evaluate") is not None
    for method, path in [
        ("GET", "/api/v1/feature-flags/f/evaluate"),
        ("POST", "/api/v1/feature-flags//evaluate"),
        ("POST", "/api/v1/feature-flags/a/b/evaluate"),
        ("POST", "/api/v1/feature-flags/f/evaluate/"),
        ("POST", "/api/v1/experiments/e/assign/bulk"),
        ("HEAD", "/api/v1/sdk/flags"),
        ("POST", "/api/v1/sdk/flags"),
    ]:
        assert match(method, path) is None, (method, path)


async def test_evaluate__answers_equal_fastapi__success_and_errors(pair: Pair) -> None:
    h = pair.h
    await _flag(h)
    key = await h.api_key(["evaluate"])
    path = f"{FLAGS}/new-checkout/evaluate"
    for body in (
        {"user_id": "u1", "context": {"country": "DE"}},
        {"user_id": 42, "context": {"country": "Ö", "plan": "pro"}},
        {"user_id": "u2"},
        {"context": {}, "default": {"x": [1, "é"]}},
    ):
        response = await pair.same("POST", path, json=body, headers=key)
        assert response.status_code == 200
    unknown = await pair.same("POST", f"{FLAGS}/nope/evaluate", json={"user_id": "u"}, headers=key)
    assert unknown.status_code in (200, 404)
    # authentication and scope: 401 (unknown key), 403 (a key without the evaluate scope)
    assert (await pair.same("POST", path, json={}, headers={"X-API-Key": "exp_nope"})).status_code == 401
    manage = await h.api_key(["manage"])
    assert (await pair.same("POST", path, json={"user_id": "u"}, headers=manage)).status_code == 403
    # FastAPI answers what the fast path does not parse: its own 422 wording
    for raw, content_type in (
        (b"{", "application/json"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b'{"user_id": "u", "extra": 1}', "application/json"),
        (b'{"context": "no"}', "application/json"),
        (b'{"user_id": "u"}', "text/plain"),
    ):
        headers = {**key, "Content-Type": content_type}
        response = await pair.same("POST", path, content=raw, headers=headers, fast_path=False)
        assert response.status_code == 422, response.text
    # NUL characters: the input guard in front of both refuses them
    nul = await pair.same("POST", path, json={"user_id": "a\x00"}, headers=key, fast_path=False)
    assert nul.status_code == 422
    # no API key: FastAPI (bearer tokens and the 401)
    assert (await pair.same("POST", path, json={}, fast_path=False)).status_code == 401
    # too large: the request middleware in front of both
    big = {"user_id": "u", "context": {"x": "y" * (h.settings.max_body_bytes + 1)}}
    assert (await pair.same("POST", path, json=big, headers=key, fast_path=False)).status_code == 413


async def test_metrics__fast_answers_labelled_with_the_route_template(pair: Pair) -> None:
    """``experimently_http_requests_total`` counts a fast answer under the FastAPI route's template,
    as it counts the reference app's (never ``<unmatched>``, never the raw path)."""
    h = pair.h
    await _flag(h)
    key = await h.api_key(["evaluate"])
    template = f"{FLAGS}/{{key}}/evaluate"

    def count(route: str) -> float:
        return float(REQUESTS.labels("POST", route, "200")._value.get())  # prometheus_client: no public read

    before, unmatched = count(template), count("<unmatched>")
    await pair.same("POST", f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u1"}, headers=key)
    assert count(template) == before + 2  # the fast answer and the reference app's
    assert count("<unmatched>") == unmatched


async def test_batch_payload_and_client_evaluate__equal_fastapi(pair: Pair) -> None:
    h = pair.h
    await _flag(h)
    key = await h.api_key(["evaluate"])
    users = [{"user_id": f"u{i}", "context": {"country": "DE" if i % 3 else "FR"}} for i in range(50)]
    batch = f"{FLAGS}/evaluate/batch"
    assert (
        await pair.same("POST", batch, json={"flag_key": "new-checkout", "users": users}, headers=key)
    ).is_success
    assert (await pair.same("POST", batch, json={"user_id": "u", "context": {}}, headers=key)).is_success
    refused = await pair.same("POST", batch, json={"flag_key": "new-checkout"}, headers=key)
    assert refused.status_code == 422  # a service rule (ValidationFailed), rendered by the fast path
    payload = await pair.same("GET", "/api/v1/sdk/flags", headers=key)
    assert payload.status_code == 200 and payload.headers["etag"]
    etag = payload.headers["etag"]
    unchanged = await pair.same("GET", "/api/v1/sdk/flags", headers={**key, "If-None-Match": etag})
    assert unchanged.status_code == 304
    client = await h.api_key(["client"])
    assert (await pair.same("GET", "/api/v1/sdk/flags", headers=client)).status_code == 403
    visible = await pair.same("POST", "/api/v1/sdk/evaluate", json={"user_id": "u"}, headers=client)
    assert visible.status_code == 200
    assert (await pair.same("POST", "/api/v1/sdk/evaluate", json={}, headers=key)).status_code == 403


async def test_assign__equal_fastapi__first_write_kept(pair: Pair) -> None:
    h = pair.h
    exp = await create(h)
    assert (await act(h, exp["key"], "start")).status_code == 200
    key = await h.api_key(["evaluate"])
    path = f"{EXP}/{exp['key']}/assign"
    for unit in ("a", "b", "c"):
        fast, reference = await pair.both("POST", path, json={"unit_id": unit}, headers=key)
        assert fast.status_code == reference.status_code == 200
        # the first answer came from the fast path and was kept: the reference repeats its variant
        assert fast.json()["data"]["variant"] == reference.json()["data"]["variant"]
        await pair.same("POST", path, json={"unit_id": unit, "context": {"k": "v"}}, headers=key)
    assert (
        await pair.same("POST", f"{EXP}/nope/assign", json={"unit_id": "u"}, headers=key)
    ).status_code == 404
    missing = await pair.same("POST", path, json={"context": {}}, headers=key)
    assert missing.status_code in (200, 422)


async def test_rate_limit__429_equal_fastapi(pair: Pair) -> None:
    h = pair.h
    await _flag(h)
    key = await h.api_key(["evaluate"])
    path = f"{FLAGS}/new-checkout/evaluate"
    for _ in range(RATE_LIMIT):
        await h.client.post(path, json={"user_id": "u"}, headers=key)
    fast, reference = await pair.both("POST", path, json={"user_id": "u"}, headers=key)
    assert fast.status_code == reference.status_code == 429
    # Retry-After counts down in whole seconds: the second request may fall in the next one
    waits = [int(r.headers["retry-after"]) for r in (fast, reference)]
    assert 0 <= waits[0] - waits[1] <= 1, waits

    def steady(response: httpx.Response) -> tuple[dict[str, str], dict[str, Any]]:
        body = response.json()
        body["error"]["details"].pop("retry_after_seconds")
        headers = {k: v for k, v in response.headers.items() if k not in ("retry-after", "content-length")}
        return headers, body

    assert steady(fast) == steady(reference)


# ----- a database outage: the 503 of an unknown key ------------------------------------------------


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    if not available():
        pytest.skip("needs initdb on PATH")
    with private_postgres() as server:
        yield server


async def test_database_down__503_equal_fastapi(
    tmp_path: Path, private_pg: PrivatePostgres, migrated_sqlite: Path
) -> None:
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    await fresh_schema(private_pg.url)
    async with start_harness("sqlite", tmp_path, database_url=private_pg.url) as h:
        await _flag(h)
        key = await h.api_key(["evaluate"])
        p = Pair(h)
        path = f"{FLAGS}/new-checkout/evaluate"
        assert (await p.same("POST", path, json={"user_id": "u"}, headers=key)).status_code == 200
        private_pg.stop()
        try:
            statuses = []
            for headers in ({"X-API-Key": "exp_unknown_during_outage"}, key):
                fast, reference = await p.both("POST", path, json={"user_id": "u"}, headers=headers)
                assert fast.status_code == reference.status_code
                assert dict(fast.headers) == dict(reference.headers)
                assert fast.content == reference.content
                statuses.append(fast.status_code)
            # an unknown key cannot be checked: 503 with Retry-After; a known one works from memory
            assert statuses == [503, 200]
            assert fast.headers.get("retry-after") is None
        finally:
            private_pg.start()
            await p.reference.aclose()
