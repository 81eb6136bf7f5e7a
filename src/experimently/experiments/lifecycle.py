"""The experiment state machine and what may change in each state.

draft ──schedule──> scheduled ──start──> running <──pause/resume──> paused
  │  <─unschedule──┘                        │                         │
  └────────────start──────────────────────> │ ──complete──> completed <┘
draft / completed ──archive──> archived
"""

from __future__ import annotations

from experimently.errors import InvalidTransition
from experimently.experiments.schemas import Status

TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "schedule": (frozenset({Status.DRAFT}), Status.SCHEDULED),
    "unschedule": (frozenset({Status.SCHEDULED}), Status.DRAFT),
    "start": (frozenset({Status.DRAFT, Status.SCHEDULED}), Status.RUNNING),
    "pause": (frozenset({Status.RUNNING}), Status.PAUSED),
    "resume": (frozenset({Status.PAUSED}), Status.RUNNING),
    "complete": (frozenset({Status.RUNNING, Status.PAUSED}), Status.COMPLETED),
    "archive": (frozenset({Status.DRAFT, Status.COMPLETED}), Status.ARCHIVED),
}

_DESCRIPTIVE = frozenset({"name", "hypothesis", "description", "tags"})
_WHILE_LIVE = _DESCRIPTIVE | {
    "traffic_allocation",  # may only rise: it only adds units
    "secondary_metrics",
    "guardrail_metrics",
    "guardrail_action",
    "planned_end",
    "min_sample_size",
}
_ALL = frozenset(
    _WHILE_LIVE
    | {
        "variants",
        "targeting",
        "bucket_by",
        "environment",
        "layer",
        "layer_share",
        "primary_metric",
        "planned_start",
    }
)
EDITABLE: dict[Status, frozenset[str]] = {
    Status.DRAFT: _ALL,
    Status.SCHEDULED: _ALL,
    Status.RUNNING: frozenset(_WHILE_LIVE),
    Status.PAUSED: frozenset(_WHILE_LIVE | {"variants"}),  # re-weighting only (same keys, same control)
    Status.COMPLETED: _DESCRIPTIVE,
    Status.ARCHIVED: frozenset(),
}


def allowed_actions(status: Status) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def next_status(action: str, status: Status) -> Status:
    """The state ``action`` leads to from ``status``; InvalidTransition (409) listing what is allowed."""
    sources, target = TRANSITIONS[action]
    if status not in sources:
        allowed = allowed_actions(status)
        raise InvalidTransition(
            f"cannot {action} an experiment that is {status}; allowed: {', '.join(allowed) or 'none'}",
            details={"status": str(status), "action": action, "allowed": allowed},
        )
    return target


def frozen_fields(status: Status, changed: set[str]) -> list[str]:
    return sorted(changed - EDITABLE[status])
