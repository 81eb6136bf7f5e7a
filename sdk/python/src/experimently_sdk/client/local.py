"""The ruleset a client evaluates: one immutable snapshot of the SDK payload, swapped whole."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..assignment import CompiledExperiment, ExperimentDef, Layer, compile_experiment
from ..conditions import Errors, parse_conditions
from ..errors import RuleValidationError
from ..evaluate import Evaluator
from ..ruleset import Ruleset

log = logging.getLogger("experimently_sdk")

RUNNING = "running"


@dataclass(frozen=True, slots=True)
class LocalExperiment:
    key: str
    status: str
    bucket_by: str
    server_sticky: bool  # stored assignments may differ from the buckets: ask the server (see docs)
    overrides: Mapping[str, str]  # units whose stored variant differs from the buckets
    payloads: Mapping[str, Any]
    compiled: CompiledExperiment
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: str | None  # the payload's ETag (without quotes); None before any payload
    payload: Mapping[str, Any]
    evaluator: Evaluator
    experiments: Mapping[str, LocalExperiment] = field(default_factory=dict)
    # flag key -> "<rollout id>.<step>" of the guarded rollout being compared (payload
    # ``guarded_rollouts``): the only flags whose exposures the client sends, as the server does
    guarded: Mapping[str, str] = field(default_factory=dict)

    @property
    def segments(self) -> Mapping[str, Any]:
        return self.evaluator.ruleset.segment_matchers


EMPTY = Snapshot(None, {}, Evaluator(Ruleset({}, {})))


def experiment_from_document(doc: Mapping[str, Any]) -> LocalExperiment:
    errors = Errors()
    conditions = parse_conditions(doc.get("targeting") or [], "targeting", errors, lambda *_: None)
    raw_layer = doc.get("layer")
    layer = None
    if isinstance(raw_layer, Mapping):
        layer = Layer(str(raw_layer["salt"]), int(raw_layer["range_start"]), int(raw_layer["range_end"]))
    definition = ExperimentDef(
        key=str(doc["key"]),
        salt=str(doc["salt"]),
        variants=tuple((str(v["key"]), float(v["weight"])) for v in doc["variants"]),
        traffic_allocation=float(doc.get("traffic_allocation", 100.0)),
        conditions=conditions,
        bucket_by=str(doc.get("bucket_by") or "user_id"),
        layer=layer,
    )
    return LocalExperiment(
        key=definition.key,
        status=str(doc.get("status")),
        bucket_by=definition.bucket_by,
        server_sticky=doc.get("assignment") == "server",
        overrides={str(k): str(v) for k, v in (doc.get("overrides") or {}).items()},
        payloads={str(v["key"]): v.get("payload") for v in doc["variants"]},
        compiled=compile_experiment(definition),
        document=doc,
    )


def build_snapshot(version: str | None, payload: Mapping[str, Any], previous: Snapshot) -> Snapshot:
    """Compile ``payload``; flags and experiments that fail to compile are left out (and logged)."""
    ruleset = Ruleset.from_payload(payload, previous=previous.evaluator.ruleset)
    for key, problems in ruleset.errors.items():
        log.warning("experimently: flag %r refused: %s", key, problems)
    experiments: dict[str, LocalExperiment] = {}
    for doc in payload.get("experiments") or []:
        try:
            old = previous.experiments.get(str(doc.get("key")))
            experiments[str(doc["key"])] = (
                old if old is not None and old.document == doc else experiment_from_document(doc)
            )
        except (KeyError, TypeError, ValueError, RuleValidationError) as exc:
            log.warning("experimently: experiment %r refused: %r", doc.get("key"), exc)
    return Snapshot(version, payload, Evaluator(ruleset), experiments, guarded_rollouts(payload))


def guarded_rollouts(payload: Mapping[str, Any]) -> dict[str, str]:
    """The payload's ``guarded_rollouts`` (flag key -> rollout step marker); {} when absent or
    malformed (a server before this field: no flag exposures are sent)."""
    raw = payload.get("guarded_rollouts")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, str) and v}


def changed_keys(old: Snapshot, new: Snapshot) -> set[str]:
    """Flag and experiment keys whose definition differs between two snapshots."""

    def flags(s: Snapshot) -> dict[str, Any]:
        return {str(f.get("key")): f for f in s.payload.get("flags") or []}

    a, b = flags(old), flags(new)
    keys = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    ea = {k: e.document for k, e in old.experiments.items()}
    eb = {k: e.document for k, e in new.experiments.items()}
    keys |= {k for k in ea.keys() | eb.keys() if ea.get(k) != eb.get(k)}
    return keys
