"""The units an assignment takes: a long experiment key or unit still gets its exposure (the event id
then takes its hashed form), a unit too long to store is refused (REST) or left out (a flag serving
the experiment), and a JSON scalar of any kind is bucketed as the SDKs bucket it."""

from __future__ import annotations

from experimently.events.validation import _LIMITS
from experimently_sdk import assign as engine_assign
from experimently_sdk.ids import exposure_id
from tests.conftest import Harness
from tests.experiments.test_api import EXP, assign, experiment_rule
from tests.experiments.test_group_commit import exposures, started


def test_exposure_id__readable_while_it_fits__hashed_beyond() -> None:
    assert exposure_id("checkout", "u-1") == "exposure:checkout:u-1"
    fits = exposure_id("k", "u" * 117)  # 9 + 1 + 1 + 117 = 128 characters
    assert fits == f"exposure:k:{'u' * 117}"
    hashed = exposure_id("k", "u" * 118)
    assert hashed.startswith("exposure:") and hashed.count(":") == 1 and len(hashed) == 57
    assert hashed == exposure_id("k", "u" * 118)  # deterministic
    assert hashed != exposure_id("k", "u" * 119)
    # characters, not bytes: a non-ASCII unit of 117 characters still fits
    assert exposure_id("k", "é" * 117) == f"exposure:k:{'é' * 117}"
    for experiment_key, unit in [("k" * 100, "u" * 200), ("k", "🙂" * 200)]:
        assert len(exposure_id(experiment_key, unit)) <= _LIMITS["event_id"]


async def test_long_key_and_unit__assigned_and_exposed_once(harness: Harness) -> None:
    key = "long-" + "x" * 95  # the longest experiment key (100 characters)
    await started(harness, key)
    api_key = await harness.api_key(["evaluate"])
    units = [f"{i}-" + "u" * 150 for i in range(3)]
    answers = {u: await assign(harness, key, u, api_key) for u in units}
    for u in units:  # a repeat is sticky and sends nothing more
        assert (await assign(harness, key, u, api_key))["variant"] == answers[u]["variant"]
    stored = await exposures(harness.runtime, key, len(units))
    assert stored == sorted((u, a["variant"]) for u, a in answers.items())


async def test_unit_over_200_characters__422_naming_the_field(harness: Harness) -> None:
    await started(harness, "too-long")
    api_key = await harness.api_key(["evaluate"])
    one = await harness.client.post(f"{EXP}/too-long/assign", json={"unit_id": "u" * 201}, headers=api_key)
    assert one.status_code == 422, one.text
    assert one.json()["error"]["details"]["errors"][0]["path"] == "unit_id"
    bulk = await harness.client.post(
        f"{EXP}/too-long/assign/bulk",
        json={"units": [{"unit_id": "ok"}, {"unit_id": "u" * 201}]},
        headers=api_key,
    )
    assert bulk.status_code == 422, bulk.text
    assert bulk.json()["error"]["details"]["errors"][0]["path"] == "units[1].unit_id"
    assert (await assign(harness, "too-long", "u" * 200, api_key))["in_experiment"] is True
    # an empty unit names nobody: it would be assigned and its exposure refused, so it is refused here
    empty = await harness.client.post(f"{EXP}/too-long/assign", json={"unit_id": ""}, headers=api_key)
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["details"]["errors"][0]["message"]


async def test_flag_serving_experiment__unit_over_200_characters__goes_to_the_next_rule(
    harness: Harness,
) -> None:
    exp = await started(harness, "flag-long")
    admin = await harness.admin()
    await harness.client.post("/api/v1/feature-flags", json={"key": "long-flag", "name": "f"}, headers=admin)
    config = {
        "enabled": True,
        "version": 1,
        "rules": [experiment_rule(exp["key"])],
        "fallthrough": {"variation": "off"},
    }
    put = await harness.client.put(
        "/api/v1/feature-flags/long-flag/environments/production", json=config, headers=admin
    )
    assert put.status_code == 200, put.text
    api_key = await harness.api_key(["evaluate"])
    answer = await harness.client.post(
        "/api/v1/feature-flags/long-flag/evaluate", json={"user_id": "u" * 201}, headers=api_key
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["rule_id"] != "exp"
    assert answer.json()["data"].get("experiment_variant") is None
    # an empty user id likewise: in no experiment, no assignment stored
    empty = await harness.client.post(
        "/api/v1/feature-flags/long-flag/evaluate", json={"user_id": ""}, headers=api_key
    )
    assert empty.status_code == 200 and empty.json()["data"].get("experiment_variant") is None


async def test_scalar_units__bucketed_as_the_engine_buckets_them(harness: Harness) -> None:
    await started(harness, "scalars")
    api_key = await harness.api_key(["evaluate"])
    live = await harness.runtime.assignments.experiment("scalars")
    for value, text in [(True, "true"), (False, "false"), (7, "7"), (7.0, "7"), (2.5, "2.5"), ("1", "1")]:
        response = await harness.client.post(
            f"{EXP}/scalars/assign", json={"unit_id": value}, headers=api_key
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["unit_id"] == text, value
        assert data["variant"] == engine_assign(live.compiled, {"user_id": value}).variant, value
