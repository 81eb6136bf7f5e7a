"""A realistic ruleset built through the API (targeting, segments, prerequisites, rollouts, individual
targets, flags serving experiments, a layer) and a population of users to evaluate it on."""

from __future__ import annotations

import random
from typing import Any

from tests.sdk.live import LiveServer

EXPERIMENT_FLAGS = {"checkout-flag": "checkout-exp", "layer-flag-a": "layer-a", "layer-flag-b": "layer-b"}
FLAGS = ["kill-switch", "new-checkout", "banner-color", "discount", "dark-mode", *EXPERIMENT_FLAGS]
EXPERIMENTS = ["checkout-exp", "layer-a", "layer-b", "onboarding"]
TWO = [{"key": "control", "weight": 50, "is_control": True}, {"key": "treatment", "weight": 50}]
THREE = [
    {"key": "control", "weight": 34, "is_control": True, "payload": {"steps": 3}},
    {"key": "short", "weight": 33, "payload": {"steps": 2}},
    {"key": "long", "weight": 33, "payload": {"steps": 5}},
]


def cond(attribute: str, operator: str, *values: Any, **extra: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "values": list(values), **extra}


def put_flag(server: LiveServer, key: str, config: dict[str, Any]) -> None:
    version = server.call("GET", f"/api/v1/feature-flags/{key}")["version"]
    server.call(
        "PUT", f"/api/v1/feature-flags/{key}/environments/production", json={**config, "version": version}
    )


def exp_serve(key: str, mapping: dict[str, str]) -> dict[str, Any]:
    return {"experiment": {"key": key, "variations": mapping}}


