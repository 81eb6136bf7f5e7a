"""Safety settings: the guardrails every guarded rollout in an environment gets unless it names its own
(``flag_key`` empty), and per-flag overrides there. Reading needs ``flags:read``; writing the
environment's defaults is for admins, a flag's override for whoever may change the flag. Audited and
announced (``safety.settings_updated``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.config import Settings
from experimently.environments.service import get_environment_by_key
from experimently.errors import NotFound, ValidationFailed, check_version
from experimently.flags import repository as flag_repository
from experimently.kit.clock import now
from experimently.metrics import repository as metric_repository
from experimently.rbac import Permission, require, require_environment
from experimently.safety import repository
from experimently.safety.models import SafetySettings
from experimently.safety.schemas import GuardFields, SafetySettingsRead, SafetySettingsUpdate
from experimently.webhooks.announce import announce

_FIELDS = ("guardrail_metrics", "success_metric", "min_units", "alpha", "action", "max_wait_seconds")


@dataclass(frozen=True)
class Guard:
    """The settings a guarded rollout runs with, every field resolved."""

    guardrail_metrics: list[str]
    success_metric: str | None
    min_units: int
    alpha: float
    action: str
    max_wait_seconds: int | None


def read(row: SafetySettings | None, environment: str, flag_key: str | None) -> SafetySettingsRead:
    if row is None:
        return SafetySettingsRead(
            environment=environment,
            flag_key=flag_key,
            guardrail_metrics=[],
            success_metric=None,
            min_units=None,
            alpha=None,
            action=None,
            max_wait_seconds=None,
            version=0,
            updated_at=None,
        )
    data = {c: getattr(row, c) for c in (*_FIELDS, "environment", "version", "updated_at")}
    return SafetySettingsRead.model_validate(data | {"flag_key": row.flag_key or None})


def _snapshot(row: SafetySettings, environment: str, flag_key: str | None) -> dict[str, Any]:
    return audit.snapshot(SafetySettingsRead, read(row, environment, flag_key))


async def check_metrics(session: AsyncSession, fields: GuardFields) -> None:
    """Each metric named once and defined (422 with the exact path of each problem: a guardrail named
    twice would have every breach of it recorded, announced and acted on twice)."""
    guardrails = fields.guardrail_metrics or []
    paths = [(f"guardrail_metrics[{i}]", key) for i, key in enumerate(guardrails)]
    if fields.success_metric:
        paths.append(("success_metric", fields.success_metric))
    problems = [
        {
            "path": f"guardrail_metrics[{i}]",
            "message": f"'{key}' is named twice (first at guardrail_metrics[{first}])",
        }
        for i, key in enumerate(guardrails)
        if (first := guardrails.index(key)) != i
    ]
    if problems:
        raise ValidationFailed("a guardrail metric is named twice", problems)
    found = await metric_repository.by_keys(session, [key for _, key in paths])
    missing = [{"path": path, "message": f"no such metric: {key}"} for path, key in paths if key not in found]
    if missing:
        raise ValidationFailed("unknown metric", missing)


async def get(
    session: AsyncSession, actor: Actor, environment: str, flag_key: str | None = None
) -> SafetySettingsRead:
    require(actor, Permission.FLAGS_READ)
    await get_environment_by_key(session, environment)
    if flag_key is not None and await flag_repository.get_flag(session, flag_key) is None:
        raise NotFound("flag", flag_key)
    return read(await repository.settings_row(session, environment, flag_key or ""), environment, flag_key)


async def put(
    session: AsyncSession,
    actor: Actor,
    environment: str,
    body: SafetySettingsUpdate,
    flag_key: str | None = None,
) -> SafetySettingsRead:
    await get_environment_by_key(session, environment)
    require_environment(actor, environment)
    if flag_key is None:
        require(actor, Permission.ENVIRONMENTS_WRITE)
        path = "/admin/environments"
    else:
        flag = await flag_repository.get_flag(session, flag_key)
        if flag is None:
            raise NotFound("flag", flag_key)
        require(actor, Permission.FLAGS_WRITE, owner_id=flag.owner_id)
        path = f"/flags/{flag_key}"
    await check_metrics(session, body)
    row = await repository.settings_row(session, environment, flag_key or "", lock=True)
    label = f"{environment}/{flag_key}" if flag_key else environment
    if row is not None:
        if body.version is None:  # only the first write may leave it out (a GET before it answers 0)
            raise ValidationFailed(
                "version is required once the settings exist",
                [{"path": "version", "message": f"required: send the version read (now {row.version})"}],
            )
        check_version("safety_settings", label, row.version, body.version)
        before: dict[str, Any] | None = _snapshot(row, environment, flag_key)
        row.version += 1
    else:
        check_version("safety_settings", label, 0, body.version or 0)
        before = None
        row = SafetySettings(
            environment=environment, flag_key=flag_key or "", version=1, guardrail_metrics=[]
        )
        session.add(row)
    for name in _FIELDS:
        value = getattr(body, name)
        setattr(row, name, value if value is not None or name != "guardrail_metrics" else [])
    row.updated_at = now()
    await session.flush()
    after = _snapshot(row, environment, flag_key)
    audit.record(
        session, actor, "safety.settings_updated", "safety_settings", label, before=before, after=after
    )
    announce(
        session,
        "safety.settings_updated",
        actor,
        "safety_settings",
        label,
        before=before,
        after=after,
        path=path,
    )
    return read(row, environment, flag_key)


async def resolve(
    session: AsyncSession, settings: Settings, environment: str, flag_key: str, body: GuardFields
) -> Guard:
    """Each field from the request, else the flag's override, else the environment's, else the server's
    (no maximum wait for traffic: a held step waits until the traffic comes)."""
    layers: list[Any] = [body]
    for key in (flag_key, ""):
        row = await repository.settings_row(session, environment, key)
        if row is not None:
            layers.append(row)

    def first(name: str) -> Any:
        for layer in layers:
            value = getattr(layer, name)
            if value is not None and value != []:
                return value
        return None

    return Guard(
        guardrail_metrics=list(first("guardrail_metrics") or []),
        success_metric=first("success_metric"),
        min_units=int(first("min_units") or settings.guardrail_min_units),
        alpha=float(first("alpha") or settings.guardrail_alpha),
        action=str(first("action") or "rollback"),
        max_wait_seconds=first("max_wait_seconds"),
    )
