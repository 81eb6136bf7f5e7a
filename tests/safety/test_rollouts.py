"""Guarded rollouts end to end: server-side evaluations record flag exposures, the aggregation compares
the units served the new variation with those still served the old one, and the check right after the
aggregation run rolls a harmful rollout back (audited as the system, announced, a new flag version),
while a harmless one reaches 100% and is released."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from experimently.flags.exposures import ExposureRecorder
from tests.conftest import FakeClock, Harness
from tests.events.helpers import flush, post_batch

FLAGS = "/api/v1/feature-flags"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhook_allow_private_networks": True, "public_url": "https://experimently.example.com"}


class Receiver:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200)

    def bodies(self, url_part: str = "") -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if url_part in str(r.url)]


async def setup(h: Harness) -> None:
    admin = await h.admin()
    metric = {"key": "errors", "name": "Errors", "kind": "count", "event_name": "error", "direction": "lower"}
    assert (await h.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    created = await h.client.post(FLAGS, json={"key": "checkout", "name": "Checkout"}, headers=admin)
    assert created.status_code == 201, created.text
    env = {"enabled": True, "fallthrough": {"variation": "off"}, "version": 1}
    response = await h.client.put(f"{FLAGS}/checkout/environments/production", json=env, headers=admin)
    assert response.status_code == 200, response.text


async def start(h: Harness, **body: Any) -> dict[str, Any]:
    payload = {"environment": "production", "variation": "on", "guardrail_metrics": ["errors"], **body}
    response = await h.client.post(
        f"{FLAGS}/checkout/guarded-rollouts", json=payload, headers=await h.admin()
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def serve(h: Harness, users: list[str]) -> dict[str, str]:
    """Server-side evaluations (one batch request); returns the variation each user was served."""
    key = await h.api_key(["evaluate"])
    body = {"flag_key": "checkout", "users": [{"user_id": u} for u in users]}
    response = await h.client.post(f"{FLAGS}/evaluate/batch", json=body, headers=key)
    assert response.status_code == 200, response.text
    results = response.json()["data"]["results"]
    return {u: str(r["variation"]) for u, r in zip(users, results, strict=True)}


def recorder(h: Harness) -> ExposureRecorder:
    """The flag-exposure recorder (wired whenever guarded rollouts are)."""
    assert h.runtime.flags.exposures is not None
    return h.runtime.flags.exposures


async def errors(h: Harness, served: dict[str, str], clock: FakeClock, *, factor: int) -> None:
    """Every tenth unit of the old variation has an error; ``factor`` times as many of the new one."""
    await recorder(h).flush()
    clock.advance(seconds=1)
    events = [
        {"name": "error", "user_id": u}
        for i, (u, variation) in enumerate(sorted(served.items()))
        if i % 10 < (factor if variation == "on" else 1)
    ]
    track = await h.api_key(["track"])
    for i in range(0, len(events), 900):
        assert (await post_batch(h, track, events[i : i + 900])).status_code == 202
    await flush(h)


async def rollout(h: Harness, rollout_id: str) -> dict[str, Any]:
    response = await h.client.get(f"{FLAGS}/checkout/guarded-rollouts/{rollout_id}", headers=await h.admin())
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def flag(h: Harness) -> dict[str, Any]:
    data: dict[str, Any] = (await h.client.get(f"{FLAGS}/checkout", headers=await h.admin())).json()["data"]
    return data


async def test_harmful_rollout__rolled_back_by_the_check_after_aggregation(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a flag at "off" for everyone, a webhook (Slack format) and a manual guarded rollout to 50%
    await setup(harness)
    receiver = Receiver()
    harness.runtime.webhook_transport = httpx.MockTransport(receiver)
    hook = {"url": "https://hooks.example.com/slack", "format": "slack", "event_types": ["flag.rolled_back"]}
    assert (
        await harness.client.post("/api/v1/webhooks", json=hook, headers=await harness.admin())
    ).status_code == 201
    started = await start(harness, percentage=50)
    assert started["status"] == "running" and started["control"] == "off" and started["step"] == 1
    version = (await flag(harness))["version"]

    # When 600 units are served and the new variation triples the error rate
    served = await serve(harness, [f"u{i}" for i in range(600)])
    assert 200 < sum(v == "on" for v in served.values()) < 400
    await errors(harness, served, fake_clock, factor=3)
    # only the aggregation job runs: the check follows it, with no timer of its own
    assert await harness.runtime.jobs.run("metrics.aggregate")

    # Then the rollout is rolled back, saying why
    after = await rollout(harness, started["id"])
    assert after["status"] == "rolled_back"
    [breach] = after["breaches"]
    assert (breach["kind"], breach["metric"], breach["action"]) == ("metric", "errors", "rolled_back")
    assert breach["relative_lift"] > 1 and breach["p_value"] < 0.025
    assert after["last_check"]["status"] == "BREACH"
    assert sum(after["last_check"]["units"].values()) == 600
    [point] = after["history"]
    assert point["status"] == "BREACH" and point["percentage"] == 50
    assert (
        point["metrics"]["errors"]["verdict"] == "loser"
        and point["metrics"]["errors"]["absolute_interval"][0] > 0
    )
    # the flag is back to its pre-rollout state, as a new version
    current = await flag(harness)
    assert current["environments"]["production"]["fallthrough"] == {"variation": "off"}
    assert current["version"] == version + 1
    assert {(await serve(harness, ["u1", "u2", "u3"]))[u] for u in ("u1", "u2", "u3")} == {"off"}
    # audited as the system, the reason naming metric, lift, interval and p
    [record] = await harness.audit(action="flag.rolled_back")
    assert record["actor_type"] == "system" and record["resource_id"] == "checkout"
    for part in ("guardrail 'errors'", "'on'", "interval [", "p<" if breach["p_value"] < 1e-4 else "p="):
        assert part in record["reason"]
    assert record["diff"]["version"] == {"before": version, "after": version + 1}
    history = [r["action"] for r in await harness.audit(resource_id="checkout")]
    assert {"flag.rollout_step_applied", "flag.guardrail_breached", "flag.rolled_back"} <= set(history)
    # announced: the breach (to every subscriber of flag.guardrail_breached) and the rollback, here as a
    # readable Slack message with a link to the flag's page
    from sqlalchemy import select

    from experimently.webhooks.models import DomainEvent

    async with harness.runtime.db.sessions() as session:
        query = select(DomainEvent).where(DomainEvent.type == "flag.guardrail_breached")
        [breached] = (await session.scalars(query)).all()
    assert breached.payload["action"] == "rolled_back" and breached.payload["actor"]["type"] == "system"
    assert breached.payload["breaches"][0]["metric"] == "errors"
    assert await harness.runtime.jobs.run("webhooks.deliver")
    [message] = receiver.bodies("slack")
    assert "Automatic rollback" in message["text"] and "checkout" in message["text"]
    assert "https://experimently.example.com/flags/checkout" in message["text"]
    assert any("guardrail 'errors'" in b.get("text", {}).get("text", "") for b in message["blocks"])


async def test_harmless_scheduled_rollout__reaches_100__released(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a scheduled guarded rollout: 50% in a second, 100% two minutes later
    await setup(harness)
    at = fake_clock.moment
    steps = [
        {"at": (at.replace(microsecond=0)).isoformat().replace("+00:00", "Z"), "percentage": 50},
        {
            "at": (at.replace(microsecond=0, minute=at.minute + 2)).isoformat().replace("+00:00", "Z"),
            "percentage": 100,
        },
    ]
    started = await start(harness, steps=steps)
    assert started["schedule_id"] is not None and started["step"] == 0
    fake_clock.advance(seconds=1)
    assert await harness.runtime.jobs.run("flags.apply_rollouts")
    assert (await rollout(harness, started["id"]))["percentage"] == 50

    # When units are served and both variations have the same error rate
    served = await serve(harness, [f"u{i}" for i in range(600)])
    await errors(harness, served, fake_clock, factor=1)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    checked = await rollout(harness, started["id"])
    assert checked["status"] == "running" and checked["last_check"]["status"] == "HEALTHY"
    assert checked["last_check"]["comparisons"]["errors"]["verdict"] == "inconclusive"

    # Then the last step takes it to 100% and it is marked released
    fake_clock.advance(minutes=2)
    harness.tokens.pop("admin", None)
    assert await harness.runtime.jobs.run("flags.apply_rollouts")
    done = await rollout(harness, started["id"])
    assert done["status"] == "released" and done["breaches"] == [] and done["ended_at"] is not None
    assert (await flag(harness))["environments"]["production"]["fallthrough"] == {"variation": "on"}
    [released] = await harness.audit(action="flag.rollout_released")
    assert released["actor_type"] == "system"


async def test_exposures__recorded_once_per_unit_and_step__only_for_guarded_flags(
    harness: Harness, fake_clock: FakeClock
) -> None:
    from sqlalchemy import func, select

    from experimently.events.models import Event

    async def stored() -> int:
        async with harness.runtime.db.sessions() as session:
            query = select(func.count()).select_from(Event).where(Event.name == "flag_exposure")
            return int(await session.scalar(query) or 0)

    await setup(harness)
    await serve(harness, ["a", "b"])
    await recorder(harness).flush()
    await flush(harness)
    assert await stored() == 0  # not guarded: nothing recorded
    await start(harness, percentage=50)
    for _ in range(3):
        await serve(harness, ["a", "b", "c"])
    await recorder(harness).flush()
    await flush(harness)
    assert await stored() == 3
    async with harness.runtime.db.sessions() as session:
        row = (await session.scalars(select(Event).where(Event.name == "flag_exposure"))).first()
    assert row is not None and row.experiment_key == "checkout" and row.variant in ("on", "off")
    assert row.properties == {"flag": "checkout", "variation": row.variant}


async def test_create__validation_and_one_at_a_time(harness: Harness) -> None:
    await setup(harness)
    admin = await harness.admin()
    url = f"{FLAGS}/checkout/guarded-rollouts"
    both = {
        "environment": "production",
        "variation": "on",
        "percentage": 10,
        "steps": [],
        "guardrail_metrics": ["errors"],
    }
    assert (await harness.client.post(url, json=both, headers=admin)).status_code == 422
    unknown = {
        "environment": "production",
        "variation": "on",
        "percentage": 10,
        "guardrail_metrics": ["nope"],
    }
    response = await harness.client.post(url, json=unknown, headers=admin)
    assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    none = {"environment": "production", "variation": "on", "percentage": 10}
    assert (await harness.client.post(url, json=none, headers=admin)).status_code == 422
    started = await start(harness, percentage=10)
    again = await harness.client.post(url, json=unknown | {"guardrail_metrics": ["errors"]}, headers=admin)
    assert again.status_code == 409
    advanced = await harness.client.post(
        f"{url}/{started['id']}/advance", json={"percentage": 5}, headers=admin
    )
    assert advanced.status_code == 422
    advanced = await harness.client.post(
        f"{url}/{started['id']}/advance", json={"percentage": 100}, headers=admin
    )
    assert advanced.status_code == 200 and advanced.json()["data"]["status"] == "released"


async def test_pause_action__holds_the_schedule__flag_stays(harness: Harness, fake_clock: FakeClock) -> None:
    # Given a scheduled guarded rollout whose action is pause
    await setup(harness)
    at = fake_clock.moment.replace(microsecond=0)
    steps = [
        {"at": at.isoformat(), "percentage": 50},
        {"at": at.replace(minute=at.minute + 2).isoformat(), "percentage": 100},
    ]
    started = await start(harness, steps=steps, action="pause")
    fake_clock.advance(seconds=1)
    assert await harness.runtime.jobs.run("flags.apply_rollouts")

    # When the new variation triples the error rate
    served = await serve(harness, [f"u{i}" for i in range(600)])
    await errors(harness, served, fake_clock, factor=3)
    assert await harness.runtime.jobs.run("metrics.aggregate")

    # Then the rollout is paused, the flag stays at 50% and the next step is never applied
    paused = await rollout(harness, started["id"])
    assert paused["status"] == "paused" and paused["breaches"][0]["action"] == "paused"
    fake_clock.advance(minutes=3)
    harness.tokens.pop("admin", None)
    await harness.runtime.jobs.run("flags.apply_rollouts")
    fallthrough = (await flag(harness))["environments"]["production"]["fallthrough"]
    assert [v["weight"] for v in fallthrough["rollout"]["variations"]] == [50, 50]
    schedules = await harness.client.get(f"{FLAGS}/checkout/rollout-schedules", headers=await harness.admin())
    assert schedules.json()["data"][0]["status"] == "paused"
    assert (await harness.audit(action="flag.rolled_back")) == []

    # a person resumes it: the schedule goes on, the acknowledged breach is not acted on again
    url = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}"
    resumed = await harness.client.post(f"{url}/resume", headers=await harness.admin())
    assert resumed.status_code == 200 and resumed.json()["data"]["status"] == "running"
    assert (await harness.client.post(f"{url}/resume", headers=await harness.admin())).status_code == 409
    await harness.runtime.jobs.run("flags.apply_rollouts")
    assert (await rollout(harness, started["id"]))["status"] == "released"


async def test_flag_exposure_event__needs_flag_and_variation(harness: Harness) -> None:
    track = await harness.api_key(["track"])
    bad = await harness.client.post(
        "/api/v1/events",
        json={"name": "flag_exposure", "user_id": "u", "properties": {"flag": "f"}},
        headers=track,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"][0]["path"] == "properties.variation"
    good = {"name": "flag_exposure", "user_id": "u", "properties": {"flag": "f", "variation": "on"}}
    assert (await harness.client.post("/api/v1/events", json=good, headers=track)).status_code == 202


async def test_killed_during_rollout__no_decision_no_exposures(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a running guarded rollout whose flag is then killed by on-call
    await setup(harness)
    started = await start(harness, percentage=50)
    served = await serve(harness, [f"u{i}" for i in range(600)])
    kill = f"{FLAGS}/checkout/environments/production/kill"
    assert (
        await harness.client.post(kill, json={"reason": "INC-1"}, headers=await harness.admin())
    ).status_code == 200
    # When harmful events arrive and the aggregation runs
    await errors(harness, served, fake_clock, factor=3)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    # Then the monitor does not act on a flag that serves nobody the new variation
    after = await rollout(harness, started["id"])
    assert after["status"] == "running" and after["last_check"]["status"] == "FLAG_OFF"
    assert (await harness.audit(action="flag.rolled_back")) == []
    assert (await flag(harness))["environments"]["production"]["enabled"] is False


async def put_production(h: Harness, key: str, config: dict[str, Any]) -> None:
    """Replace the flag's production targeting (at its current version)."""
    admin = await h.admin()
    version = (await h.client.get(f"{FLAGS}/{key}", headers=admin)).json()["data"]["version"]
    url = f"{FLAGS}/{key}/environments/production"
    response = await h.client.put(url, json={**config, "version": version}, headers=admin)
    assert response.status_code == 200, response.text


