"""Shipping an experiment's variant: the experiment ends, every flag rule that served it in its
environment serves the variant's variation to the same users, all or nothing, audited and announced."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import select

from experimently.flags.models import Flag
from experimently.webhooks.formats import render
from experimently.webhooks.models import DomainEvent
from tests.conftest import ADMIN_EMAIL, FakeClock, Harness
from tests.experiments.test_api import EXP, act, assign, create

FLAGS = "/api/v1/feature-flags"
MAPPING = {"control": "off", "treatment": "on"}


def _experiment_rule(key: str, rule_id: str = "exp", mapping: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": rule_id,
        "conditions": [{"attribute": "country", "operator": "in", "values": ["DE", "FR"]}],
        "serve": {"experiment": {"key": key, "variations": mapping or MAPPING}},
    }


async def _flag(
    h: Harness,
    key: str,
    rules: list[dict[str, Any]],
    headers: dict[str, str],
    environment: str = "production",
    fallthrough: dict[str, Any] | None = None,
) -> None:
    created = await h.client.post(FLAGS, json={"key": key, "name": key}, headers=headers)
    assert created.status_code in (201, 409), created.text
    version = (await h.client.get(f"{FLAGS}/{key}", headers=headers)).json()["data"]["version"]
    config: dict[str, Any] = {"version": version, "enabled": True, "rules": rules}
    config["fallthrough"] = fallthrough or {"variation": "off"}
    put = await h.client.put(f"{FLAGS}/{key}/environments/{environment}", json=config, headers=headers)
    assert put.status_code == 200, put.text


async def _evaluate(h: Harness, flag: str, unit: str, key: dict[str, str], **context: Any) -> dict[str, Any]:
    response = await h.client.post(
        f"{FLAGS}/{flag}/evaluate", json={"user_id": unit, "context": context}, headers=key
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _ship(h: Harness, ref: str, variant: str, headers: dict[str, str] | None = None) -> Any:
    return await h.client.post(
        f"{EXP}/{ref}/ship",
        json={"variant": variant, "reason": "treatment won on conversion"},
        headers=headers or await h.admin(),
    )


async def test_ship__rules_serve_the_variant_to_the_same_users(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    rule = _experiment_rule(exp["key"])
    fallthrough = {"experiment": {"key": exp["key"], "variations": MAPPING}}
    await _flag(harness, "checkout-button", [rule], admin, fallthrough=fallthrough)
    await _flag(harness, "checkout-button", [rule], admin, environment="staging")
    await _flag(harness, "unrelated", [{"id": "r", "conditions": [], "serve": {"variation": "on"}}], admin)
    key = await harness.api_key(["evaluate"])
    before = await _evaluate(harness, "checkout-button", "u1", key, country="DE")
    assert before["experiment_key"] == exp["key"]

    shipped = await _ship(harness, exp["key"], "treatment")

    assert shipped.status_code == 200, shipped.text
    data = shipped.json()["data"]
    assert data["status"] == "completed" and data["ended_at"] is not None
    assert data["shipped"]["variant"] == "treatment"
    assert data["shipped"]["reason"] == "treatment won on conversion"
    assert data["shipped"]["by"] == ADMIN_EMAIL
    places = [{"rule": "exp", "variation": "on"}, {"rule": "fallthrough", "variation": "on"}]
    assert [(f["key"], f["places"]) for f in data["shipped"]["flags"]] == [("checkout-button", places)]
    flag = (await harness.client.get(f"{FLAGS}/checkout-button", headers=admin)).json()["data"]
    assert flag["version"] == data["shipped"]["flags"][0]["version"]
    production = flag["environments"]["production"]
    assert production["rules"][0] == {**rule, "serve": {"variation": "on"}}  # id and conditions kept
    assert production["fallthrough"] == {"variation": "on"}
    # the experiment never assigned in staging: its rules there are left as they were
    assert flag["environments"]["staging"]["rules"][0]["serve"] == rule["serve"]
    # every user the rule matched gets the treatment's variation, without an assignment
    for unit in ("u1", "u2", "fresh-user"):
        result = await _evaluate(harness, "checkout-button", unit, key, country="FR")
        assert result["value"] is True and result["rule_id"] == "exp"
        assert result.get("experiment_key") is None
    assert (await harness.client.get(f"{EXP}/units/fresh-user/assignments", headers=key)).json()["data"] == []
    outside = await _evaluate(harness, "checkout-button", "u3", key, country="US")
    assert outside["value"] is True  # the shipped fallthrough
    actions = [row["action"] for row in await harness.audit()]
    for action in ("experiment.complete", "experiment.shipped", "flag.experiment_shipped"):
        assert action in actions
    shipped_row = next(row for row in await harness.audit() if row["action"] == "flag.experiment_shipped")
    assert shipped_row["reason"] == "treatment won on conversion"

    async with harness.runtime.db.transaction() as session:
        events = {e.type: e for e in (await session.scalars(select(DomainEvent))).all()}
    assert events["experiment.shipped"].payload["variant"] == "treatment"
    assert events["experiment.shipped"].payload["flags"] == data["shipped"]["flags"]
    # webhooks and Slack name the person, not "system" (every experiment event carries its actor)
    for kind in ("experiment.shipped", "experiment.completed", "experiment.started"):
        assert events[kind].payload["actor"]["label"] == ADMIN_EMAIL, kind
    slack = json.loads(render(events["experiment.shipped"], "slack", "https://exp.example.com"))
    assert slack["text"].startswith(f":rocket: Variant shipped: experiment `{exp['key']}`")
    assert f"by {ADMIN_EMAIL} — treatment won on conversion" in slack["text"]
    assert f"https://exp.example.com/experiments/{exp['key']}" in slack["text"]


async def test_ship__a_completed_experiment_ships_once(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    await act(harness, exp["key"], "complete", "enough data")
    assert (await _ship(harness, exp["key"], "control")).status_code == 200
    again = await _ship(harness, exp["key"], "treatment")
    assert again.status_code == 409
    assert again.json()["error"]["details"]["shipped"]["variant"] == "control"
    assert (await harness.client.get(f"{EXP}/{exp['key']}", headers=await harness.admin())).json()["data"][
        "shipped"
    ]["flags"] == []  # no flag served it: the decision alone is recorded


async def test_ship__refused_before_the_start_and_for_unknown_variants(harness: Harness) -> None:
    exp = await create(harness)
    draft = await _ship(harness, exp["key"], "treatment")
    assert draft.status_code == 409 and "draft" in draft.json()["error"]["message"]
    await act(harness, exp["key"], "start")
    unknown = await _ship(harness, exp["key"], "purple")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["errors"][0]["path"] == "variant"
    blank = await harness.client.post(
        f"{EXP}/{exp['key']}/ship",
        json={"variant": "treatment", "reason": "  "},
        headers=await harness.admin(),
    )
    assert blank.status_code == 422
    after = (await harness.client.get(f"{EXP}/{exp['key']}", headers=await harness.admin())).json()["data"]
    assert after["status"] == "running" and after["shipped"] is None


async def test_ship__a_rule_without_the_variant_changes_nothing(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    await _flag(harness, "a-flag", [_experiment_rule(exp["key"])], admin)
    await _flag(harness, "b-flag", [_experiment_rule(exp["key"], "partial")], admin)
    # a flag stored before saves checked the mapping (the API refuses this one today:
    # tests/flags/test_experiment_rules.py), written as it was then
    async with harness.runtime.db.transaction() as session:
        flag = await session.scalar(select(Flag).where(Flag.key == "b-flag"))
        assert flag is not None
        environments = copy.deepcopy(flag.environments)
        environments["production"]["rules"][0]["serve"]["experiment"]["variations"] = {"control": "off"}
        flag.environments = environments
    refused = await _ship(harness, exp["key"], "treatment")
    assert refused.status_code == 422
    errors = refused.json()["error"]["details"]["errors"]
    assert errors == [
        {
            "path": "flags.b-flag.environments.production.rules[0].serve",
            "message": "maps no variation to variant 'treatment'",
        }
    ]
    # all or nothing: the first flag, changed before the second refused, is as it was
    a_flag = (await harness.client.get(f"{FLAGS}/a-flag", headers=admin)).json()["data"]
    assert a_flag["version"] == 2
    assert "experiment" in a_flag["environments"]["production"]["rules"][0]["serve"]
    after = (await harness.client.get(f"{EXP}/{exp['key']}", headers=admin)).json()["data"]
    assert after["status"] == "running" and after["shipped"] is None
    assert "experiment.shipped" not in [row["action"] for row in await harness.audit()]


async def test_ship__needs_the_right_to_change_every_flag(harness: Harness) -> None:
    developer, _ = await harness.user("developer")
    created = await harness.client.post(
        EXP,
        json={
            "key": "dev-exp",
            "name": "dev-exp",
            "variants": [
                {"key": "control", "weight": 50, "is_control": True},
                {"key": "treatment", "weight": 50},
            ],
        },
        headers=developer,
    )
    assert created.status_code == 201, created.text
    start = await harness.client.post(f"{EXP}/dev-exp/start", json={"reason": "go"}, headers=developer)
    assert start.status_code == 200, start.text
    admin = await harness.admin()  # the flag is the admin's: the developer may not change it
    await _flag(harness, "admins-flag", [_experiment_rule("dev-exp")], admin)
    refused = await _ship(harness, "dev-exp", "treatment", developer)
    assert refused.status_code == 403, refused.text
    after = (await harness.client.get(f"{EXP}/dev-exp", headers=admin)).json()["data"]
    assert after["status"] == "running" and after["shipped"] is None
    viewer, _ = await harness.user("viewer")
    assert (await _ship(harness, "dev-exp", "treatment", viewer)).status_code == 403
    key = await harness.api_key(["evaluate"])
    assert (await assign(harness, "dev-exp", "u1", key))["in_experiment"] is True


async def test_ship__a_dry_run_answers_what_would_change_and_changes_nothing(harness: Harness) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    await _flag(harness, "checkout-button", [_experiment_rule(exp["key"])], admin)
    body = {"variant": "treatment", "reason": "preview", "dry_run": True}
    preview = await harness.client.post(f"{EXP}/{exp['key']}/ship", json=body, headers=admin)
    assert preview.status_code == 200, preview.text
    assert preview.json()["meta"] == {"dry_run": True}
    would = preview.json()["data"]
    assert would["status"] == "completed"
    assert would["shipped"]["flags"] == [
        {"key": "checkout-button", "version": 3, "places": [{"rule": "exp", "variation": "on"}]}
    ]
    flag = (await harness.client.get(f"{FLAGS}/checkout-button", headers=admin)).json()["data"]
    assert flag["version"] == 2 and "experiment" in flag["environments"]["production"]["rules"][0]["serve"]
    after = (await harness.client.get(f"{EXP}/{exp['key']}", headers=admin)).json()["data"]
    assert (
        after["status"] == "running" and after["shipped"] is None and after["version"] == exp["version"] + 1
    )
    actions = [row["action"] for row in await harness.audit()]
    assert "experiment.shipped" not in actions and "experiment.complete" not in actions
    unknown = await harness.client.post(
        f"{EXP}/{exp['key']}/ship", json={**body, "variant": "purple"}, headers=admin
    )
    assert unknown.status_code == 422  # a preview refuses what the real thing would
    real = await _ship(harness, exp["key"], "treatment")
    assert real.json()["data"]["shipped"]["flags"] == would["shipped"]["flags"]


async def test_ship__the_flag_is_reported_stale_once_left_alone(
    harness: Harness, fake_clock: FakeClock
) -> None:
    exp = await create(harness)
    await act(harness, exp["key"], "start")
    admin = await harness.admin()
    await _flag(harness, "checkout-button", [_experiment_rule(exp["key"])], admin)
    await _flag(harness, "rolled-out", [], admin)  # serves `off` to everyone in production; off elsewhere
    assert (await _ship(harness, exp["key"], "treatment")).status_code == 200

    async def report() -> dict[str, dict[str, Any]]:
        headers = await harness.admin()
        answer = await harness.client.get(f"{FLAGS}/reports/stale", params={"days": 30}, headers=headers)
        assert answer.status_code == 200, answer.text
        return {row["key"]: row for row in answer.json()["data"]}

    assert await report() == {}  # shipped today: not yet
    fake_clock.advance(days=31)
    harness.tokens.clear()
    rows = await report()
    assert set(rows) == {"checkout-button", "rolled-out"}
    shipped = rows["checkout-button"]
    assert shipped["reason"] == "shipped" and shipped["days_unchanged"] == 31
    assert shipped["serving"]["production"] is None  # the rule serves the winner to its users only
    assert {k: v for k, v in shipped["shipped"].items() if k != "at"} == {
        "experiment": exp["key"],
        "variant": "treatment",
        "environment": "production",
    }
    assert rows["rolled-out"]["reason"] == "rolled_out" and rows["rolled-out"]["shipped"] is None

    # a later change of the shipped flag is another decision: off the list until left alone again
    admin = await harness.admin()  # the session before the 31 days has expired
    version = (await harness.client.get(f"{FLAGS}/checkout-button", headers=admin)).json()["data"]["version"]
    renamed = await harness.client.patch(
        f"{FLAGS}/checkout-button", json={"version": version, "name": "Checkout button"}, headers=admin
    )
    assert renamed.status_code == 200, renamed.text
    assert set(await report()) == {"rolled-out"}
    fake_clock.advance(days=31)
    harness.tokens.clear()
    assert set(await report()) == {"rolled-out"}  # neither rolled out nor last changed by a shipping
