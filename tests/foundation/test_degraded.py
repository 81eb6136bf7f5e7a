"""Degrade, don't fail: a private Redis and a private PostgreSQL are stopped under a running app.

Redis down: evaluation, the SDK payload, assignment and login keep answering 200 (limits fall back to
per-process), ingestion answers 503 with Retry-After, and the degraded gauge says so. PostgreSQL down:
known keys keep working from the last-known-good cache, a key revoked before the outage stays refused,
unknown keys and writes answer 503 with Retry-After, the ruleset is served from what the instance holds.
Also single-flight reloads, deactivated owners, unknown-key limits and batched ``last_used_at``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from experimently import degraded
from experimently.auth.models import ApiKey
from experimently.degraded import DEGRADED
from experimently.flags.evaluation import RELOADS
from experimently.flags.service import RULESET_NAMESPACE
from experimently.ratelimit import RateLimiter
from tests.conftest import Harness, start_harness
from tests.experiments.test_api import act, create
from tests.flags.test_api import FLAGS, create_flag, evaluate, put_env
from tests.private_services import PrivatePostgres, PrivateRedis, available, fresh_schema, private_postgres
from tests.private_services import private_redis as start_private_redis

pytestmark = pytest.mark.skipif(not available(), reason="needs redis-server and initdb on PATH")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    with start_private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def _rollout(h: Harness) -> dict[str, str]:
    await create_flag(h)
    config = {"enabled": True, "rules": [], "fallthrough": {"variation": "on"}}
    assert (await put_env(h, "new-checkout", "production", config, 1)).status_code == 200
    return await h.api_key(["evaluate", "track"])


async def _flag_and_running_experiment(h: Harness) -> tuple[dict[str, str], dict[str, Any]]:
    """A flag served on, a running experiment and an `evaluate`+`track` key, each read once."""
    key = await _rollout(h)
    exp = await create(h, "color")
    assert (await act(h, exp["key"], "start")).status_code == 200
    assert (await evaluate(h, key, "new-checkout", "u1"))["value"] is True
    return key, exp


class Timed:
    """Awaits a request and keeps how long it took, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    async def __call__(self, name: str, request: Any) -> httpx.Response:
        started = time.monotonic()
        response: httpx.Response = await request
        self.seconds[name] = time.monotonic() - started
        return response


def _degraded(dependency: str) -> float:
    return float(DEGRADED.labels(dependency)._value.get())


@pytest.fixture
async def redis_harness(
    tmp_path: Path, private_redis: PrivateRedis, migrated_sqlite: Path
) -> AsyncIterator[Harness]:
    """SQLite + a private Redis (the stream pipeline, shared limits, L2 and pub/sub)."""
    shutil.copy(migrated_sqlite, tmp_path / "experimently.db")
    async with start_harness("sqlite", tmp_path, redis_url=private_redis.url) as h:
        yield h