async def test_create__the_variation_already_served_to_everyone__422(harness: Harness) -> None:
    # Given a flag whose fallthrough serves "on" to everyone in production
    await setup(harness)
    admin = await harness.admin()
    url = f"{FLAGS}/checkout/guarded-rollouts"
    body = {"environment": "production", "variation": "on", "percentage": 10, "guardrail_metrics": ["errors"]}
    for fallthrough in (
        {"variation": "on"},
        {"rollout": {"variations": [{"variation": "on", "weight": 100}, {"variation": "off", "weight": 0}]}},
    ):
        await put_production(harness, "checkout", {"enabled": True, "fallthrough": fallthrough})

        # When a guarded rollout of "on" starts
        refused = await harness.client.post(url, json=body, headers=admin)

        # Then it is refused: the rest would move to "off", which nobody had
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["error"]["details"]["errors"]
        assert problem["path"] == "variation"
        assert "already serves 'on' to everyone it falls through to" in problem["message"]
    assert (await flag(harness))["environments"]["production"]["fallthrough"]["rollout"]["variations"][0] == {
        "variation": "on",
        "weight": 100,
    }
    # a split of the two (a schedule stopped half-way) is the rollout's to replace, from its old variation
    split = {
        "rollout": {"variations": [{"variation": "on", "weight": 30}, {"variation": "off", "weight": 70}]}
    }
    await put_production(harness, "checkout", {"enabled": True, "fallthrough": split})
    started = await start(harness, percentage=10)
    assert started["control"] == "off"


