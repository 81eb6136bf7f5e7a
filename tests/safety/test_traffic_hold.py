"""A scheduled guarded rollout waits for traffic: its next step is not applied while the current step
has fewer than ``min_units`` units in either group (held, audited and announced once); the traffic
arriving lets it go on; with a maximum wait, a wait that runs out pauses the rollout and says why."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from experimently.webhooks.formats import render
from experimently.webhooks.models import DomainEvent
from tests.conftest import FakeClock, Harness
from tests.safety.test_rollouts import FLAGS, errors, flag, rollout, serve, setup, start


def schedule(clock: FakeClock, *percentages: float, minutes: int = 2) -> list[dict[str, Any]]:
    """Steps from now, ``minutes`` apart."""
    at = clock.moment.replace(microsecond=0)
    return [
        {"at": (at + timedelta(minutes=minutes * i)).isoformat(), "percentage": p}
        for i, p in enumerate(percentages)
    ]


async def run_scheduler(h: Harness) -> None:
    h.tokens.pop("admin", None)  # the clock moved: a fresh token
    assert await h.runtime.jobs.run("flags.apply_rollouts")


async def weights(h: Harness) -> list[float] | str:
    fallthrough = (await flag(h))["environments"]["production"]["fallthrough"]
    if "variation" in fallthrough:
        return str(fallthrough["variation"])
    return [float(v["weight"]) for v in fallthrough["rollout"]["variations"]]


async def events(h: Harness, type_: str) -> list[DomainEvent]:
    async with h.runtime.db.sessions() as session:
        return list((await session.scalars(select(DomainEvent).where(DomainEvent.type == type_))).all())


async def test_scheduled_step__held_until_the_step_before_has_min_units(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given a scheduled guarded rollout 50% now, 100% two minutes later, 100 units needed per group
    await setup(harness)
    started = await start(harness, steps=schedule(fake_clock, 50, 100), min_units=100)
    fake_clock.advance(seconds=1)
    await run_scheduler(harness)
    assert await weights(harness) == [50, 50]

    # When only 40 units are served before the next step is due
    served = await serve(harness, [f"u{i}" for i in range(40)])
    await errors(harness, served, fake_clock, factor=1)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    assert (await rollout(harness, started["id"]))["last_check"]["status"] == "NOT_ENOUGH_DATA"
    fake_clock.advance(minutes=3)
    await run_scheduler(harness)
    await run_scheduler(harness)

    # Then the step to 100% waits: the flag stays at 50%, the rollout says it is held and since when
    held = await rollout(harness, started["id"])
    assert held["status"] == "running" and held["hold"] == "waiting_for_traffic"
    assert held["waiting_since"].startswith(started["steps"][1]["at"][:19])
    assert held["percentage"] == 50 and held["next_step_at"] == started["steps"][1]["at"]
    assert [s["applied_at"] is not None for s in held["steps"]] == [True, False]
    assert await weights(harness) == [50, 50]
    # audited and announced once (the scheduler ran twice), naming what is missing
    [record] = await harness.audit(action="flag.rollout_held")
    assert record["actor_type"] == "system"
    assert "waits for traffic" in record["reason"] and "100 needed in each" in record["reason"]
    [event] = await events(harness, "flag.rollout_held")
    assert event.payload["min_units"] == 100 and event.payload["next_percentage"] == 100
    assert sum(event.payload["units"].values()) == 40
    # and a Slack webhook reads it: its own title, the reason, a link to the flag's page
    slack = json.loads(render(event, "slack", "https://exp.example.com"))
    assert slack["text"].startswith(":hourglass: Rollout waiting for traffic: flag `checkout`")
    assert "100 needed in each" in slack["text"] and "https://exp.example.com/flags/checkout" in slack["text"]

    # When the traffic comes and the monitor sees enough units in both groups
    served = await serve(harness, [f"v{i}" for i in range(600)])
    await errors(harness, served, fake_clock, factor=1)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    checked = await rollout(harness, started["id"])
    assert min(checked["last_check"]["units"].values()) >= 100
    await run_scheduler(harness)

    # Then the held step is applied and the rollout released
    done = await rollout(harness, started["id"])
    assert done["status"] == "released" and done["hold"] is None and done["waiting_since"] is None
    assert await weights(harness) == "on"
    assert (await harness.audit(action="flag.rollout_paused")) == []


async def test_no_traffic_at_all__every_later_step_waits(harness: Harness, fake_clock: FakeClock) -> None:
    # Given a three-step schedule whose first step nobody is evaluated in
    await setup(harness)
    started = await start(harness, steps=schedule(fake_clock, 10, 50, 100))
    fake_clock.advance(seconds=1)
    await run_scheduler(harness)
    # When every step's time has passed (a scheduler that would catch up applies them all at once)
    fake_clock.advance(minutes=10)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    await run_scheduler(harness)
    # Then the rollout is still at its first step, held
    held = await rollout(harness, started["id"])
    assert (held["step"], held["percentage"], held["hold"]) == (1, 10, "waiting_for_traffic")
    assert held["last_check"]["status"] == "NO_TRAFFIC"
    assert await weights(harness) == [10, 90]


async def test_max_wait__runs_out__paused_and_announced_then_resumed(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # Given the environment's safety settings wait at most an hour for traffic
    await setup(harness)
    admin = await harness.admin()
    put = await harness.client.put(
        "/api/v1/environments/production/safety-settings", json={"max_wait_seconds": 3600}, headers=admin
    )
    assert put.status_code == 200 and put.json()["data"]["max_wait_seconds"] == 3600
    started = await start(harness, steps=schedule(fake_clock, 50, 100))
    assert started["max_wait_seconds"] == 3600  # resolved from the settings and kept on the rollout
    fake_clock.advance(seconds=1)
    await run_scheduler(harness)
    fake_clock.advance(minutes=3)
    await run_scheduler(harness)
    assert (await rollout(harness, started["id"]))["hold"] == "waiting_for_traffic"

    # When the hour since the step was due passes without traffic
    fake_clock.advance(minutes=58)
    await run_scheduler(harness)
    assert (await rollout(harness, started["id"]))["status"] == "running"  # not quite an hour yet
    fake_clock.advance(minutes=1)
    await run_scheduler(harness)

    # Then the rollout and its schedule are paused, saying why; the flag stays at 50%
    paused = await rollout(harness, started["id"])
    assert paused["status"] == "paused" and paused["hold"] is None and paused["next_step_at"] is None
    [breach] = paused["breaches"]
    assert (breach["kind"], breach["action"], breach["step"]) == ("no_traffic", "paused", 1)
    assert paused["outcome"].startswith("paused: no traffic: after waiting 1 h")
    assert await weights(harness) == [50, 50]
    schedules = await harness.client.get(f"{FLAGS}/checkout/rollout-schedules", headers=await harness.admin())
    assert schedules.json()["data"][0]["status"] == "paused"
    [record] = await harness.audit(action="flag.rollout_paused")
    assert record["actor_type"] == "system" and "no traffic" in record["reason"]
    [event] = await events(harness, "flag.rollout_paused")
    assert event.payload["reason"] == record["reason"]
    slack = json.loads(render(event, "slack", "https://exp.example.com"))
    assert slack["text"].startswith(":pause_button: Rollout paused: flag `checkout`")
    assert "no traffic" in slack["text"]

    # When a person resumes it, the wait starts again (no immediate second pause)
    url = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/resume"
    resumed = await harness.client.post(url, headers=await harness.admin())
    assert resumed.status_code == 200 and resumed.json()["data"]["hold"] == "waiting_for_traffic"
    await run_scheduler(harness)
    again = await rollout(harness, started["id"])
    assert again["status"] == "running" and again["hold"] == "waiting_for_traffic"
    fake_clock.advance(hours=1)
    await run_scheduler(harness)
    assert (await rollout(harness, started["id"]))["status"] == "paused"
    assert len(await harness.audit(action="flag.rollout_paused")) == 2


async def test_max_wait__validated__and_kept_per_flag(harness: Harness) -> None:
    await setup(harness)
    admin = await harness.admin()
    url = f"{FLAGS}/checkout/environments/production/safety-settings"
    short = await harness.client.put(url, json={"max_wait_seconds": 5}, headers=admin)
    assert short.status_code == 422
    assert short.json()["error"]["details"]["errors"][0]["path"] == "max_wait_seconds"
    ok = await harness.client.put(url, json={"max_wait_seconds": 86_400}, headers=admin)
    assert ok.status_code == 200 and ok.json()["data"]["max_wait_seconds"] == 86_400
    read = await harness.client.get(url, headers=admin)
    assert read.json()["data"]["max_wait_seconds"] == 86_400
    # a manual rollout is never held: a person moves it
    started = await start(harness, percentage=10)
    assert started["max_wait_seconds"] == 86_400 and started["steps"] is None and started["hold"] is None


async def test_step_applied_late__next_wait_counts_from_then(harness: Harness, fake_clock: FakeClock) -> None:
    # Given a three-step rollout that waited an hour for traffic, paused, and was resumed
    await setup(harness)
    started = await start(harness, steps=schedule(fake_clock, 50, 80, 100), max_wait_seconds=3600)
    fake_clock.advance(seconds=1)
    await run_scheduler(harness)
    fake_clock.advance(minutes=3)
    await run_scheduler(harness)
    fake_clock.advance(minutes=61)
    await run_scheduler(harness)
    assert (await rollout(harness, started["id"]))["status"] == "paused"
    url = f"{FLAGS}/checkout/guarded-rollouts/{started['id']}/resume"
    assert (await harness.client.post(url, headers=await harness.admin())).status_code == 200

    # When the traffic comes: the held step is applied, and the last step was due an hour ago
    served = await serve(harness, [f"u{i}" for i in range(600)])
    await errors(harness, served, fake_clock, factor=1)
    assert await harness.runtime.jobs.run("metrics.aggregate")
    await run_scheduler(harness)

    # Then the new step waits for its own units from when it began, not from its planned time
    after = await rollout(harness, started["id"])
    assert (after["status"], after["step"], after["percentage"]) == ("running", 2, 80)
    assert after["hold"] == "waiting_for_traffic"
    assert after["waiting_since"] == after["steps"][1]["applied_at"]