async def test_redis_down__reads_login_and_assignment_200__ingestion_503(
    redis_harness: Harness, private_redis: PrivateRedis
) -> None:
    # Given a flag, a running experiment and a key, all read once while Redis is up
    h = redis_harness
    key, exp = await _flag_and_running_experiment(h)

    # When Redis stops
    private_redis.stop()

    # Then reads keep answering from what the instance holds
    assert (await evaluate(h, key, "new-checkout", "u2"))["value"] is True
    payload = await h.client.get("/api/v1/sdk/flags", headers=key)
    assert payload.status_code == 200, payload.text
    assigned = await h.client.post(
        f"/api/v1/experiments/{exp['key']}/assign", json={"unit_id": "u9"}, headers=key
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["data"]["in_experiment"] is True
    login = await h.client.post(
        "/api/v1/auth/token", data={"username": "admin@example.com", "password": "admin-password-123"}
    )
    assert login.status_code == 200, login.text
    # ingestion cannot queue: 503 with Retry-After, never 500
    sent = await h.client.post("/api/v1/events", json={"name": "c", "user_id": "u1"}, headers=key)
    assert sent.status_code == 503, sent.text
    assert sent.headers["Retry-After"] and sent.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    # and the process says it is degraded
    assert _degraded("redis") == 1.0
    metrics = (await h.client.get("/metrics")).text
    assert 'experimently_degraded{dependency="redis"} 1.0' in metrics

    # When Redis is back, ingestion works again and the gauge clears
    private_redis.start()
    for _ in range(100):
        sent = await h.client.post("/api/v1/events", json={"name": "c", "user_id": "u1"}, headers=key)
        if sent.status_code == 202 and _degraded("redis") == 0.0:
            break
        await asyncio.sleep(0.05)
    assert sent.status_code == 202, sent.text
    assert _degraded("redis") == 0.0


async def test_redis_down__assignment_exposure_written_with_the_assignment(
    redis_harness: Harness, private_redis: PrivateRedis
) -> None:
    from experimently.events.models import Event

    h = redis_harness
    key = await h.api_key(["evaluate", "track"])
    exp = await create(h, "color")
    assert (await act(h, exp["key"], "start")).status_code == 200
    private_redis.stop()
    assigned = await h.client.post(
        f"/api/v1/experiments/{exp['key']}/assign", json={"unit_id": "u1"}, headers=key
    )
    assert assigned.status_code == 200, assigned.text
    async with h.runtime.db.sessions() as session:
        ids = (await session.scalars(select(Event.event_id).where(Event.name == "exposure"))).all()
    assert ids == ["exposure:color:u1"]


async def test_kill_switch__one_reload_per_instance__not_one_per_request(harness: Harness) -> None:
    # Given a warm ruleset and 50 requests in flight right after a kill switch
    key = await _rollout(harness)
    assert (await evaluate(harness, key, "new-checkout", "u0"))["value"] is True
    killed = await harness.client.post(
        f"{FLAGS}/new-checkout/environments/production/kill",
        json={"reason": "t"},
        headers=await harness.admin(),
    )
    assert killed.status_code == 200
    before = RELOADS._value.get()
    # When they all miss L1 at once
    results = await asyncio.gather(*(evaluate(harness, key, "new-checkout", f"u{i}") for i in range(50)))
    # Then one load ran, and every request saw the change
    assert RELOADS._value.get() - before == 1
    assert {r["reason"] for r in results} == {"DISABLED"}


async def test_deactivated_user__their_api_keys_stop(harness: Harness) -> None:
    # Given a developer's key working
    _headers, user_id = await harness.user("admin", "owner@example.com")
    owner = await harness.login("owner@example.com", "user-password-123")
    made = await harness.client.post(
        "/api/v1/api-keys",
        json={"name": "k", "environment": "production", "scopes": ["evaluate"]},
        headers=owner,
    )
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["data"]["key"]}
    await create_flag(harness)
    assert (
        await harness.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers=key)
    ).status_code == 200
    # When the admin deactivates the account
    off = await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": False}, headers=await harness.admin()
    )
    assert off.status_code == 200, off.text
    # Then its key is refused at once, and works again when the account is reactivated
    refused = await harness.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers=key)
    assert refused.status_code == 401
    on = await harness.client.patch(
        f"/api/v1/users/{user_id}", json={"is_active": True}, headers=await harness.admin()
    )
    assert on.status_code == 200
    again = await harness.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers=key)
    assert again.status_code == 200


class _Statements:
    def __init__(self, h: Harness) -> None:
        self.seen: list[str] = []
        self.engine = h.runtime.db.engine.sync_engine

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"unknown_api_key_rate_limit": "3/minute"}


async def test_unknown_keys__limited_per_address_without_queries_or_l1_evictions(harness: Harness) -> None:
    await create_flag(harness)
    l1_before = len(harness.runtime.cache._l1)
    # Given three unknown keys from one address (each one look-up)
    for i in range(3):
        r = await harness.client.post(
            f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": f"exp_bogus{i}"}
        )
        assert r.status_code == 401
    # When the same address tries more, no query runs and the answer is 429
    with _Statements(harness) as statements:
        again = await harness.client.post(
            f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": "exp_bogus0"}
        )
        fourth = await harness.client.post(
            f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": "exp_other"}
        )
    assert again.status_code == 401  # remembered as unknown: no look-up
    assert fourth.status_code == 429 and fourth.headers["Retry-After"]
    assert not [s for s in statements if "api_keys" in s]
    # and no unknown key took a place in L1
    assert len(harness.runtime.cache._l1) == l1_before