async def test_create__a_third_variation_served__422_naming_it(harness: Harness) -> None:
    # Given a flag of three colours serving "green" to everyone, its off variation "blue"
    admin = await harness.admin()
    await harness.client.post(
        "/api/v1/metrics",
        json={"key": "errors", "name": "Errors", "kind": "count", "event_name": "error"},
        headers=admin,
    )
    colours = [{"key": c, "value": c} for c in ("red", "green", "blue")]
    created = await harness.client.post(
        FLAGS,
        json={"key": "colour", "name": "Colour", "type": "string", "variations": colours},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    await put_production(
        harness, "colour", {"enabled": True, "off_variation": "blue", "fallthrough": {"variation": "green"}}
    )

    # When "red" is rolled out (its old variation is the off variation, "blue")
    body = {
        "environment": "production",
        "variation": "red",
        "percentage": 10,
        "guardrail_metrics": ["errors"],
    }
    refused = await harness.client.post(f"{FLAGS}/colour/guarded-rollouts", json=body, headers=admin)

    # Then it is refused: the units served "green" would change to "blue"
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["error"]["details"]["errors"]
    assert problem["path"] == "variation" and "serves 'green'" in problem["message"]
    assert "old variation 'blue'" in problem["message"]


async def test_guarded_rollout_and_schedule__one_at_a_time__409_naming_the_other(
    harness: Harness, fake_clock: FakeClock
) -> None:
    await setup(harness)
    admin = await harness.admin()
    steps = [{"at": fake_clock.moment.isoformat(), "percentage": 10}]
    schedule_body = {"environment": "production", "variation": "on", "steps": steps}
    schedules = f"{FLAGS}/checkout/rollout-schedules"

    # Given a manual guarded rollout under way
    started = await start(harness, percentage=10)
    # When a plain schedule is added in the same environment
    refused = await harness.client.post(schedules, json=schedule_body, headers=admin)
    # Then it is refused, naming the rollout
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"] == {"rollout_id": started["id"]}
    assert "guarded rollout" in refused.json()["error"]["message"]

    # Given, the other way round, a plain schedule under way (the rollout cancelled)
    cancel = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/cancel"
    assert (await harness.client.post(cancel, headers=admin)).status_code == 200
    schedule = await harness.client.post(schedules, json=schedule_body, headers=admin)
    assert schedule.status_code == 201, schedule.text
    # When a guarded rollout starts, manual or scheduled
    url = f"{FLAGS}/checkout/guarded-rollouts"
    for mode in ({"percentage": 10}, {"steps": steps}):
        body = {"environment": "production", "variation": "on", "guardrail_metrics": ["errors"], **mode}
        refused = await harness.client.post(url, json=body, headers=admin)
        # Then it is refused, naming the schedule
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"] == {"schedule_id": schedule.json()["data"]["id"]}


async def test_schedule_of_a_guarded_rollout__cancelled_only_with_it(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a scheduled guarded rollout
    await setup(harness)
    admin = await harness.admin()
    at = fake_clock.moment.replace(microsecond=0)
    steps = [
        {"at": at.isoformat(), "percentage": 50},
        {"at": at.replace(minute=at.minute + 2).isoformat(), "percentage": 100},
    ]
    started = await start(harness, steps=steps)
    schedule_id = started["schedule_id"]

    # When its schedule is cancelled on its own
    url = f"{FLAGS}/checkout/rollout-schedules/{schedule_id}/cancel"
    refused = await harness.client.post(url, headers=admin)

    # Then it is refused, naming the rollout to cancel instead; both stay as they were
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["details"] == {"rollout_id": started["id"]}
    assert f"belongs to guarded rollout {started['id']}" in error["message"]
    listed = (await harness.client.get(f"{FLAGS}/checkout/rollout-schedules", headers=admin)).json()["data"]
    owned = [(s["id"], s["status"], s["rollout_id"]) for s in listed]
    assert owned == [(schedule_id, "active", started["id"])]
    assert (await rollout(harness, started["id"]))["status"] == "running"
    assert await harness.audit(action="flag.rollout_cancelled") == []
    # cancelling the rollout stops its schedule too
    cancel = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/cancel"
    assert (await harness.client.post(cancel, headers=admin)).status_code == 200
    listed = (await harness.client.get(f"{FLAGS}/checkout/rollout-schedules", headers=admin)).json()["data"]
    assert listed[0]["status"] == "cancelled"
    assert listed[0]["rollout_id"] == started["id"]  # still the rollout's, for the record
    again = await harness.client.post(url, headers=admin)  # nothing left to refuse
    assert again.status_code == 200 and again.json()["data"]["rollout_id"] == started["id"]


async def test_archive__refused_while_a_guarded_rollout_runs__named(harness: Harness) -> None:
    # Given a flag under a manual guarded rollout
    await setup(harness)
    admin = await harness.admin()
    started = await start(harness, percentage=10)
    version = (await flag(harness))["version"]

    # When the flag is archived
    refused = await harness.client.delete(f"{FLAGS}/checkout", headers=admin)

    # Then it is refused, saying what to cancel first; nothing changed
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert f"cancel guarded rollout {started['id']} (production) first" in error["message"]
    assert error["details"]["under_way"] == [
        {"type": "guarded_rollout", "id": started["id"], "environment": "production", "status": "running"}
    ]
    assert (await flag(harness))["archived"] is False and (await flag(harness))["version"] == version
    # once cancelled, the flag archives
    cancel = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/cancel"
    assert (await harness.client.post(cancel, headers=admin)).status_code == 200
    assert (await harness.client.delete(f"{FLAGS}/checkout", headers=admin)).status_code == 200


async def test_rollout_left_under_way_on_an_archived_flag__can_be_cancelled(harness: Harness) -> None:
    # Given a guarded rollout whose flag was archived while it ran (before archiving refused it)
    from experimently.flags.models import Flag

    await setup(harness)
    started = await start(harness, percentage=10)
    async with harness.runtime.db.transaction() as session:
        row = await session.get(Flag, (await flag(harness))["id"])
        assert row is not None
        row.archived = True

    # When it is cancelled
    cancel = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/cancel"
    cancelled = await harness.client.post(cancel, headers=await harness.admin())

    # Then it ends (audited), not stuck running
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    assert len(await harness.audit(action="flag.guarded_rollout_cancelled")) == 1


async def test_create__guardrail_named_twice_or_unknown_success_metric__422_at_its_path(
    harness: Harness,
) -> None:
    await setup(harness)
    admin = await harness.admin()
    url = f"{FLAGS}/checkout/guarded-rollouts"
    base = {"environment": "production", "variation": "on", "percentage": 10}
    twice = await harness.client.post(
        url, json=base | {"guardrail_metrics": ["errors", "errors"]}, headers=admin
    )
    assert twice.status_code == 422, twice.text
    [problem] = twice.json()["error"]["details"]["errors"]
    assert problem["path"] == "guardrail_metrics[1]" and "'errors' is named twice" in problem["message"]
    unknown = base | {"guardrail_metrics": ["errors"], "success_metric": "nope"}
    refused = await harness.client.post(url, json=unknown, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["errors"] == [
        {"path": "success_metric", "message": "no such metric: nope"}
    ]
    too_many = base | {"guardrail_metrics": ["errors"], "min_units": 10**23}
    big = await harness.client.post(url, json=too_many, headers=admin)
    assert big.status_code == 422 and big.json()["error"]["details"]["errors"][0]["path"] == "min_units"
    assert await harness.audit(action="flag.guarded_rollout_started") == []
