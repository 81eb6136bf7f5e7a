"""The guardrail monitor: a treatment that significantly raises a lower-is-better guardrail metric pauses
its experiment (audited as the system, emitted as domain events, listed as a breach), once; ``notify``
records and emits without pausing; no breach on equal arms or below the minimum sample."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from experimently.webhooks.models import DomainEvent
from tests.conftest import ADMIN_EMAIL, FakeClock, Harness
from tests.events.helpers import flush, post_batch

EXP = "/api/v1/experiments"
VARIANTS = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]


async def setup_metric(h: Harness) -> None:
    body = {"key": "errors", "name": "Errors", "kind": "count", "event_name": "error", "direction": "lower"}
    assert (await h.client.post("/api/v1/metrics", json=body, headers=await h.admin())).status_code == 201


async def running(h: Harness, key: str, **extra: Any) -> dict[str, Any]:
    body = {"key": key, "name": key, "variants": VARIANTS, "guardrail_metrics": ["errors"], **extra}
    created = await h.client.post(EXP, json=body, headers=await h.admin())
    assert created.status_code == 201, created.text
    assert (await h.client.post(f"{EXP}/{key}/start", headers=await h.admin())).status_code == 200
    data: dict[str, Any] = created.json()["data"]
    return data


async def traffic(h: Harness, key: str, units: int, treatment_errors: int) -> None:
    """``units`` per arm; control units have an error one time in three, treatment units
    ``treatment_errors`` each."""
    events: list[dict[str, Any]] = []
    for arm in ("control", "treatment"):
        for u in range(units):
            user = f"{key}-{arm}-{u}"
            events.append({"name": "exposure", "user_id": user, "experiment_key": key, "variant": arm})
            errors = (1 if u % 3 == 0 else 0) if arm == "control" else treatment_errors
            events += [{"name": "error", "user_id": user} for _ in range(errors)]
    track = await h.api_key(["track"])
    for i in range(0, len(events), 900):
        assert (await post_batch(h, track, events[i : i + 900])).status_code == 202
    await flush(h)


async def check(h: Harness) -> None:
    assert await h.runtime.jobs.run("metrics.aggregate")
    assert await h.runtime.jobs.run("safety.check_guardrails")


async def status(h: Harness, key: str) -> str:
    return str((await h.client.get(f"{EXP}/{key}", headers=await h.admin())).json()["data"]["status"])


async def breaches(h: Harness, key: str) -> list[dict[str, Any]]:
    response = await h.client.get(f"{EXP}/{key}/guardrail-breaches", headers=await h.admin())
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


async def domain_events(h: Harness) -> list[tuple[str, dict[str, Any]]]:
    async with h.runtime.db.sessions() as session:
        rows = (await session.scalars(select(DomainEvent).order_by(DomainEvent.id))).all()
        return [(e.type, e.payload) for e in rows if e.type.startswith("experiment.")]


async def test_breach__pauses_once__audited__emitted__listed(harness: Harness, fake_clock: FakeClock) -> None:
    await setup_metric(harness)
    await running(harness, "risky")
    fake_clock.advance(minutes=1)
    await traffic(harness, "risky", units=150, treatment_errors=3)
    await check(harness)

    assert await status(harness, "risky") == "paused"
    [breach] = await breaches(harness, "risky")
    assert (breach["metric_key"], breach["variant"], breach["action"]) == ("errors", "treatment", "paused")
    assert breach["relative_lift"] > 1 and breach["p_value"] < 0.05
    assert breach["details"]["engine"] == "sequential"
    assert breach["details"]["comparison"]["verdict"] == "loser"
    [flagged] = await harness.audit(action="guardrail.breached")
    [paused] = await harness.audit(action="experiment.pause")
    for record in (flagged, paused):
        assert record["actor_type"] == "system"
        assert "guardrail 'errors' is significantly worse in 'treatment'" in record["reason"]
    assert paused["diff"]["status"] == {"before": "running", "after": "paused"}
    assert (
        'experimently_guardrail_breaches_total{action="paused"}'
        in (await harness.client.get("/metrics")).text
    )
    types = [t for t, _ in await domain_events(harness)]
    assert types == ["experiment.started", "experiment.guardrail_breached", "experiment.paused"]
    pause = (await harness.client.get(f"{EXP}/risky", headers=await harness.admin())).json()["data"]["pause"]
    assert pause["automatic"] is True and pause["by"] == "system"
    assert "guardrail 'errors' is significantly worse in 'treatment'" in pause["reason"]

    # a person resumes: that acknowledges the breach, the monitor does not pause again for it
    assert (
        await harness.client.post(f"{EXP}/risky/resume", headers=await harness.admin())
    ).status_code == 200
    await check(harness)
    assert await status(harness, "risky") == "running"
    assert len(await breaches(harness, "risky")) == 1
    assert (await harness.client.get(f"{EXP}/risky", headers=await harness.admin())).json()["data"][
        "pause"
    ] is None
    # a person's later pause is theirs, not the monitor's (the console's banner tells them apart)
    manual = await harness.client.post(
        f"{EXP}/risky/pause", json={"reason": "checkout incident"}, headers=await harness.admin()
    )
    assert manual.json()["data"]["pause"] | {"at": None} == {
        "at": None,
        "by": ADMIN_EMAIL,
        "automatic": False,
        "reason": "checkout incident",
    }


async def test_notify__records_and_emits_without_pausing(harness: Harness, fake_clock: FakeClock) -> None:
    await setup_metric(harness)
    await running(harness, "watched", guardrail_action="notify")
    fake_clock.advance(minutes=1)
    await traffic(harness, "watched", units=150, treatment_errors=3)
    await check(harness)
    assert await status(harness, "watched") == "running"
    [breach] = await breaches(harness, "watched")
    assert breach["action"] == "notified"
    events = await domain_events(harness)
    assert [t for t, _ in events] == ["experiment.started", "experiment.guardrail_breached"]
    assert events[1][1]["action"] == "notified" and events[1][1]["metric"] == "errors"
    await check(harness)  # found again: not recorded or emitted twice
    assert len(await breaches(harness, "watched")) == 1 and len(await domain_events(harness)) == 2


async def test_no_breach__equal_arms__or_below_minimum_sample(
    harness: Harness, fake_clock: FakeClock
) -> None:
    await setup_metric(harness)
    await running(harness, "fine")
    await running(harness, "tiny")
    fake_clock.advance(minutes=1)
    await traffic(harness, "fine", units=150, treatment_errors=0)  # fewer errors in treatment: not harm
    await traffic(harness, "tiny", units=40, treatment_errors=3)  # harmful, but 40 < 100 units per arm
    await check(harness)
    for key in ("fine", "tiny"):
        assert await status(harness, key) == "running"
        assert await breaches(harness, key) == []


async def test_guardrail_action__editable_while_running__validated(harness: Harness) -> None:
    await setup_metric(harness)
    exp = await running(harness, "editable")
    assert exp["guardrail_action"] == "pause"
    admin = await harness.admin()
    bad = await harness.client.patch(
        f"{EXP}/editable", json={"version": exp["version"] + 1, "guardrail_action": "explode"}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    ok = await harness.client.patch(
        f"{EXP}/editable", json={"version": exp["version"] + 1, "guardrail_action": "notify"}, headers=admin
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["guardrail_action"] == "notify"
    viewer, _ = await harness.user("viewer")
    assert (await harness.client.get(f"{EXP}/editable/guardrail-breaches", headers=viewer)).status_code == 200
    assert (await harness.client.get(f"{EXP}/editable/guardrail-breaches")).status_code == 401
    assert (await harness.client.get(f"{EXP}/nope/guardrail-breaches", headers=admin)).status_code == 404


async def test_variant_weighted_zero__left_out_of_the_minimum__breach_still_found(
    harness: Harness, fake_clock: FakeClock
) -> None:
    # a holdout weighted 0 gets no units: it must not keep the monitor from judging the others
    await setup_metric(harness)
    held = [*VARIANTS, {"key": "later", "weight": 0}]
    await running(harness, "with-holdout", variants=held)
    fake_clock.advance(minutes=1)
    await traffic(harness, "with-holdout", units=150, treatment_errors=3)
    await check(harness)
    [breach] = await breaches(harness, "with-holdout")
    assert breach["variant"] == "treatment" and breach["action"] == "paused"
    assert await status(harness, "with-holdout") == "paused"
    # and the results say the holdout gets no traffic, not that it waits for data
    results = await harness.client.get(f"{EXP}/with-holdout/results", headers=await harness.admin())
    [errors] = results.json()["data"]["metrics"]
    assert "later vs control on Errors: no traffic (its weight is 0" in errors["summary"], errors["summary"]
