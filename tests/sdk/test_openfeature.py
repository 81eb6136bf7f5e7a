"""The OpenFeature provider: typed resolution with reasons, variants, error codes and metadata; provider
events on a configuration change; tracking."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.track import TrackingEventDetails

from experimently_sdk.client import Client
from experimently_sdk.client.openfeature import ExperimentlyProvider
from tests.sdk.live import LiveServer, copy_database
from tests.sdk.ruleset import TWO, exp_serve, put_flag


def test_provider__typed_resolution__events__tracking(tmp_path: Path, migrated_sqlite: Path) -> None:
    server = LiveServer("sqlite", copy_database(migrated_sqlite, tmp_path)).start()
    try:
        call = server.call
        numbers = [{"key": "low", "value": 1}, {"key": "high", "value": 2.5}]
        call(
            "POST",
            "/api/v1/feature-flags",
            201,
            json={"key": "limit", "name": "l", "type": "number", "variations": numbers},
        )
        put_flag(
            server,
            "limit",
            {
                "enabled": True,
                "rules": [
                    {
                        "id": "pro",
                        "conditions": [{"attribute": "plan", "operator": "eq", "values": ["pro"]}],
                        "serve": {"variation": "high"},
                    }
                ],
                "fallthrough": {"variation": "low"},
            },
        )
        call("POST", "/api/v1/experiments", 201, json={"key": "exp", "name": "e", "variants": TWO})
        call("POST", "/api/v1/experiments/exp/start")
        call("POST", "/api/v1/feature-flags", 201, json={"key": "f", "name": "f"})
        put_flag(
            server,
            "f",
            {
                "enabled": True,
                "rules": [
                    {
                        "id": "x",
                        "conditions": [],
                        "serve": exp_serve("exp", {"control": "off", "treatment": "on"}),
                    }
                ],
            },
        )
        key = server.sdk_key()
        sdk = Client(key, server.base_url, init_timeout=30, flush_interval=0.05)
        provider = ExperimentlyProvider(sdk)
        api.set_provider_and_wait(provider)
        client = api.get_client()
        changed: list[Any] = []
        seen = threading.Event()

        def on_change(details: Any) -> None:
            changed.append(details)
            seen.set()

        client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, on_change)
        pro = EvaluationContext("u1", {"plan": "pro"})

        high = client.get_float_details("limit", 0.0, pro)
        assert (high.value, high.variant, high.reason) == (2.5, "high", Reason.TARGETING_MATCH)
        assert high.flag_metadata["rule_id"] == "pro" and high.flag_metadata["ruleset_version"] == sdk.version
        low = client.get_integer_details("limit", 0, EvaluationContext("u2", {"plan": "free"}))
        assert (low.value, low.variant, low.reason) == (1, "low", Reason.DEFAULT)
        mismatch = client.get_integer_details("limit", 7, pro)  # 2.5 is not an integer
        assert (mismatch.value, mismatch.error_code) == (7, ErrorCode.TYPE_MISMATCH)
        wrong = client.get_string_details("limit", "x", pro)
        assert (wrong.value, wrong.reason, wrong.error_code) == ("x", Reason.ERROR, ErrorCode.TYPE_MISMATCH)
        missing = client.get_boolean_details("nope", True, pro)
        assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
        via_exp = client.get_boolean_details("f", False, EvaluationContext("u3"))
        assert via_exp.reason == Reason.TARGETING_MATCH and via_exp.flag_metadata["experiment_key"] == "exp"
        assert via_exp.value is (via_exp.flag_metadata["experiment_variant"] == "treatment")

        put_flag(server, "limit", {"enabled": False})
        assert seen.wait(30)
        assert "limit" in changed[-1].flags_changed
        off = client.get_float_details("limit", 0.0, pro)
        assert (off.value, off.reason) == (2.5, Reason.DISABLED)  # off: the off variation (the last)

        client.track("purchase", EvaluationContext("u1"), TrackingEventDetails(12.5, {"sku": "a"}))
        assert sdk.flush(30)
        server.run(server.rt.pipeline.flush())  # accepted -> stored
        stored = server.call("GET", "/api/v1/events", params={"name": "purchase"})
        assert [(e["user_id"], e["value"], e["properties"]) for e in stored] == [("u1", 12.5, {"sku": "a"})]
    finally:
        api.shutdown()
        server.stop()
