"""Flag exposures from the client mirror the server's decision: only flags the payload lists under
``guarded_rollouts``, once per (rollout step, unit, variation), with the id the server gives them."""

from __future__ import annotations

from typing import Any

from experimently.flags.exposures import exposure_id
from experimently_sdk.client import Client
from tests.sdk.fake import receiver


def flag(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "type": "boolean",
        "version": 1,
        "salt": key,
        "enabled": True,
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "off_variation": "off",
        "fallthrough": {"variation": "on"},
    }


def payload(guarded: dict[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"environment": "production", "flags": [flag("f"), flag("g")], "segments": []}
    if guarded is not None:
        body["guarded_rollouts"] = guarded
    return body


def test_flag_exposures__guarded_flags_only__once_per_step__server_ids() -> None:
    units = [f"u{i}" for i in range(10)]
    with receiver() as (fake, url):
        client = Client("key", url, init_timeout=0, bootstrap=payload({"f": "r1.1"}), flush_interval=0.01)
        try:
            # Given f under a guarded rollout (step 1) and g not, When both are read repeatedly
            for _ in range(3):
                for unit in units:
                    assert client.is_enabled("f", unit) and client.is_enabled("g", unit)
                    assert client.variation("f", unit) is True and client.variation("g", unit) is True
            assert client.variation_detail("f", 7).value is True  # an int unit, sent as "7"
            assert client.flush(30)
            # Then one exposure per unit of f, none of g, with the server's own ids
            sent = [e for e in fake.accepted if e["name"] == "flag_exposure"]
            assert sorted(e["user_id"] for e in sent) == sorted([*units, "7"])
            assert all(e["properties"] == {"flag": "f", "variation": "on"} for e in sent)
            assert {e["event_id"] for e in sent} == {
                exposure_id("production", "r1.1", u, "on") for u in [*units, "7"]
            }

            # When the rollout moves to its next step, every unit is sent again (compared afresh)
            client._on_payload("v2", payload({"f": "r1.2"}))
            for unit in units:
                client.is_enabled("f", unit)
                client.is_enabled("f", unit)
            assert client.flush(30)
            sent = [e for e in fake.accepted if e["name"] == "flag_exposure"]
            step_two = {exposure_id("production", "r1.2", u, "on") for u in units}
            assert len(sent) == 21 and step_two <= {e["event_id"] for e in sent}

            # When the rollout ends (no guarded_rollouts any more), nothing more is sent
            client._on_payload("v3", payload(None))
            for unit in [*units, "new"]:
                client.is_enabled("f", unit)
            assert client.flush(30)
            assert len([e for e in fake.accepted if e["name"] == "flag_exposure"]) == 21
        finally:
            client.close()
