"""Turning stored flags into the engine's per-environment documents, and engine errors into 422s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from experimently.errors import ValidationFailed
from experimently.flags.models import Flag
from experimently.segments.models import Segment
from experimently_sdk import RuleValidationError, validate_flag

TOP_LEVEL = ("key", "type", "variations", "salt", "version")


def default_environment(variations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A new flag is off everywhere; serves the last variation when off and the first when on."""
    first, last = variations[0]["key"], variations[-1]["key"]
    return {
        "enabled": False,
        "off_variation": last,
        "targets": [],
        "rules": [],
        "fallthrough": {"variation": first},
        "prerequisites": [],
        "bucket_by": "user_id",
    }


def default_variations(flag_type: str) -> list[dict[str, Any]]:
    if flag_type == "boolean":
        return [{"key": "on", "value": True}, {"key": "off", "value": False}]
    raise ValidationFailed(
        "variations are required for non-boolean flags",
        [{"path": "variations", "message": "required for this flag type"}],
    )


def complete_environment(
    config: Mapping[str, Any], variations: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    merged = default_environment(variations)
    merged.update({k: v for k, v in config.items() if v is not None})
    return merged


def engine_document(flag: Flag, env_key: str) -> dict[str, Any]:
    """The flag as the engine (and every SDK) sees it in one environment."""
    config = flag.environments.get(env_key) or default_environment(flag.variations)
    return {
        "key": flag.key,
        "type": flag.type,
        "version": flag.version,
        "salt": flag.salt,
        "variations": [{"key": v["key"], "value": v["value"]} for v in flag.variations],
        **config,
    }


def segment_document(segment: Segment) -> dict[str, Any]:
    return {"key": segment.key, "conditions": segment.conditions}


def validate_documents(
    flag: Flag,
    env_keys: Iterable[str],
    segments: Mapping[str, Mapping[str, Any]],
    others: Mapping[str, Sequence[Flag]],
) -> None:
    """Run the engine's save-time validation for every environment; one 422 with every path."""
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for env_key in env_keys:
        document = engine_document(flag, env_key)
        flags = {other.key: engine_document(other, env_key) for other in others.get(env_key, ())}
        flags[flag.key] = document
        try:
            validate_flag(document, segments=segments, flags=flags)
        except RuleValidationError as exc:
            for path, message in exc.errors:
                full = (
                    path
                    if path.split("[")[0].split(".")[0] in TOP_LEVEL
                    else f"environments.{env_key}.{path}"
                )
                if full not in seen:
                    seen.add(full)
                    errors.append({"path": full.rstrip("."), "message": message})
    if errors:
        raise ValidationFailed("flag failed validation", errors)


def experiment_keys(flag_document: Mapping[str, Any]) -> list[str]:
    """Experiments a flag document hands decisions to (rules and fallthrough)."""
    serves = [rule.get("serve") or {} for rule in flag_document.get("rules", [])]
    serves.append(flag_document.get("fallthrough") or {})
    return [str(s["experiment"]["key"]) for s in serves if isinstance(s.get("experiment"), Mapping)]
