"""A flag rule that hands its decision to an experiment names one that exists and maps every one of
its variants (and nothing else) to a variation: an unknown key would never match, and an unmapped
variant would expose its units and then serve them the next rule."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness
from tests.experiments.test_api import create

FLAGS = "/api/v1/feature-flags"
MAPPED = {"control": "off", "treatment": "on"}


def _rule(key: str, mapping: dict[str, str]) -> dict[str, Any]:
    return {"id": "exp", "conditions": [], "serve": {"experiment": {"key": key, "variations": mapping}}}


async def _put(h: Harness, flag: str, config: dict[str, Any], env: str = "production") -> Any:
    admin = await h.admin()
    version = (await h.client.get(f"{FLAGS}/{flag}", headers=admin)).json()["data"]["version"]
    return await h.client.put(
        f"{FLAGS}/{flag}/environments/{env}",
        json={"version": version, "enabled": True, **config},
        headers=admin,
    )


async def test_a_rule_must_name_an_experiment_and_map_all_its_variants(harness: Harness) -> None:
    exp = await create(harness)  # variants control and treatment
    admin = await harness.admin()
    assert (
        await harness.client.post(FLAGS, json={"key": "button", "name": "b"}, headers=admin)
    ).status_code == 201

    unknown = await _put(harness, "button", {"rules": [_rule("checkout-colour", {"control": "off"})]})
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"]["errors"] == [
        {
            "path": "rules[0].serve.experiment.key",
            "message": "no experiment 'checkout-colour'",
        }
    ]

    typo = await _put(harness, "button", {"rules": [_rule(exp["key"], {"control": "off", "treatmnt": "on"})]})
    assert typo.status_code == 422
    assert typo.json()["error"]["details"]["errors"] == [
        {
            "path": "rules[0].serve.experiment.variations.treatmnt",
            "message": "experiment 'checkout-color' has no variant 'treatmnt' (it has control, treatment)",
        },
        {
            "path": "rules[0].serve.experiment.variations",
            "message": "maps no variation to 'treatment' of experiment 'checkout-color' (a unit assigned "
            "to it would be exposed, then served by the next rule)",
        },
    ]

    fallthrough = {"experiment": {"key": exp["key"], "variations": {"control": "off"}}}
    partial = await _put(harness, "button", {"fallthrough": fallthrough})
    assert partial.status_code == 422
    assert [e["path"] for e in partial.json()["error"]["details"]["errors"]] == [
        "fallthrough.experiment.variations"
    ]

    # the same checks on create and on PATCH; nothing was stored by the refusals
    created = await harness.client.post(
        FLAGS,
        json={
            "key": "other",
            "name": "o",
            "environments": {"staging": {"rules": [_rule("nope", {"a": "on"})]}},
        },
        headers=admin,
    )
    assert created.status_code == 422
    assert (
        created.json()["error"]["details"]["errors"][0]["path"]
        == "environments.staging.rules[0].serve.experiment.key"
    )
    patched = await harness.client.patch(
        f"{FLAGS}/button",
        json={"version": 1, "environments": {"production": {"rules": [_rule("nope", {"a": "on"})]}}},
        headers=admin,
    )
    assert patched.status_code == 422
    button = (await harness.client.get(f"{FLAGS}/button", headers=admin)).json()["data"]
    assert button["version"] == 1 and button["environments"]["production"]["rules"] == []

    # a complete mapping of an existing experiment is stored, in any environment
    whole = _rule(exp["key"], {"control": "off", "treatment": "on"})
    assert (await _put(harness, "button", {"rules": [whole]})).status_code == 200
    assert (await _put(harness, "button", {"rules": [whole]}, env="staging")).status_code == 200


async def test_an_experiment_starts_only_with_every_variant_mapped(harness: Harness) -> None:
    exp = await create(harness)
    admin = await harness.admin()
    experiment = f"/api/v1/experiments/{exp['key']}"
    assert (
        await harness.client.post(FLAGS, json={"key": "button", "name": "b"}, headers=admin)
    ).status_code == 201
    assert (await _put(harness, "button", {"rules": [_rule(exp["key"], MAPPED)]})).status_code == 200
    # a rule in another environment never reaches the experiment: not in the way
    assert (
        await _put(harness, "button", {"rules": [_rule(exp["key"], MAPPED)]}, env="staging")
    ).status_code == 200
    three = [
        {"key": "control", "weight": 34, "is_control": True},
        {"key": "treatment", "weight": 33},
        {"key": "bold", "weight": 33},
    ]
    body = {"version": 1, "variants": three, "planned_start": "2030-01-01T00:00:00Z"}
    grown = await harness.client.patch(experiment, json=body, headers=admin)
    assert grown.status_code == 200, grown.text  # a draft may change: nothing is exposed yet

    for action in ("start", "schedule"):
        refused = await harness.client.post(f"{experiment}/{action}", headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["errors"] == [
            {
                "path": "flags.button.environments.production.rules[0].serve.experiment.variations",
                "message": "maps no variation to 'bold'",
            }
        ]
        assert refused.json()["error"]["message"] == (
            "flag 'button', rule 'exp', maps no variation to 'bold' (experiment 'checkout-color'): "
            f"map every variant in the flags, then {action} it"
        )

    # mapped in the flag, the experiment is scheduled; its variants then cannot outgrow the flag
    assert (
        await _put(harness, "button", {"rules": [_rule(exp["key"], {**MAPPED, "bold": "on"})]})
    ).status_code == 200
    assert (await harness.client.post(f"{experiment}/schedule", headers=admin)).status_code == 200
    two = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
    version = (await harness.client.get(experiment, headers=admin)).json()["data"]["version"]
    shrunk = await harness.client.patch(experiment, json={"version": version, "variants": two}, headers=admin)
    assert shrunk.status_code == 422, shrunk.text
    assert "unschedule it" in shrunk.json()["error"]["message"]
    assert (
        shrunk.json()["error"]["details"]["errors"][0]["message"]
        == "maps 'bold', not a variant of the experiment"
    )
    assert (await harness.client.get(experiment, headers=admin)).json()["data"]["variants"][2][
        "key"
    ] == "bold"