async def test_unknown_keys_over_the_limit__a_working_key_of_the_address_keeps_working(
    harness: Harness,
) -> None:
    # Given a working key used from an address (behind a proxy: every client's address)
    key = await _rollout(harness)
    assert (await evaluate(harness, key, "new-checkout", "u"))["value"] is True
    # When another client there presents made-up keys past the address's budget
    for i in range(4):
        await harness.client.post(
            f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": f"exp_typo{i}"}
        )
    # and the working key's in-memory copy expires (every 30 s), so it is read again
    l1 = harness.runtime.cache._l1
    for entry in [k for k in l1 if k[0] == "api_key"]:
        del l1[entry]
    # Then the working key still evaluates; a new made-up key is still refused without a look-up
    assert (await evaluate(harness, key, "new-checkout", "u"))["value"] is True
    typo = await harness.client.post(
        f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": "exp_typo9"}
    )
    assert typo.status_code == 429
    # And when any user or key changes meanwhile (every instance forgets every key it holds), Then
    # the working key is still looked up, and still works: it was locked out for a minute
    others = await harness.user("viewer")
    await harness.client.patch(
        f"/api/v1/users/{others[1]}", json={"is_active": False}, headers=await harness.admin()
    )
    assert (await evaluate(harness, key, "new-checkout", "u"))["value"] is True


async def test_last_used_at__not_written_on_the_request_path__flushed_in_batch(harness: Harness) -> None:
    key = await _rollout(harness)
    with _Statements(harness) as statements:
        for i in range(5):
            await evaluate(harness, key, "new-checkout", f"u{i}")
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert await harness.runtime.api_keys.flush_usage() == 1
    async with harness.runtime.db.sessions() as session:
        used = (await session.scalars(select(ApiKey.last_used_at))).all()
    assert [u is not None for u in used] == [True]


async def test_postgres_down__known_keys_and_rulesets_serve__writes_and_unknown_keys_503(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    await fresh_schema(private_pg.url)
    async with start_harness("sqlite", tmp_path, database_url=private_pg.url) as h:
        # Given a key verified, a revoked key seen revoked, and a warm ruleset
        key = await _rollout(h)
        revoked = await h.api_key(["evaluate"])
        assert (await evaluate(h, key, "new-checkout", "u0"))["value"] is True
        assert (await evaluate(h, revoked, "new-checkout", "u0"))["value"] is True
        keys = (await h.client.get("/api/v1/api-keys", headers=await h.admin())).json()["data"]
        revoked_id = next(k["id"] for k in keys if k["prefix"] == revoked["X-API-Key"][:12])
        assert (
            await h.client.post(f"/api/v1/api-keys/{revoked_id}/revoke", headers=await h.admin())
        ).status_code == 200
        assert (
            await h.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers=revoked)
        ).status_code == 401
        admin = await h.admin()

        # When PostgreSQL stops and every in-process copy expires
        private_pg.stop()
        try:
            h.runtime.cache._l1.clear()  # as after the L1 TTL: the next read goes to the database

            # Then the known key and the ruleset keep serving
            assert (await evaluate(h, key, "new-checkout", "u1"))["value"] is True
            # the key revoked before the outage stays refused, an unknown key is a 503
            gone = await h.client.post(
                f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers=revoked
            )
            assert gone.status_code == 401
            unknown = await h.client.post(
                f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u"}, headers={"X-API-Key": "exp_never"}
            )
            assert unknown.status_code == 503 and unknown.headers["Retry-After"]
            # a write answers 503 with Retry-After, never 500
            write = await h.client.post(FLAGS, json={"key": "other", "name": "other"}, headers=admin)
            assert write.status_code == 503, write.text
            assert write.json()["error"]["code"] == "SERVICE_UNAVAILABLE" and write.headers["Retry-After"]
            assert _degraded("database") == 1.0
        finally:
            private_pg.start()
        # When it is back, writes work again
        again = await h.client.post(FLAGS, json={"key": "other", "name": "other"}, headers=admin)
        assert again.status_code == 201, again.text


