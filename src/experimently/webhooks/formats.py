"""The two body formats a webhook may ask for.

- ``experimently`` (default): the signed JSON document, ``data`` the event's payload plus
  ``console_url``, the absolute link to the console page (``EXPERIMENTLY_PUBLIC_URL`` + the path);
- ``slack``: a Slack incoming-webhook message (``text`` for notifications and clients without blocks,
  ``blocks`` with a headline, the reason, the changed fields and a link), which Slack, Mattermost,
  Rocket.Chat and Microsoft Teams' Slack-compatible connectors display without glue code.
"""

from __future__ import annotations

import json
from typing import Any

from experimently.kit.clock import iso
from experimently.webhooks.models import DomainEvent

MAX_FIELDS = 8
MAX_VALUE = 120

_TITLES = {
    "flag.killed": ":octagonal_sign: Kill switch",
    "flag.rolled_back": ":rotating_light: Automatic rollback",
    "flag.guardrail_breached": ":warning: Guardrail breached",
    "experiment.guardrail_breached": ":warning: Guardrail breached",
    "flag.rollout_released": ":white_check_mark: Rollout released",
    "flag.rollout_held": ":hourglass: Rollout waiting for traffic",
    "flag.rollout_paused": ":pause_button: Rollout paused",
    "experiment.paused": ":pause_button: Experiment paused",
    "experiment.shipped": ":rocket: Variant shipped",
}


def console_url(public_url: str, event: DomainEvent) -> str | None:
    path = event.payload.get("console_path") if isinstance(event.payload, dict) else None
    if not path:
        path = {"experiment": "/experiments/", "segment": "/segments/"}.get(event.resource_type)
        key = event.payload.get("key") if isinstance(event.payload, dict) else None
        if path is None or not key:
            return None
        path = f"{path}{key}"
    return public_url.rstrip("/") + str(path)


def standard(event: DomainEvent, public_url: str) -> bytes:
    data = dict(event.payload)
    link = console_url(public_url, event)
    if link is not None:
        data["console_url"] = link
    document = {
        "id": event.id,
        "type": event.type,
        "created_at": iso(event.created_at),
        "resource": {"type": event.resource_type, "id": event.resource_id},
        "data": data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def slack(event: DomainEvent, public_url: str) -> bytes:
    payload: dict[str, Any] = event.payload if isinstance(event.payload, dict) else {}
    actor = (payload.get("actor") or {}).get("label") or "system"
    key = payload.get("key") or event.resource_id
    title = _TITLES.get(event.type, event.type)
    headline = f"{title}: {event.resource_type} `{key}` ({event.type}) by {actor}"
    link = console_url(public_url, event)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}}]
    reason = payload.get("reason")
    if reason:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"Reason: {reason}"}})
    diff = payload.get("diff") or {}
    if diff:
        lines = [
            f"• `{name}`: {_short(change.get('before'))} → {_short(change.get('after'))}"
            for name, change in list(diff.items())[:MAX_FIELDS]
        ]
        if len(diff) > MAX_FIELDS:
            lines.append(f"… and {len(diff) - MAX_FIELDS} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if link is not None:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{link}|Open in Experimently>"}]}
        )
    text = headline + (f" — {reason}" if reason else "") + (f" {link}" if link else "")
    return json.dumps({"text": text, "blocks": blocks}, separators=(",", ":"), sort_keys=True).encode()


def render(event: DomainEvent, fmt: str, public_url: str) -> bytes:
    return slack(event, public_url) if fmt == "slack" else standard(event, public_url)
