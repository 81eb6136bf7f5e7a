"""Flag rules: create, read, update with optimistic versions, per-environment targeting, kill switch,
archive. Every change is checked by the engine, audited, and invalidates every instance's cache."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import Actor
from experimently.cache import Cache
from experimently.environments import repository as environment_repository
from experimently.environments.service import get_environment_by_key
from experimently.errors import Conflict, NotFound, ValidationFailed, check_version
from experimently.flags import repository
from experimently.flags.documents import (
    complete_environment,
    default_environment,
    default_variations,
    segment_document,
    validate_documents,
)
from experimently.flags.handoff import ExperimentHandoff
from experimently.flags.models import Flag
from experimently.flags.schemas import (
    EnvironmentConfig,
    EnvironmentUpdate,
    FlagCreate,
    FlagRead,
    FlagUpdate,
    Variation,
)
from experimently.kit.clock import now
from experimently.rbac import Permission, require, require_environment, require_every_environment
from experimently.safety import repository as safety_repository
from experimently.segments import repository as segment_repository
from experimently.webhooks.announce import announce

RULESET_NAMESPACE = "ruleset"
# the webhook event of each audited flag change (anything else announces ``flag.updated``)
FLAG_EVENTS = {
    "flag.enabled": "flag.enabled",
    "flag.killed": "flag.killed",
    "flag.archived": "flag.archived",
    "flag.rollout_step_applied": "flag.rollout_step_applied",
    "flag.rolled_back": "flag.rolled_back",
    "flag.owner_changed": "flag.owner_changed",
    "flag.experiment_shipped": "flag.updated",
}


def snapshot(flag: Flag) -> dict[str, Any]:
    return audit.snapshot(FlagRead, flag)


def _variation_documents(variations: list[Variation]) -> list[dict[str, Any]]:
    """Optional descriptive fields are left out when empty; ``value`` is always kept (null included, so
    the engine can refuse it for the flag's type)."""
    return [
        {k: v for k, v in item.model_dump().items() if v is not None or k == "value"} for item in variations
    ]


async def environment_keys(session: AsyncSession) -> list[str]:
    return await environment_repository.all_keys(session)


async def _check(
    session: AsyncSession, flag: Flag, envs: list[str], experiments: ExperimentHandoff | None = None
) -> None:
    segments = {s.key: segment_document(s) for s in await segment_repository.all_segments(session)}
    others = [f for f in await repository.all_flags(session) if f.key != flag.key]
    validate_documents(flag, envs, segments, dict.fromkeys(envs, others))
    if experiments is not None:
        await _check_experiments(session, flag, envs, experiments)


async def _check_experiments(
    session: AsyncSession, flag: Flag, envs: list[str], experiments: ExperimentHandoff
) -> None:
    """A rule (or fallthrough) that serves an experiment names one that exists and maps every one of
    its variants, and nothing else, to a variation. An unknown key would never match; an unmapped
    variant would assign and expose its units and then let them fall through to the next rule, so
    the experiment would count them under a variant they never saw."""
    serves = [
        (path, block)
        for env in envs
        for _, path, holder, field in _slots(flag.environments.get(env) or {}, env)
        if (block := _experiment_block(holder.get(field))) is not None
    ]
    if not serves:
        return
    known = await experiments.experiment_variants(session)
    problems: list[dict[str, str]] = []
    for path, serve in serves:
        key = str(serve.get("key"))
        variants = known.get(key)
        if variants is None:
            problems.append({"path": f"{path}.experiment.key", "message": f"no experiment '{key}'"})
            continue
        missing, extra = _mismatch(serve, variants)
        for variant in extra:
            message = f"experiment '{key}' has no variant '{variant}' (it has {', '.join(variants)})"
            problems.append({"path": f"{path}.experiment.variations.{variant}", "message": message})
        if missing:
            message = (
                f"maps no variation to {', '.join(repr(v) for v in missing)} of experiment '{key}' (a unit "
                "assigned to it would be exposed, then served by the next rule)"
            )
            problems.append({"path": f"{path}.experiment.variations", "message": message})
    if problems:
        raise ValidationFailed("flag failed validation", problems)


async def _envs_of(session: AsyncSession, configs: dict[str, EnvironmentConfig]) -> list[str]:
    known = await environment_keys(session)
    unknown = [k for k in configs if k not in known]
    if unknown:
        raise ValidationFailed(
            "unknown environment",
            [{"path": f"environments.{k}", "message": "no such environment"} for k in unknown],
        )
    return known


async def get(session: AsyncSession, actor: Actor, key: str) -> Flag:
    require(actor, Permission.FLAGS_READ)
    flag = await repository.get_flag(session, key)
    if flag is None:
        raise NotFound("flag", key)
    return flag


async def create(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    body: FlagCreate,
    experiments: ExperimentHandoff | None = None,
) -> Flag:
    require(actor, Permission.FLAGS_WRITE)
    if await repository.get_flag(session, body.key) is not None:
        raise Conflict(f"flag '{body.key}' exists", details={"key": body.key})
    variations = _variation_documents(body.variations) if body.variations else default_variations(body.type)
    envs = await _envs_of(session, body.environments)
    for env in body.environments:
        require_environment(actor, env)
    environments = {
        env: complete_environment(body.environments[env].model_dump(), variations)
        if env in body.environments
        else default_environment(variations)
        for env in envs
    }
    moment = now()
    flag = Flag(
        key=body.key,
        name=body.name,
        description=body.description,
        tags=body.tags,
        type=body.type,
        variations=variations,
        environments=environments,
        salt=body.salt or body.key,
        owner_id=actor.owner,
        archived=False,
        version=1,
        created_at=moment,
        updated_at=moment,
    )
    await _check(session, flag, envs, experiments)
    session.add(flag)
    await session.flush()
    audit.record(session, actor, "flag.created", "flag", flag.key, after=snapshot(flag))
    announce(
        session, "flag.created", actor, "flag", flag.key, after=snapshot(flag), path=console_path(flag.key)
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return flag


def console_path(key: str) -> str:
    return f"/flags/{key}"


async def _load_for_write(
    session: AsyncSession, actor: Actor, key: str, *, archived_ok: bool = False, owned: bool = True
) -> Flag:
    """The flag, locked, for a change ``actor`` may make: flags:write, on a flag it owns unless not
    ``owned`` (the kill switch's incident access), and not archived unless ``archived_ok``."""
    flag = await repository.get_flag(session, key, for_update=True)
    if flag is None:
        raise NotFound("flag", key)
    require(actor, Permission.FLAGS_WRITE, owner_id=flag.owner_id if owned else None)
    if flag.archived and not archived_ok:
        raise _archived(key)
    return flag


def _archived(key: str) -> Conflict:
    """An archived flag is served to nobody (evaluations answer FLAG_NOT_FOUND): a change to its
    targeting or its switch would be recorded and announced while changing nothing anyone sees."""
    return Conflict(
        f"flag '{key}' is archived: it is served to nobody, so its targeting and switch no longer change",
        details={"archived": True},
    )


async def _commit_change(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    flag: Flag,
    before: dict[str, Any],
    action: str,
    reason: str | None = None,
) -> Flag:
    flag.version += 1
    flag.updated_at = now()
    await session.flush()
    after = snapshot(flag)
    audit.record(session, actor, action, "flag", flag.key, before=before, after=after, reason=reason)
    announce(
        session,
        FLAG_EVENTS.get(action, "flag.updated"),
        actor,
        "flag",
        flag.key,
        before=before,
        after=after,
        reason=reason,
        path=console_path(flag.key),
        extra={"action": action},
    )
    cache.invalidate_on_commit(session, RULESET_NAMESPACE)
    return flag


async def update(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    key: str,
    body: FlagUpdate,
    experiments: ExperimentHandoff | None = None,
) -> Flag:
    flag = await _load_for_write(session, actor, key)
    check_version("flag", flag.key, flag.version, body.version)
    for env in body.environments or {}:
        require_environment(actor, env)
    if body.variations is not None:
        require_every_environment(actor, "variations")
    before = snapshot(flag)
    fields = body.model_dump(exclude_unset=True, exclude={"version", "environments", "variations"})
    for field, value in fields.items():
        if value is not None:
            setattr(flag, field, sorted(set(value)) if field == "tags" else value)
    if body.variations is not None:
        flag.variations = _variation_documents(body.variations)
    envs = await _envs_of(session, body.environments or {})
    if body.environments:
        merged = copy.deepcopy(flag.environments)
        for env, config in body.environments.items():
            merged[env] = complete_environment(config.model_dump(), flag.variations)
        flag.environments = merged
    await _check(session, flag, envs, experiments)
    return await _commit_change(session, cache, actor, flag, before, "flag.updated")


async def update_environment(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    key: str,
    env: str,
    body: EnvironmentUpdate,
    experiments: ExperimentHandoff | None = None,
) -> Flag:
    await get_environment_by_key(session, env)
    require_environment(actor, env)
    flag = await _load_for_write(session, actor, key)
    check_version("flag", flag.key, flag.version, body.version)
    before = snapshot(flag)
    merged = copy.deepcopy(flag.environments)
    merged[env] = complete_environment(body.model_dump(exclude={"version"}), flag.variations)
    flag.environments = merged
    try:
        await _check(session, flag, [env], experiments)
    except ValidationFailed as exc:
        raise _relative_to(exc, f"environments.{env}.") from None
    return await _commit_change(session, cache, actor, flag, before, "flag.environment_updated")


def _relative_to(exc: ValidationFailed, prefix: str) -> ValidationFailed:
    """The same refusal with its paths relative to a body that is one environment's targeting
    (``rules[0]...``, as the schema's own errors for that body); a path outside it (another flag's,
    the flag's variations) keeps its full form."""
    errors = [
        {**error, "path": error["path"].removeprefix(prefix)} for error in exc.details.get("errors", [])
    ]
    return ValidationFailed(exc.message, errors)


async def set_enabled(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, env: str, enabled: bool, reason: str | None
) -> Flag:
    """The kill switch (``enabled=False``) and its reverse. No version needed: it must always work.

    Incident access: any actor allowed to write flags (a developer) may kill any flag in an environment
    it can reach, owner or not, with a reason (mandatory for everyone); enabling stays with the owner
    and admins."""
    await get_environment_by_key(session, env)
    require_environment(actor, env)
    if enabled:
        flag = await _load_for_write(session, actor, key)
    else:
        if not (reason or "").strip():
            raise ValidationFailed(
                "the kill switch needs a reason", [{"path": "reason", "message": "required"}]
            )
        flag = await _load_for_write(session, actor, key, owned=False)  # incident access: any owner
    current = flag.environments.get(env)
    if current is not None and bool(current.get("enabled")) is enabled:
        # already so (a second engineer on the same incident): nothing changes, so nothing is recorded,
        # announced twice in the channel, or versioned
        return flag
    before = snapshot(flag)
    merged = copy.deepcopy(flag.environments)
    merged.setdefault(env, default_environment(flag.variations))["enabled"] = enabled
    flag.environments = merged
    action = "flag.enabled" if enabled else "flag.killed"
    return await _commit_change(session, cache, actor, flag, before, action, reason)


async def archive(session: AsyncSession, cache: Cache, actor: Actor, key: str) -> Flag:
    # a key without flags:write hears that first
    flag = await _load_for_write(session, actor, key, archived_ok=True)
    if flag.archived:
        return flag  # archived already: nothing to record
    require_every_environment(actor, "archiving")
    dependants = [
        f.key
        for f in await repository.all_flags(session)
        if f.key != key
        and any(p.get("flag") == key for c in f.environments.values() for p in c.get("prerequisites", []))
    ]
    if dependants:
        raise Conflict(f"flag '{key}' is a prerequisite of other flags", details={"used_by": dependants})
    await _check_no_rollout(session, flag)
    before = snapshot(flag)
    flag.archived = True
    return await _commit_change(session, cache, actor, flag, before, "flag.archived")


async def _check_no_rollout(session: AsyncSession, flag: Flag) -> None:
    """Archiving is refused (409) while a guarded rollout or a rollout schedule of the flag is under way:
    an archived flag is served to nobody, so the rollout would wait for a step nobody is served and the
    schedule set percentages of nothing. Each is named, with what to cancel (a guarded rollout's own
    schedule goes with it)."""
    rollouts = await safety_repository.rollouts_under_way_of_flag(session, flag.id)
    owned = {r.schedule_id for r in rollouts}
    schedules = [
        s
        for s in await repository.schedules_for(session, flag.id)
        if s.status in ("active", "paused") and s.id not in owned
    ]
    under_way = [
        {"type": "guarded_rollout", "id": r.id, "environment": r.environment, "status": r.status}
        for r in rollouts
    ] + [
        {"type": "rollout_schedule", "id": s.id, "environment": s.environment, "status": s.status}
        for s in schedules
    ]
    if under_way:
        first = under_way[0]
        what = "guarded rollout" if first["type"] == "guarded_rollout" else "rollout schedule"
        raise Conflict(
            f"flag '{flag.key}' has a rollout under way: cancel {what} {first['id']} "
            f"({first['environment']}) first",
            details={"under_way": under_way},
        )


async def list_flags(
    session: AsyncSession,
    actor: Actor,
    *,
    tag: str | None,
    archived: bool | None,
    text: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Flag], int]:
    require(actor, Permission.FLAGS_READ)
    rows, total = await repository.list_flags(
        session, tag=tag, archived=archived, text=text, limit=limit, offset=offset
    )
    return list(rows), total


async def transfer_ownership(
    session: AsyncSession, cache: Cache, actor: Actor, key: str, owner_id: str
) -> Flag:
    """Hand the flag to another user (its owner or an admin may); audited and announced."""
    from experimently.auth.models import User  # the auth domain's table, read only

    flag = await _load_for_write(session, actor, key, archived_ok=True)
    require_every_environment(actor, "ownership")
    user = await session.get(User, owner_id)
    if user is None or not user.is_active:
        raise ValidationFailed(
            "no such active user", [{"path": "owner_id", "message": "must be an active user's id"}]
        )
    before = snapshot(flag)
    flag.owner_id = owner_id
    return await _commit_change(session, cache, actor, flag, before, "flag.owner_changed")


def _slots(config: dict[str, Any], environment: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """Every serve of an environment's config as ``(place, path, holder, field)``: ``holder[field]`` is
    the serve; ``place`` the rule's id (or ``"fallthrough"``), ``path`` where an error points."""
    slots = [
        (str(rule.get("id") or f"rules[{i}]"), f"environments.{environment}.rules[{i}].serve", rule, "serve")
        for i, rule in enumerate(config.get("rules", []))
    ]
    if config.get("fallthrough") is not None:
        slots.append(("fallthrough", f"environments.{environment}.fallthrough", config, "fallthrough"))
    return slots


def _experiment_block(serve: Any) -> dict[str, Any] | None:
    """The ``experiment`` block (``{"key", "variations"}``) of a serve that hands off to an experiment."""
    block = serve.get("experiment") if isinstance(serve, dict) else None
    return block if isinstance(block, dict) else None


def _experiment_of(serve: Any, experiment_key: str) -> dict[str, Any] | None:
    """:func:`_experiment_block`, for a serve that hands off to ``experiment_key`` only."""
    block = _experiment_block(serve)
    return block if block is not None and block.get("key") == experiment_key else None


def _mismatch(block: dict[str, Any], variants: list[str]) -> tuple[list[str], list[str]]:
    """The experiment's ``variants`` an experiment block maps no variation to, and the keys it maps
    that are not among them."""
    mapped = block.get("variations") or {}
    return [v for v in variants if v not in mapped], [v for v in mapped if v not in variants]


async def unmapped_variants(
    session: AsyncSession, experiment_key: str, environment: str, variants: list[str]
) -> list[dict[str, str]]:
    """Every rule (or fallthrough) of ``environment`` that serves ``experiment_key`` but does not map
    exactly ``variants``, as ``{"flag", "rule", "path", "message"}`` (``rule``: its id or
    ``fallthrough``; ``path``: ``flags.<key>.environments...``). An experiment started with such a
    rule would expose units of an unmapped variant and then serve them the rule after it. Rules
    elsewhere never reach the experiment, which assigns in its own environment only."""
    problems: list[dict[str, str]] = []
    for flag in await repository.all_flags(session):
        for place, path, holder, field in _slots(flag.environments.get(environment) or {}, environment):
            block = _experiment_of(holder.get(field), experiment_key)
            if block is None:
                continue
            missing, extra = _mismatch(block, variants)
            parts = [f"maps no variation to {', '.join(repr(v) for v in missing)}"] if missing else []
            parts += (
                [f"maps {', '.join(repr(v) for v in extra)}, not a variant of the experiment"]
                if extra
                else []
            )
            if parts:
                problems.append(
                    {
                        "flag": flag.key,
                        "rule": place,
                        "path": f"flags.{flag.key}.{path}.experiment.variations",
                        "message": "; ".join(parts),
                    }
                )
    return problems


async def ship_experiment(
    session: AsyncSession,
    cache: Cache,
    actor: Actor,
    experiment_key: str,
    environment: str,
    variant: str,
    reason: str,
) -> list[dict[str, Any]]:
    """Ship an experiment's variant through the flags that serve it: in ``environment``, every rule
    (and fallthrough) that hands its decision to ``experiment_key`` serves, from now on, the variation
    it mapped ``variant`` to, to exactly the users it matched; its id, conditions and place are kept.
    One new version per flag changed, audited ``flag.experiment_shipped`` with the reason, announced as
    ``flag.updated``. A rule that maps no variation to ``variant`` refuses the whole change (422, every
    such place named), as does a flag the actor may not change (403): the caller's transaction then
    changes nothing. Returns ``{"key", "version", "places"}`` per flag changed (``places``:
    ``{"rule", "variation"}`` per serve changed, ``rule`` its id or ``"fallthrough"``)."""
    changed: list[dict[str, Any]] = []
    problems: list[dict[str, str]] = []
    for candidate in await repository.all_flags(session):
        found = candidate.environments.get(environment) or {}
        if not any(_experiment_of(h.get(f), experiment_key) for _, _, h, f in _slots(found, environment)):
            continue
        flag = await _load_for_write(session, actor, candidate.key, archived_ok=True)
        require_environment(actor, environment)
        config = copy.deepcopy(flag.environments.get(environment) or {})
        places: list[dict[str, str]] = []
        for place, path, holder, field in _slots(config, environment):
            experiment = _experiment_of(holder.get(field), experiment_key)
            if experiment is None:
                continue
            variation = (experiment.get("variations") or {}).get(variant)
            if variation is None:
                problems.append(
                    {
                        "path": f"flags.{flag.key}.{path}",
                        "message": f"maps no variation to variant '{variant}'",
                    }
                )
                continue
            holder[field] = {"variation": variation}
            places.append({"rule": place, "variation": str(variation)})
        if not places:
            continue
        before = snapshot(flag)
        flag.environments = {**flag.environments, environment: config}
        await _check(session, flag, [environment])
        await _commit_change(session, cache, actor, flag, before, "flag.experiment_shipped", reason)
        changed.append({"key": flag.key, "version": flag.version, "places": places})
    if problems:
        raise ValidationFailed(
            f"a flag rule serving experiment '{experiment_key}' has no variation for '{variant}'", problems
        )
    return changed
