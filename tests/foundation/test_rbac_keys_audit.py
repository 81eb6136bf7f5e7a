"""RBAC, API keys and the audit trail."""

from __future__ import annotations

import pytest

from experimently.actor import Actor, ActorKind, Role, Scope
from experimently.errors import AuthenticationRequired, PermissionDenied
from experimently.rbac import Permission, permissions_for, require
from tests.conftest import Harness


def _person(role: Role, uid: str = "u1") -> Actor:
    return Actor(kind=ActorKind.USER, id=uid, label=uid, role=role)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.VIEWER, Permission.FLAGS_READ, True),
        (Role.VIEWER, Permission.FLAGS_WRITE, False),
        (Role.VIEWER, Permission.AUDIT_READ, False),
        (Role.ANALYST, Permission.AUDIT_READ, True),
        (Role.ANALYST, Permission.ANALYSES_WRITE, True),
        (Role.ANALYST, Permission.FLAGS_WRITE, False),
        (Role.DEVELOPER, Permission.FLAGS_WRITE, True),
        (Role.DEVELOPER, Permission.USERS_WRITE, False),
        (Role.DEVELOPER, Permission.KEYS_WRITE, False),
        (Role.ADMIN, Permission.USERS_WRITE, True),
        (Role.ADMIN, Permission.PRIVACY_WRITE, True),
    ],
)
def test_matrix(role: Role, permission: Permission, allowed: bool) -> None:
    assert (permission in permissions_for(_person(role))) is allowed


def test_require__developer_on_anothers_resource__denied_admin_allowed() -> None:
    require(_person(Role.DEVELOPER, "me"), Permission.FLAGS_WRITE, owner_id="me")
    with pytest.raises(PermissionDenied):
        require(_person(Role.DEVELOPER, "me"), Permission.FLAGS_WRITE, owner_id="someone-else")
    require(_person(Role.ADMIN, "boss"), Permission.FLAGS_WRITE, owner_id="someone-else")


def test_api_key_scopes__evaluate_cannot_manage() -> None:
    key = Actor(kind=ActorKind.API_KEY, id="k", label="k", scopes=frozenset({Scope.EVALUATE}))
    assert permissions_for(key) == {Permission.EVALUATE}
    with pytest.raises(PermissionDenied):
        require(key, Permission.FLAGS_WRITE)