def build(server: LiveServer) -> None:
    call = server.call
    call(
        "POST",
        "/api/v1/segments",
        201,
        json={
            "key": "beta",
            "name": "Beta",
            "conditions": [cond("email", "ends_with", "@beta.example", case_insensitive=True)],
        },
    )
    call(
        "POST",
        "/api/v1/segments",
        201,
        json={"key": "eu", "name": "EU", "conditions": [cond("country", "in", "DE", "FR", "IT", "ES")]},
    )
    call(
        "POST",
        "/api/v1/segments",
        201,
        json={"key": "mobile", "name": "Mobile", "conditions": [cond("platform", "in", "ios", "android")]},
    )  # used by experiment targeting only
    call("POST", "/api/v1/layers", 201, json={"key": "checkout-layer", "name": "Checkout"})
    call(
        "POST",
        "/api/v1/experiments",
        201,
        json={
            "key": "checkout-exp",
            "name": "c",
            "variants": TWO,
            "traffic_allocation": 80,
            "targeting": [cond("country", "in", "US", "DE", "FR")],
        },
    )
    call(
        "POST",
        "/api/v1/experiments",
        201,
        json={"key": "layer-a", "name": "a", "variants": THREE, "layer": "checkout-layer", "layer_share": 60},
    )
    call(
        "POST",
        "/api/v1/experiments",
        201,
        json={"key": "layer-b", "name": "b", "variants": TWO, "layer": "checkout-layer", "layer_share": 40},
    )
    call(
        "POST",
        "/api/v1/experiments",
        201,
        json={
            "key": "onboarding",
            "name": "o",
            "variants": THREE,
            "traffic_allocation": 50,
            "targeting": [cond("", "in_segment", "mobile") | {"attribute": "platform"}],
        },
    )
    for key in EXPERIMENTS:
        call("POST", f"/api/v1/experiments/{key}/start")

    strings = [{"key": k, "value": k} for k in ("red", "green", "blue")]
    numbers = [{"key": "none", "value": 0}, {"key": "ten", "value": 10}, {"key": "twenty", "value": 20.5}]
    for key in FLAGS:
        body: dict[str, Any] = {"key": key, "name": key}
        if key == "banner-color":
            body |= {"type": "string", "variations": strings}
        if key == "discount":
            body |= {"type": "number", "variations": numbers}
        call("POST", "/api/v1/feature-flags", 201, json=body)
    put_flag(server, "kill-switch", {"enabled": True, "fallthrough": {"variation": "on"}})
    put_flag(
        server,
        "new-checkout",
        {
            "enabled": True,
            "targets": [
                {"variation": "on", "values": ["user-7", "user-8"]},
                {"variation": "off", "values": ["user-9"]},
            ],
            "rules": [
                {
                    "id": "beta",
                    "conditions": [cond("", "in_segment", "beta") | {"attribute": "email"}],
                    "serve": {"variation": "on"},
                },
                {
                    "id": "us-pro",
                    "conditions": [cond("country", "eq", "US"), cond("plan", "in", "pro", "team")],
                    "serve": {
                        "rollout": {
                            "variations": [
                                {"variation": "on", "weight": 30},
                                {"variation": "off", "weight": 70},
                            ]
                        }
                    },
                },
            ],
            "fallthrough": {
                "rollout": {
                    "variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]
                }
            },
        },
    )
    put_flag(
        server,
        "banner-color",
        {
            "enabled": True,
            "off_variation": "red",
            "prerequisites": [{"flag": "kill-switch", "variation": "on"}],
            "rules": [
                {
                    "id": "eu",
                    "conditions": [cond("", "in_segment", "eu") | {"attribute": "country"}],
                    "serve": {"variation": "blue"},
                },
                {
                    "id": "older",
                    "conditions": [cond("age", "gte", 30), cond("age", "lt", 60)],
                    "serve": {
                        "rollout": {
                            "variations": [
                                {"variation": "red", "weight": 20},
                                {"variation": "green", "weight": 30},
                                {"variation": "blue", "weight": 50},
                            ]
                        }
                    },
                },
            ],
            "fallthrough": {"variation": "green"},
        },
    )
    put_flag(
        server,
        "discount",
        {
            "enabled": True,
            "off_variation": "none",
            "prerequisites": [{"flag": "new-checkout", "variation": "on"}],
            "rules": [
                {"id": "pro", "conditions": [cond("plan", "eq", "pro")], "serve": {"variation": "twenty"}}
            ],
            "fallthrough": {"variation": "ten"},
        },
    )
    put_flag(server, "dark-mode", {"enabled": False})
    put_flag(
        server,
        "checkout-flag",
        {
            "enabled": True,
            "rules": [
                {"id": "vip", "conditions": [cond("vip", "eq", True)], "serve": {"variation": "on"}},
                {
                    "id": "exp",
                    "conditions": [],
                    "serve": exp_serve("checkout-exp", {"control": "off", "treatment": "on"}),
                },
            ],
            "fallthrough": {"variation": "off"},
        },
    )
    put_flag(
        server,
        "layer-flag-a",
        {
            "enabled": True,
            "rules": [
                {
                    "id": "exp",
                    "conditions": [],
                    "serve": exp_serve("layer-a", {"control": "off", "short": "on", "long": "on"}),
                }
            ],
            "fallthrough": {"variation": "off"},
        },
    )
    put_flag(
        server,
        "layer-flag-b",
        {
            "enabled": True,
            "rules": [
                {
                    "id": "exp",
                    "conditions": [],
                    "serve": exp_serve("layer-b", {"control": "off", "treatment": "on"}),
                }
            ],
            "fallthrough": {"variation": "off"},
        },
    )


def users(count: int, seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        attributes: dict[str, Any] = {
            "country": rng.choice(["US", "DE", "FR", "GB", "JP", "IT"]),
            "plan": rng.choice(["free", "free", "pro", "team"]),
            "age": rng.randint(16, 80),
            "platform": rng.choice(["ios", "android", "web"]),
        }
        if rng.random() < 0.1:
            attributes["email"] = f"u{i}@BETA.example"
        elif rng.random() < 0.8:
            attributes["email"] = f"u{i}@mail.example"
        if rng.random() < 0.02:
            attributes["vip"] = True
        if rng.random() < 0.03:
            del attributes["country"]  # absent attributes too
        out.append((f"user-{i}", attributes))
    return out
