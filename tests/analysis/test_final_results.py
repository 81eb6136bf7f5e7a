"""A completed experiment's final numbers: every exposure and conversion before its end counts, even
when the end falls between two aggregation runs and events arrive late; nothing after the end counts.
The scheduled runs cover it for an hour after the end (``SETTLE``); after that, ``POST .../aggregate``
still brings in late events from before the end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from experimently.experiments.integration import SETTLE
from experimently.kit.clock import iso
from tests.conftest import FakeClock, Harness
from tests.events.helpers import flush, post_batch

EXP = "/api/v1/experiments"
VARIANTS = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]


async def _send(h: Harness, events: list[dict[str, Any]]) -> None:
    track = await h.api_key(["track"])
    assert (await post_batch(h, track, events)).status_code == 202
    await flush(h)


def _exposed(unit: str, arm: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "exposure", "user_id": unit, "experiment_key": "final", "variant": arm, **extra}]


def _bought(unit: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "purchase", "user_id": unit, **extra}]


async def _results(h: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    response = await h.client.get(f"{EXP}/final/results", headers=await h.admin())
    assert response.status_code == 200, response.text
    body = response.json()
    return body["data"], body["meta"]


def _conversions(data: dict[str, Any]) -> dict[str, int]:
    [metric] = [m for m in data["metrics"] if m["metric_key"] == "bought"]
    [comparison] = metric["comparisons"]
    arms = (comparison["control"], comparison["treatment"])
    return {arm["key"]: round(arm["mean"] * arm["units"]) for arm in arms}


async def test_completed__final_run_counts_events_up_to_the_end__none_after(
    harness: Harness, fake_clock: FakeClock
) -> None:
    h = harness
    admin = await h.admin()
    metric = {"key": "bought", "name": "Bought", "kind": "binomial", "event_name": "purchase"}
    assert (await h.client.post("/api/v1/metrics", json=metric, headers=admin)).status_code == 201
    body = {"key": "final", "name": "Final", "variants": VARIANTS, "primary_metric": "bought"}
    assert (await h.client.post(EXP, json=body, headers=admin)).status_code == 201
    assert (await h.client.post(f"{EXP}/final/start", headers=admin)).status_code == 200
    fake_clock.advance(minutes=1)
    await _send(h, _exposed("a1", "control") + _exposed("b1", "treatment") + _bought("b1"))
    assert await h.runtime.jobs.run("metrics.aggregate")
    # between two runs: more traffic, then the experiment completes
    fake_clock.advance(seconds=20)
    await _send(h, _exposed("a2", "control") + _exposed("b2", "treatment") + _bought("b2") + _bought("a1"))
    fake_clock.advance(seconds=5)
    ended = fake_clock.moment
    completed = await h.client.post(f"{EXP}/final/complete", json={"reason": "enough"}, headers=admin)
    assert completed.status_code == 200, completed.text
    # after the end: new units and conversions (not counted); and a purchase from before the end that
    # arrives late, with its own timestamp (counted)
    fake_clock.advance(seconds=10)
    late = iso(ended - timedelta(seconds=2))
    await _send(
        h,
        _exposed("a3", "control") + _bought("a2") + _bought("b9") + _bought("a2", timestamp=late),
    )
    data, meta = await _results(h)
    assert data["units"] == {"control": 1, "treatment": 1}  # the last run before the end
    assert meta["aggregating"] is True and meta["ended_at"] == iso(ended)
    assert meta["final_after"] == iso(ended + SETTLE)

    assert await h.runtime.jobs.run("metrics.aggregate")  # the next scheduled run, after the end
    data, meta = await _results(h)
    assert data["units"] == {"control": 2, "treatment": 2}
    assert _conversions(data) == {"control": 2, "treatment": 2}  # a1 and a2 (late, before the end); b1, b2

    # an hour after the end the scheduled runs stop; a late event from before the end still arrives
    fake_clock.advance(seconds=SETTLE.total_seconds() + 60)
    h.tokens.clear()  # the access token expired meanwhile
    admin = await h.admin()
    await _send(h, _exposed("b3", "treatment", timestamp=iso(ended - timedelta(seconds=1))))
    assert await h.runtime.jobs.run("metrics.aggregate")
    data, meta = await _results(h)
    assert data["units"] == {"control": 2, "treatment": 2}
    assert meta["aggregating"] is False and meta["next_aggregation_at"] is None
    # ... and the explicit run brings it in, still bounded by the end
    ran = await h.client.post(f"{EXP}/final/aggregate", headers=admin)
    assert ran.status_code == 200, ran.text
    data, _ = await _results(h)
    assert data["units"] == {"control": 2, "treatment": 3}

    full = await h.client.post(f"{EXP}/final/aggregate", params={"full": "true"}, headers=admin)
    assert full.status_code == 200, full.text
    data, _ = await _results(h)
    assert data["units"] == {"control": 2, "treatment": 3}
    assert _conversions(data) == {"control": 2, "treatment": 2}

    assert (
        await h.client.post(f"{EXP}/final/archive", json={"reason": "done"}, headers=admin)
    ).status_code == 200
    refused = await h.client.post(f"{EXP}/final/aggregate", headers=admin)
    assert refused.status_code == 409 and "kept as they were" in refused.json()["error"]["message"]