async def test_viewer__cannot_create__403_envelope(harness: Harness) -> None:
    headers, _ = await harness.user("viewer")
    for path, body in (
        ("/api/v1/environments", {"key": "qa", "name": "QA"}),
        ("/api/v1/users", {"email": "z@example.com", "role": "viewer"}),
        ("/api/v1/api-keys", {"name": "k", "environment": "production", "scopes": ["evaluate"]}),
    ):
        response = await harness.client.post(path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_admin__creates_environment__one_audit_record_with_diff(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/environments", json={"key": "qa", "name": "QA"}, headers=await harness.admin()
    )
    assert created.status_code == 201
    env_id = created.json()["data"]["id"]
    updated = await harness.client.patch(
        "/api/v1/environments/qa", json={"name": "Quality"}, headers=await harness.admin()
    )
    assert updated.status_code == 200
    records = await harness.audit(resource_id=env_id)
    assert [r["action"] for r in records] == ["environment.updated", "environment.created"]
    assert records[0]["diff"] == {"name": {"before": "QA", "after": "Quality"}}
    assert records[0]["actor_label"] == "admin@example.com"
    assert records[0]["request_id"] and records[0]["ip"]


async def test_duplicate_environment__409(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/v1/environments", json={"key": "staging", "name": "x"}, headers=await harness.admin()
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "CONFLICT"


async def test_failed_mutation__leaves_no_audit_record(harness: Harness) -> None:
    before = len(await harness.audit())
    await harness.client.post(
        "/api/v1/environments", json={"key": "staging", "name": "x"}, headers=await harness.admin()
    )
    assert len(await harness.audit()) == before


async def test_api_key__shown_once_listed_by_prefix_hashed(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/api-keys",
        json={"name": "web", "environment": "staging", "scopes": ["evaluate", "track"]},
        headers=await harness.admin(),
    )
    key = created.json()["data"]["key"]
    listed = (await harness.client.get("/api/v1/api-keys", headers=await harness.admin())).json()["data"]
    assert listed[0]["prefix"] == key[:12] and "key" not in listed[0]
    assert listed[0]["environment"] == "staging" and listed[0]["scopes"] == ["evaluate", "track"]
    from sqlalchemy import select

    from experimently.auth.models import ApiKey

    async with harness.runtime.db.sessions() as session:
        stored = (await session.scalars(select(ApiKey))).one()
    assert stored.key_hash != key and key not in str(stored.__dict__)


async def test_revoked_key__refused(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/api-keys",
        json={"name": "m", "environment": "production", "scopes": ["manage"]},
        headers=await harness.admin(),
    )
    data = created.json()["data"]
    headers = {"X-API-Key": data["key"]}
    assert (await harness.client.get("/api/v1/environments", headers=headers)).status_code == 200
    revoked = await harness.client.post(
        f"/api/v1/api-keys/{data['id']}/revoke", headers=await harness.admin()
    )
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked_at"]
    refused = await harness.client.get("/api/v1/environments", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "TOKEN_INVALID"
    actions = [r["action"] for r in await harness.audit(resource_type="api_key")]
    assert actions == ["api_key.revoked", "api_key.created"]


async def test_key_actor__reused_while_cached__rebuilt_after_a_change(harness: Harness) -> None:
    created = await harness.client.post(
        "/api/v1/api-keys",
        json={"name": "m", "environment": "production", "scopes": ["manage"]},
        headers=await harness.admin(),
    )
    data = created.json()["data"]
    keys = harness.runtime.api_keys
    first = await keys.authenticate(data["key"])
    assert await keys.authenticate(data["key"]) is first  # one Actor per cached record
    await harness.client.post(f"/api/v1/api-keys/{data['id']}/revoke", headers=await harness.admin())
    with pytest.raises(AuthenticationRequired):  # the revocation reached the memo too
        await keys.authenticate(data["key"])


async def test_unknown_key__refused(harness: Harness) -> None:
    response = await harness.client.get("/api/v1/environments", headers={"X-API-Key": "xp_nonsense"})
    assert response.status_code == 401


async def test_evaluate_key__cannot_reach_management(harness: Harness) -> None:
    headers = await harness.api_key(["evaluate"])
    response = await harness.client.get("/api/v1/environments", headers=headers)
    assert response.status_code == 403


async def test_audit__viewer_and_developer_cannot_read__analyst_can(harness: Harness) -> None:
    viewer, _ = await harness.user("viewer")
    developer, _ = await harness.user("developer")
    analyst, _ = await harness.user("analyst")
    assert (await harness.client.get("/api/v1/audit-logs", headers=viewer)).status_code == 403
    assert (await harness.client.get("/api/v1/audit-logs", headers=developer)).status_code == 403
    assert (await harness.client.get("/api/v1/audit-logs", headers=analyst)).status_code == 200


async def test_audit__no_update_or_delete_route(harness: Harness) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        response = await harness.client.request(method, "/api/v1/audit-logs", headers=await harness.admin())
        assert response.status_code == 405


async def test_audit__filters_and_pagination(harness: Harness) -> None:
    for i in range(3):
        await harness.client.post(
            "/api/v1/environments", json={"key": f"e{i}", "name": "E"}, headers=await harness.admin()
        )
    response = await harness.client.get(
        "/api/v1/audit-logs",
        params={"action": "environment.created", "limit": 2, "offset": 0},
        headers=await harness.admin(),
    )
    body = response.json()
    assert len(body["data"]) == 2
    assert body["meta"]["pagination"]["total"] == 6  # 3 defaults (bootstrap) + 3 here
