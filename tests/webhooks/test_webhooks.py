"""Webhooks: admin-only subscriptions (secret shown once, never audited), domain events delivered signed
to the subscriptions that want them, retried with backoff after failures and failed after the last
attempt, private addresses refused by default. The outside world (the receivers) is an
``httpx.MockTransport``; our storage is real."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from experimently.webhooks.delivery import backoff, verify
from tests.conftest import FakeClock, Harness

HOOKS = "/api/v1/webhooks"
EXP = "/api/v1/experiments"
VARIANTS = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True, "webhook_max_attempts": 3}


class Receiver:
    """Answers each request with the next status of ``script`` (then 200), keeping what it got."""

    def __init__(self, *script: int) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.script.pop(0) if self.script else 200)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def use(h: Harness, receiver: Receiver) -> None:
    h.runtime.webhook_transport = httpx.MockTransport(receiver)


async def subscribe(h: Harness, url: str, types: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "description": "on-call"}
    if types is not None:
        body["event_types"] = types
    response = await h.client.post(HOOKS, json=body, headers=await h.admin())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def lifecycle(h: Harness, key: str = "exp") -> None:
    admin = await h.admin()
    body = {"key": key, "name": key, "variants": VARIANTS}
    assert (await h.client.post(EXP, json=body, headers=admin)).status_code == 201
    for action in ("start", "pause"):
        assert (await h.client.post(f"{EXP}/{key}/{action}", headers=admin)).status_code == 200


async def deliveries(h: Harness, hook_id: str) -> list[dict[str, Any]]:
    response = await h.client.get(f"{HOOKS}/{hook_id}/deliveries", headers=await h.admin())
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def advance(h: Harness, clock: FakeClock, seconds: float) -> None:
    """Move the clock past a backoff; the cached admin token may expire meanwhile."""
    clock.advance(seconds=seconds)
    h.tokens.pop("admin", None)


async def test_crud__admin_only__secret_shown_once__audited_without_secret(harness: Harness) -> None:
    hook = await subscribe(harness, "https://hooks.example.com/x", ["experiment.paused"])
    assert hook["secret"].startswith("whsec_") and hook["event_types"] == ["experiment.paused"]
    admin = await harness.admin()
    listed = (await harness.client.get(HOOKS, headers=admin)).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert "secret" not in (await harness.client.get(f"{HOOKS}/{hook['id']}", headers=admin)).json()["data"]
    patched = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"version": 1, "active": False}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["data"]["active"] is False
    stale = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"version": 1, "active": True}, headers=admin
    )
    assert stale.status_code == 409
    rotated = (await harness.client.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=admin)).json()["data"]
    assert rotated["secret"] != hook["secret"]
    for bad in (
        {"url": "ftp://x.example.com"},
        {"url": "https://user:pw@x.example.com"},
        {"url": "https://x.example.com", "event_types": ["experiment.exploded"]},
    ):
        response = await harness.client.post(HOOKS, json=bad, headers=admin)
        assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    developer, _ = await harness.user("developer")
    assert (await harness.client.get(HOOKS, headers=developer)).status_code == 403
    assert (
        await harness.client.post(HOOKS, json={"url": "https://a.example.com"}, headers=developer)
    ).status_code == 403
    assert (await harness.client.get(HOOKS)).status_code == 401
    assert (await harness.client.delete(f"{HOOKS}/{hook['id']}", headers=admin)).status_code == 200
    assert (await harness.client.get(f"{HOOKS}/{hook['id']}", headers=admin)).status_code == 404
    records = await harness.audit(resource_type="webhook")
    assert sorted(r["action"] for r in records) == [
        "webhook.created",
        "webhook.deleted",
        "webhook.secret_rotated",
        "webhook.updated",
    ]
    assert all(
        hook["secret"] not in json.dumps(r) and rotated["secret"] not in json.dumps(r) for r in records
    )


async def test_delivery__signed__to_matching_subscriptions_only(
    harness: Harness, fake_clock: FakeClock
) -> None:
    receiver = Receiver()
    use(harness, receiver)
    paused_only = await subscribe(harness, "https://a.example.com/hook", ["experiment.paused"])
    everything = await subscribe(harness, "https://b.example.com/hook")
    await lifecycle(harness)
    assert await harness.runtime.jobs.run("webhooks.deliver")

    by_url: dict[str, list[str]] = {}
    for request in receiver.requests:
        by_url.setdefault(str(request.url), []).append(request.headers["X-Experimently-Event"])
    assert by_url == {
        "https://a.example.com/hook": ["experiment.paused"],
        "https://b.example.com/hook": ["experiment.paused", "experiment.started"]
        if by_url["https://b.example.com/hook"][0] == "experiment.paused"
        else ["experiment.started", "experiment.paused"],
    }
    secrets = {
        "https://a.example.com/hook": paused_only["secret"],
        "https://b.example.com/hook": everything["secret"],
    }
    moment = int(fake_clock.moment.timestamp())
    for request in receiver.requests:
        signature = request.headers["X-Experimently-Signature"]
        assert verify(secrets[str(request.url)], signature, request.content, now_s=moment)
        assert not verify("whsec_wrong", signature, request.content, now_s=moment)
        assert not verify(secrets[str(request.url)], signature, request.content + b" ", now_s=moment)
        assert not verify(secrets[str(request.url)], signature, request.content, now_s=moment + 3600)
        body = json.loads(request.content)
        assert body["type"] == request.headers["X-Experimently-Event"]
        assert body["resource"]["type"] == "experiment" and body["data"]["key"] == "exp"
        assert request.headers["Content-Type"] == "application/json"
        # what every event carries (docs/webhooks.md): the audit record's diff and the console page
        assert body["data"]["console_path"] == "/experiments/exp"
        assert body["data"]["console_url"].endswith("/experiments/exp")
        assert body["data"]["diff"]["status"]["after"] == body["data"]["status"]
    [row] = await deliveries(harness, paused_only["id"])
    assert (row["status"], row["attempts"], row["last_status_code"], row["event_type"]) == (
        "delivered",
        1,
        200,
        "experiment.paused",
    )
    assert len(await deliveries(harness, everything["id"])) == 2
    # nothing new: the next run sends nothing
    receiver.requests.clear()
    assert await harness.runtime.jobs.run("webhooks.deliver")
    assert receiver.requests == []


async def test_failures__retried_with_backoff__then_failed(harness: Harness, fake_clock: FakeClock) -> None:
    flaky = Receiver(500, 503)  # then 200
    use(harness, flaky)
    hook = await subscribe(harness, "https://flaky.example.com/hook", ["experiment.paused"])
    await lifecycle(harness)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [row] = await deliveries(harness, hook["id"])
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 500")
    assert await harness.runtime.jobs.run("webhooks.deliver")  # not due yet
    assert len(flaky.requests) == 1
    advance(harness, fake_clock, backoff(1).total_seconds() + 1)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    advance(harness, fake_clock, backoff(2).total_seconds() + 1)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [row] = await deliveries(harness, hook["id"])
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 3, 200)
    ids = {r.headers["X-Experimently-Delivery"] for r in flaky.requests}
    assert ids == {row["id"]}  # the same delivery id on every retry: receivers can deduplicate

    await harness.client.delete(f"{HOOKS}/{hook['id']}", headers=await harness.admin())
    dead = Receiver(500, 500, 500, 500)
    use(harness, dead)
    other = await subscribe(harness, "https://dead.example.com/hook", ["experiment.paused"])
    await lifecycle(harness, "exp2")
    for attempt in range(1, 4):
        assert await harness.runtime.jobs.run("webhooks.deliver")
        advance(harness, fake_clock, backoff(attempt).total_seconds() + 1)
    [row] = await deliveries(harness, other["id"])
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)  # max_attempts 3
    failed = await harness.client.get(
        f"{HOOKS}/{other['id']}/deliveries", params={"status": "failed"}, headers=await harness.admin()
    )
    assert failed.json()["meta"]["pagination"]["total"] == 1

    # the receiver is back: an admin retries the failed delivery, which goes out on the next run
    use(harness, Receiver())
    admin = await harness.admin()
    retried = await harness.client.post(f"{HOOKS}/{other['id']}/deliveries/{row['id']}/retry", headers=admin)
    assert retried.status_code == 202 and retried.json()["data"]["status"] == "pending"
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [row] = await deliveries(harness, other["id"])
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    assert (await harness.audit(action="webhook.delivery_retried"))[0]["actor_type"] == "user"
    missing = await harness.client.post(f"{HOOKS}/{hook['id']}/deliveries/{row['id']}/retry", headers=admin)
    assert missing.status_code == 404  # not that webhook's delivery (and that webhook is gone)


async def test_ping__reaches_that_webhook_only(harness: Harness) -> None:
    receiver = Receiver()
    use(harness, receiver)
    one = await subscribe(harness, "https://one.example.com/hook")
    await subscribe(harness, "https://two.example.com/hook")
    queued = await harness.client.post(f"{HOOKS}/{one['id']}/ping", headers=await harness.admin())
    assert queued.status_code == 202 and queued.json()["data"]["event_type"] == "webhook.ping"
    assert await harness.runtime.jobs.run("webhooks.deliver")
    assert [str(r.url) for r in receiver.requests] == ["https://one.example.com/hook"]
    assert receiver.bodies()[0]["type"] == "webhook.ping"
    # a request sent in the admin's name is on the record
    [pinged] = await harness.audit(action="webhook.pinged")
    assert pinged["resource_id"] == one["id"] and pinged["actor_label"] == "admin@example.com"
    assert pinged["after"] == {"delivery_id": queued.json()["data"]["id"]}


async def test_deactivated__its_pending_deliveries_wait__ping_and_retry_refused(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a delivery that failed once and waits for its retry
    receiver = Receiver(500)
    use(harness, receiver)
    hook = await subscribe(harness, "https://paused.example.com/hook", ["experiment.paused"])
    await lifecycle(harness)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    assert len(receiver.requests) == 1
    # When an admin deactivates the webhook
    admin = await harness.admin()
    off = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"active": False, "version": hook["version"]}, headers=admin
    )
    assert off.status_code == 200, off.text
    # Then nothing more is sent to it, and a test or a retry says why instead of queueing
    advance(harness, fake_clock, backoff(1).total_seconds() + 1)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    assert len(receiver.requests) == 1
    [row] = await deliveries(harness, hook["id"])
    assert (row["status"], row["attempts"]) == ("pending", 1)
    admin = await harness.admin()
    pinged = await harness.client.post(f"{HOOKS}/{hook['id']}/ping", headers=admin)
    assert pinged.status_code == 409 and "inactive" in pinged.json()["error"]["message"]
    retried = await harness.client.post(f"{HOOKS}/{hook['id']}/deliveries/{row['id']}/retry", headers=admin)
    assert retried.status_code == 409
    # When it is activated again, Then the waiting delivery goes
    version = off.json()["data"]["version"]
    on = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"active": True, "version": version}, headers=admin
    )
    assert on.status_code == 200, on.text
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [row] = await deliveries(harness, hook["id"])
    assert (row["status"], len(receiver.requests)) == ("delivered", 2)


async def test_private_address__refused_by_default(harness: Harness) -> None:
    receiver = Receiver()
    use(harness, receiver)
    # saved while private networks were allowed (or under a name that now resolves to one)
    hook = await subscribe(harness, "http://127.0.0.1:9/hook", ["experiment.paused"])
    harness.runtime.settings.webhook_allow_private_networks = False
    await lifecycle(harness)
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [row] = await deliveries(harness, hook["id"])
    assert receiver.requests == []
    assert row["status"] == "pending" and "non-public address (127.0.0.1)" in row["last_error"]


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8:80:1/",
        "http://[::1/",
        "https://example.com:99999/",
        "http://xn--/",
        "ftp://example.com/",
    ],
)
async def test_url__unparsable_by_the_sender__refused_at_save_time(harness: Harness, url: str) -> None:
    # Given a URL the sender's parser (httpx) cannot call, When saved or patched in
    created = await harness.client.post(HOOKS, json={"url": url}, headers=await harness.admin())
    # Then 422 with the field's path
    assert created.status_code == 422, created.text
    assert created.json()["error"]["details"]["errors"][0]["path"] == "url"
    hook = await subscribe(harness, "https://ok.example.com/hook")
    patched = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"url": url}, headers=await harness.admin()
    )
    assert patched.status_code == 422, patched.text


async def test_one_bad_delivery__never_stops_the_others_being_recorded(harness: Harness) -> None:
    # Given three subscriptions: one healthy, one whose receiver blows up in an unexpected way,
    # and one whose URL was stored before save-time validation existed
    from experimently.webhooks.models import Webhook

    def receiver(request: httpx.Request) -> httpx.Response:
        if request.url.host == "boom.example.com":
            raise RuntimeError("unexpected failure inside the client")
        return httpx.Response(200)

    harness.runtime.webhook_transport = httpx.MockTransport(receiver)
    good = await subscribe(harness, "https://good.example.com/hook", ["experiment.paused"])
    boom = await subscribe(harness, "https://boom.example.com/hook", ["experiment.paused"])
    legacy = await subscribe(harness, "https://legacy.example.com/hook", ["experiment.paused"])
    async with harness.runtime.db.transaction() as session:
        row = await session.get(Webhook, legacy["id"])
        assert row is not None
        row.url = "http://8.8.8.8:80:1/"
    await lifecycle(harness)
    # When the delivery job runs
    assert await harness.runtime.jobs.run("webhooks.deliver")
    # Then every delivery's outcome is recorded: the good one delivered, the others retried with a reason
    [ok] = await deliveries(harness, good["id"])
    [crashed] = await deliveries(harness, boom["id"])
    [invalid] = await deliveries(harness, legacy["id"])
    assert (ok["status"], ok["attempts"]) == ("delivered", 1)
    assert (crashed["status"], crashed["attempts"]) == ("pending", 1)
    assert "RuntimeError" in crashed["last_error"]
    assert (invalid["status"], invalid["attempts"]) == ("pending", 1)
    assert invalid["last_error"].startswith("invalid URL")
    # And the next run does not send the delivered one again
    await harness.runtime.jobs.run("webhooks.deliver")
    [again] = await deliveries(harness, good["id"])
    assert again["attempts"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://api.localhost/",
        "http://[::1]/",
        "http://10.1.2.3/",
    ],
)
async def test_private_address__refused_when_saved(harness: Harness, url: str) -> None:
    harness.runtime.settings.webhook_allow_private_networks = False
    admin = await harness.admin()
    created = await harness.client.post(HOOKS, json={"url": url}, headers=admin)
    assert created.status_code == 422, created.text
    [problem] = created.json()["error"]["details"]["errors"]
    assert problem["path"] == "url" and "WEBHOOK_ALLOW_PRIVATE_NETWORKS" in problem["message"]
    # a public address or a name is saved (a name is judged at delivery, once resolved)
    hook = await subscribe(harness, "https://hooks.example.com/x")
    moved = await harness.client.patch(
        f"{HOOKS}/{hook['id']}", json={"url": url, "version": 1}, headers=admin
    )
    assert moved.status_code == 422, moved.text
