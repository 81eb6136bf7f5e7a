"""The console's server side: cookie sessions with CSRF, effective permissions, explain, static files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import experimently.console
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Harness


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"cookie_secure": False}  # the test client speaks plain http


async def _sign_in(h: Harness) -> dict[str, Any]:
    response = await h.client.post(
        "/api/v1/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sign_in__refresh_token_only_in_httponly_strict_cookie(harness: Harness) -> None:
    # Given / When a person signs in through the console endpoint
    response = await harness.client.post(
        "/api/v1/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    # Then the body holds the access token and CSRF token but no refresh token
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "csrf_token"}
    cookies = response.headers.get_list("set-cookie")
    refresh = next(c for c in cookies if c.startswith("experimently_refresh="))
    assert "HttpOnly" in refresh and "SameSite=strict" in refresh and "Path=/api/v1/auth/session" in refresh
    csrf = next(c for c in cookies if c.startswith("experimently_csrf="))
    assert "HttpOnly" not in csrf and body["csrf_token"] in csrf


async def test_sign_in__secure_cookie_by_default(harness: Harness) -> None:
    harness.settings.cookie_secure = True
    response = await harness.client.post(
        "/api/v1/auth/session", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert all("Secure" in c for c in response.headers.get_list("set-cookie"))


async def test_cookie_refresh__with_csrf_header__rotates(harness: Harness) -> None:
    body = await _sign_in(harness)
    old_refresh = harness.client.cookies.get("experimently_refresh")
    response = await harness.client.post(
        "/api/v1/auth/session/refresh", headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["csrf_token"] != body["csrf_token"]
    assert harness.client.cookies.get("experimently_refresh") != old_refresh
    me = await harness.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
    )
    assert me.json()["data"]["email"] == ADMIN_EMAIL


@pytest.mark.parametrize("header", [None, "", "forged-token-of-the-attacker"])
async def test_cookie_refresh__missing_or_wrong_csrf__403(harness: Harness, header: str | None) -> None:
    await _sign_in(harness)
    headers = {} if header is None else {"X-CSRF-Token": header}
    response = await harness.client.post("/api/v1/auth/session/refresh", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_cookie_refresh__planted_csrf_cookie_pair__403(harness: Harness) -> None:
    # an attacker who can set a cookie (sibling subdomain) sends a matching cookie and header of its own
    await _sign_in(harness)
    harness.client.cookies.set("experimently_csrf", "a" * 40)
    response = await harness.client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "a" * 40})
    assert response.status_code == 403


async def test_cookie_refresh__no_cookie__401(harness: Harness) -> None:
    response = await harness.client.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": "x"})
    assert response.status_code == 401


async def test_sign_out__revokes_family_and_clears_cookie(harness: Harness) -> None:
    body = await _sign_in(harness)
    auth = {"Authorization": f"Bearer {body['access_token']}", "X-CSRF-Token": body["csrf_token"]}
    stolen = harness.client.cookies.get("experimently_refresh")
    response = await harness.client.post("/api/v1/auth/session/logout", headers=auth)
    assert response.status_code == 204
    assert harness.client.cookies.get("experimently_refresh") is None
    # the refresh token is revoked server-side, not only forgotten by the browser
    replay = await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert [a["action"] for a in await harness.audit(action="auth.logout")] == ["auth.logout"]


async def test_permissions__viewer_reads_only(harness: Harness) -> None:
    viewer, _ = await harness.user("viewer")
    response = await harness.client.get("/api/v1/auth/permissions", headers=viewer)
    data = response.json()["data"]
    assert data["role"] == "viewer"
    assert "flags:read" in data["permissions"] and "flags:write" not in data["permissions"]


async def test_permissions__developer_owns_its_writes_admin_everything(harness: Harness) -> None:
    developer, _ = await harness.user("developer")
    dev = (await harness.client.get("/api/v1/auth/permissions", headers=developer)).json()["data"]
    assert "flags:write" in dev["owned_only"] and "users:write" not in dev["permissions"]
    admin = (await harness.client.get("/api/v1/auth/permissions", headers=await harness.admin())).json()
    assert admin["data"]["owned_only"] == [] and "users:write" in admin["data"]["permissions"]


async def _flag_with_rules(h: Harness) -> None:
    body = {
        "key": "checkout",
        "name": "Checkout",
        "environments": {
            "production": {
                "enabled": True,
                "rules": [
                    {
                        "id": "beta",
                        "conditions": [
                            {"attribute": "country", "operator": "in", "values": ["FR", "DE"]},
                            {"attribute": "plan", "operator": "eq", "values": ["pro"]},
                        ],
                        "serve": {"variation": "on"},
                    },
                    {
                        "id": "mobile",
                        "conditions": [
                            {"attribute": "app_version", "operator": "semver_gte", "values": ["2.0.0"]}
                        ],
                        "serve": {"variation": "on"},
                    },
                ],
                "fallthrough": {"variation": "off"},
            }
        },
    }
    response = await h.client.post("/api/v1/feature-flags", json=body, headers=await h.admin())
    assert response.status_code == 201, response.text


async def test_explain__traces_each_condition_of_each_rule_tried(harness: Harness) -> None:
    await _flag_with_rules(harness)
    viewer, _ = await harness.user("viewer")
    response = await harness.client.post(
        "/api/v1/feature-flags/checkout/environments/production/explain",
        json={"user_id": "u1", "context": {"country": "FR", "plan": "free", "app_version": "2.1.0"}},
        headers=viewer,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["result"]["variation"] == "on" and data["result"]["reason"] == "TARGETING_MATCH"
    assert data["matched_rule"] == 1
    first, second = data["rules"]
    assert [c["held"] for c in first["conditions"]] == [True, False] and not first["matched"]
    assert first["conditions"][1]["actual"] == "free"
    assert second["matched"] and second["conditions"][0]["held"]


async def test_explain__no_rule_matches__default_and_every_rule_traced(harness: Harness) -> None:
    await _flag_with_rules(harness)
    response = await harness.client.post(
        "/api/v1/feature-flags/checkout/environments/production/explain",
        json={"user_id": "u1", "context": {"country": "US"}},
        headers=await harness.admin(),
    )
    data = response.json()["data"]
    assert data["result"]["reason"] == "DEFAULT" and data["matched_rule"] is None
    assert len(data["rules"]) == 2 and not any(r["matched"] for r in data["rules"])


async def test_explain__disabled_environment(harness: Harness) -> None:
    await _flag_with_rules(harness)
    response = await harness.client.post(
        "/api/v1/feature-flags/checkout/environments/staging/explain",
        json={"user_id": "u1"},
        headers=await harness.admin(),
    )
    data = response.json()["data"]
    assert data["enabled"] is False and data["result"]["reason"] == "DISABLED" and data["rules"] == []


async def test_explain__unknown_environment_or_flag__404(harness: Harness) -> None:
    await _flag_with_rules(harness)
    admin = await harness.admin()
    for path in ("checkout/environments/nowhere", "missing/environments/production"):
        response = await harness.client.post(f"/api/v1/feature-flags/{path}/explain", json={}, headers=admin)
        assert response.status_code == 404, path


async def test_explain__evaluate_key_refused(harness: Harness) -> None:
    await _flag_with_rules(harness)
    key = await harness.api_key(["evaluate"])
    response = await harness.client.post(
        "/api/v1/feature-flags/checkout/environments/production/explain", json={}, headers=key
    )
    assert response.status_code == 403


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>console</title><div id=root></div>")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg/>")
    monkeypatch.setattr(experimently.console, "DIST", dist)
    yield dist


async def test_static__client_routes_get_index_without_cache(fake_dist: Path, harness: Harness) -> None:
    for path in ("/", "/flags", "/flags/checkout", "/admin/keys"):
        response = await harness.client.get(path)
        assert response.status_code == 200, path
        assert "<div id=root>" in response.text
        assert response.headers["cache-control"] == "no-cache"
        assert len(response.headers.get_list("content-security-policy")) == 1  # one policy, not two
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "unsafe" not in csp


async def test_static__hashed_assets_cached_long(fake_dist: Path, harness: Harness) -> None:
    response = await harness.client.get("/assets/index-abc123.js")
    assert response.status_code == 200 and response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]
    assert (await harness.client.get("/assets/missing.js")).status_code == 404
    assert (await harness.client.get("/assets/..%2F..%2Fsecret_key")).status_code == 404


async def test_static__never_shadows_api_or_operations(fake_dist: Path, harness: Harness) -> None:
    missing = await harness.client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    assert (await harness.client.get("/health")).json()["data"]["status"] == "ok"
    assert (await harness.client.get("/metrics")).headers["content-type"].startswith("text/plain")
    assert (await harness.client.get("/api/openapi.json")).json()["info"]["title"] == "Experimently"


async def test_static__the_api_under_a_wrong_prefix__gets_the_apis_404(
    fake_dist: Path, harness: Harness
) -> None:
    # an SDK given "https://flags.example.com/foo" as its root got the console's page with a 200: a
    # ruleset that did not parse, a stream that said nothing, and "server unreachable" logged for ever
    for path in ("/foo/api/v1/sdk/flags", "/foo/api/v1/sdk/stream", "/a/b/api/v1/events"):
        response = await harness.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "ROUTE_NOT_FOUND"
    # the console's own routes, "api" among their words, are still its pages
    for path in ("/flags/api", "/flags/api/history", "/segments/api-v1"):
        response = await harness.client.get(path)
        assert response.status_code == 200 and "<div id=root>" in response.text, path


async def test_docs__served_from_local_files(fake_dist: Path, harness: Harness) -> None:
    for path in ("/api/docs", "/api/redoc"):
        html = (await harness.client.get(path)).text
        assert "/docs-assets/" in html and "cdn" not in html.lower() and "https://" not in html
        assert 'rel="icon"' in html and 'href="/favicon.svg"' in html  # no request for /favicon.ico
    csp = (await harness.client.get("/api/docs")).headers.get_list("content-security-policy")
    assert len(csp) == 1 and "cdn" not in csp[0]


async def test_static__not_built__explains_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, harness: Harness
) -> None:
    monkeypatch.setattr(experimently.console, "DIST", tmp_path / "nothing")
    response = await harness.client.get("/")
    assert response.status_code == 503 and "make install" in response.text


async def test_reset_password__new_password_shown_once_old_sessions_end(harness: Harness) -> None:
    # Given a developer signed in
    _, user_id = await harness.user("developer", email="dev@example.com")
    old = await harness.client.post(
        "/api/v1/auth/token", data={"username": "dev@example.com", "password": "user-password-123"}
    )
    refresh = old.json()["refresh_token"]
    # When an admin resets the password
    response = await harness.client.post(
        f"/api/v1/users/{user_id}/reset-password", headers=await harness.admin()
    )
    # Then the new password works, the old one and the old refresh token do not, and it is audited
    assert response.status_code == 200, response.text
    new = response.json()["data"]["password"]
    assert (
        await harness.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    ).status_code == 401
    login = await harness.client.post(
        "/api/v1/auth/token", data={"username": "dev@example.com", "password": new}
    )
    assert login.status_code == 200
    assert [a["resource_id"] for a in await harness.audit(action="user.password_reset")] == [user_id]


async def test_reset_password__developer_refused(harness: Harness) -> None:
    developer, user_id = await harness.user("developer")
    response = await harness.client.post(f"/api/v1/users/{user_id}/reset-password", headers=developer)
    assert response.status_code == 403
