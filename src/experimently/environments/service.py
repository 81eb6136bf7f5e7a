"""Environments: the three defaults are created on first start; admins manage the rest."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently import audit
from experimently.actor import SYSTEM, Actor
from experimently.environments import repository
from experimently.environments.models import Environment
from experimently.environments.schemas import EnvironmentCreate, EnvironmentRead, EnvironmentUpdate
from experimently.errors import Conflict, NotFound
from experimently.kit.clock import now
from experimently.rbac import Permission, require

DEFAULTS = (
    ("development", "Development", False),
    ("staging", "Staging", False),
    ("production", "Production", True),
)


def _snapshot(env: Environment) -> dict[str, Any]:
    return audit.snapshot(EnvironmentRead, env)


async def get_environment_by_key(session: AsyncSession, key: str) -> Environment:
    env = await repository.by_key(session, key)
    if env is None:
        raise NotFound("environment", key)
    return env


async def list_environments(session: AsyncSession, actor: Actor) -> list[EnvironmentRead]:
    require(actor, Permission.ENVIRONMENTS_READ)
    rows = await repository.all_environments(session)
    return [EnvironmentRead.model_validate(e) for e in rows]


async def create_environment(session: AsyncSession, actor: Actor, body: EnvironmentCreate) -> EnvironmentRead:
    require(actor, Permission.ENVIRONMENTS_WRITE)
    if await repository.key_exists(session, body.key):
        raise Conflict(f"environment '{body.key}' exists", details={"key": body.key})
    env = Environment(**body.model_dump(), created_at=now())
    session.add(env)
    await session.flush()
    audit.record(session, actor, "environment.created", "environment", env.id, after=_snapshot(env))
    return EnvironmentRead.model_validate(env)


async def update_environment(
    session: AsyncSession, actor: Actor, key: str, body: EnvironmentUpdate
) -> EnvironmentRead:
    require(actor, Permission.ENVIRONMENTS_WRITE)
    env = await get_environment_by_key(session, key)
    before = _snapshot(env)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(env, field, value)
    after = _snapshot(env)
    if after != before:  # a request that changes nothing is no change to record
        audit.record(session, actor, "environment.updated", "environment", env.id, before=before, after=after)
    return EnvironmentRead.model_validate(env)


async def ensure_defaults(session: AsyncSession) -> None:
    if await repository.count(session):
        return
    for key, name, production in DEFAULTS:
        env = Environment(key=key, name=name, description="", is_production=production, created_at=now())
        session.add(env)
        await session.flush()
        audit.record(
            session,
            SYSTEM,
            "environment.created",
            "environment",
            env.id,
            after=_snapshot(env),
            reason="bootstrap",
        )