async def test_postgres_hanging__known_keys_serve__the_rest_answers_503_within_seconds(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    await fresh_schema(private_pg.url)
    overrides = {"db_lookup_timeout_seconds": 1.0, "db_command_timeout_seconds": 3.0}
    async with start_harness("sqlite", tmp_path, database_url=private_pg.url, **overrides) as h:
        # Given a key verified and a warm ruleset
        key = await _rollout(h)
        assert (await evaluate(h, key, "new-checkout", "u0"))["value"] is True
        admin = await h.admin()
        # When PostgreSQL stops answering (its connections open, nothing answering) and every
        # in-process copy expires
        private_pg.pause()
        try:
            h.runtime.cache._l1.clear()
            timed = Timed()
            timings = timed.seconds

            # Then the known key still evaluates, after one bounded look-up
            flag = await timed(
                "evaluate",
                h.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u1"}, headers=key),
            )
            assert flag.status_code == 200 and flag.json()["data"]["value"] is True, flag.text
            # an unknown key, /ready and a write answer 503 (with Retry-After) instead of hanging
            unknown = await timed(
                "unknown key",
                h.client.post(
                    f"{FLAGS}/new-checkout/evaluate",
                    json={"user_id": "u"},
                    headers={"X-API-Key": "exp_never"},
                ),
            )
            ready = await timed("ready", h.client.get("/ready"))
            write = await timed("write", h.client.post(FLAGS, json={"key": "x", "name": "x"}, headers=admin))
            assert unknown.status_code == 503 and unknown.headers["Retry-After"], unknown.text
            assert ready.status_code == 503 and ready.json()["data"]["database"] is False
            assert ready.headers["Retry-After"] == "1"
            assert write.status_code == 503 and write.headers["Retry-After"], write.text
            assert timings["evaluate"] < 2.5 and timings["unknown key"] < 2.5 and timings["ready"] < 2.5, (
                timings
            )
            assert timings["write"] < 8, timings  # the statement time-out (3 s here), twice at most
            assert _degraded("database") == 1.0
        finally:
            private_pg.resume()
        # When it answers again, writes work and the gauge comes back down with the first commit
        again = await h.client.post(FLAGS, json={"key": "other", "name": "other"}, headers=admin)
        assert again.status_code == 201, again.text
        assert _degraded("database") == 0.0


async def test_ruleset_reload_failing__previous_ruleset_serves(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    await fresh_schema(private_pg.url)
    async with start_harness("sqlite", tmp_path, database_url=private_pg.url) as h:
        key = await _rollout(h)
        assert (await evaluate(h, key, "new-checkout", "u0"))["value"] is True
        private_pg.stop()
        try:
            h.runtime.cache.drop_local(RULESET_NAMESPACE, None)  # a change announced: reload needed
            many = await asyncio.gather(*(evaluate(h, key, "new-checkout", f"u{i}") for i in range(10)))
            assert {r["value"] for r in many} == {True}
        finally:
            private_pg.start()


async def test_postgres_down__sdk_payload_serves_the_last_one_built(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    await fresh_schema(private_pg.url)
    async with start_harness("sqlite", tmp_path, database_url=private_pg.url) as h:
        # Given a payload fetched once
        key = await _rollout(h)
        before = await h.client.get("/api/v1/sdk/flags", headers=key)
        assert before.status_code == 200
        private_pg.stop()
        try:
            # When its in-memory copy expires, and a change is announced, while PostgreSQL is down
            h.runtime.sdk_payloads._memo.clear()
            h.runtime.cache.drop_local(RULESET_NAMESPACE, None)
            # Then the last payload built is served, not a 503
            during = await asyncio.gather(*(h.client.get("/api/v1/sdk/flags", headers=key) for _ in range(5)))
            assert {r.status_code for r in during} == {200}, [r.text for r in during]
            assert {r.headers["ETag"] for r in during} == {before.headers["ETag"]}
            assert during[0].json() == before.json()
        finally:
            private_pg.start()
        # When it is back, a change is served again
        h.runtime.sdk_payloads._memo.clear()
        assert (await put_env(h, "new-checkout", "production", {"enabled": False}, 2)).status_code == 200
        after = await h.client.get("/api/v1/sdk/flags", headers=key)
        assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]


async def test_redis_hanging__requests_answer_within_a_second(
    redis_harness: Harness, private_redis: PrivateRedis
) -> None:
    # Given a flag, a running experiment and a key, all read once while Redis answers
    h = redis_harness
    key, exp = await _flag_and_running_experiment(h)
    # When Redis hangs (its connections open, nothing answering)
    private_redis.pause()
    try:
        timed = Timed()
        timings = timed.seconds

        # Then every request gets its answer (degraded or 503) within about a second, not 10-18 s
        flag = await timed(
            "evaluate", h.client.post(f"{FLAGS}/new-checkout/evaluate", json={"user_id": "u2"}, headers=key)
        )
        assign = await timed(
            "assign",
            h.client.post(f"/api/v1/experiments/{exp['key']}/assign", json={"unit_id": "u9"}, headers=key),
        )
        ingest = await timed(
            "ingest", h.client.post("/api/v1/events", json={"name": "c", "user_id": "u1"}, headers=key)
        )
        ready = await timed("ready", h.client.get("/ready"))
        assert flag.status_code == 200 and assign.status_code == 200, (flag.text, assign.text)
        assert ingest.status_code == 503 and ingest.headers["Retry-After"], ingest.text
        assert ready.status_code == 503
        # one command waits for its read time-out and its retry's (~1 s), then the circuit fails the
        # others at once: assignment ~1.04 s, ingestion ~0.06 s and /ready ~0.01 s on a quiet machine.
        # Before the circuit each of its two Redis commands waited: ~2.05 s for assignment and
        # ingestion (2.7 s on a loaded CI run), 1.01 s for /ready; 10-18 s before the time-outs
        assert timings["evaluate"] < 1.0 and timings["assign"] < 2.0, timings
        assert timings["ingest"] < 1.0 and timings["ready"] < 1.0, timings
    finally:
        private_redis.resume()
    # And when Redis answers again, ingestion is accepted again within about the circuit's hold
    deadline = time.monotonic() + 5
    while True:
        back = await h.client.post("/api/v1/events", json={"name": "c", "user_id": "u1"}, headers=key)
        if back.status_code == 202 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert back.status_code == 202, back.text


async def test_redis_down__batched_limits__never_say_it_is_back(private_redis: PrivateRedis) -> None:
    """A hit admitted from the shared estimate does not reach Redis: it must not log ``dependency.up``
    (it did, once a second, between the failed syncs' ``dependency.down``)."""
    limiter = RateLimiter(private_redis.url)
    for _ in range(20):
        await limiter.hit("100000/minute", "api-key", "k", exact=False)
    private_redis.stop()
    seen: list[float] = []
    try:
        deadline = time.monotonic() + 2.5  # beyond two of the limiter's once-a-second retries
        while time.monotonic() < deadline:
            await limiter.hit("100000/minute", "api-key", "k", exact=False)
            seen.append(_degraded("redis"))
            await asyncio.sleep(0.01)
        assert 1.0 in seen
        assert 0.0 not in seen[seen.index(1.0) :], seen
    finally:
        private_redis.start()
        degraded.mark_up(degraded.REDIS)


async def test_pool_gauge__failed_connections__never_counted_in_use(
    tmp_path: Path, private_pg: PrivatePostgres
) -> None:
    from sqlalchemy import text

    from experimently.db import POOL_IN_USE, Database
    from tests.conftest import make_settings

    db = Database(make_settings("sqlite", tmp_path, database_url=private_pg.url))
    try:
        start = POOL_IN_USE._value.get()
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
        # When connections fail to open while PostgreSQL is down
        private_pg.stop()
        try:
            for _ in range(4):
                with pytest.raises(Exception):  # the driver's own connection error
                    async with db.transaction() as session:
                        await session.execute(text("SELECT 1"))
        finally:
            private_pg.start()
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
        # Then the gauge counts only what was checked out: back where it started, never below
        assert POOL_IN_USE._value.get() == start
    finally:
        await db.dispose()
