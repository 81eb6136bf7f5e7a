"""The permission matrix: one place says who may do what.

- viewer reads product resources;
- analyst reads everything (audit included) and owns analyses and metric definitions;
- developer creates and changes flags, segments, experiments and metrics, but changes only what it owns;
- admin does everything, including users, API keys, environments, webhooks and privacy requests.

API keys act with their scopes: ``evaluate`` and ``track`` reach only the SDK endpoints; ``manage``
acts as a developer owning what the key's creator owns.
"""

from __future__ import annotations

from enum import StrEnum

from experimently.actor import Actor, ActorKind, Role, Scope
from experimently.errors import PermissionDenied


class Permission(StrEnum):
    FLAGS_READ = "flags:read"
    FLAGS_WRITE = "flags:write"
    SEGMENTS_READ = "segments:read"
    SEGMENTS_WRITE = "segments:write"
    EXPERIMENTS_READ = "experiments:read"
    EXPERIMENTS_WRITE = "experiments:write"
    METRICS_READ = "metrics:read"
    METRICS_WRITE = "metrics:write"
    EVENTS_READ = "events:read"
    ANALYSES_READ = "analyses:read"
    ANALYSES_WRITE = "analyses:write"
    ENVIRONMENTS_READ = "environments:read"
    ENVIRONMENTS_WRITE = "environments:write"
    AUDIT_READ = "audit:read"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    PRIVACY_WRITE = "privacy:write"
    WEBHOOKS_MANAGE = "webhooks:manage"
    EVALUATE = "sdk:evaluate"
    TRACK = "sdk:track"
    CLIENT_EVALUATE = "sdk:client-evaluate"


_PRODUCT_READ = frozenset(
    {
        Permission.FLAGS_READ,
        Permission.SEGMENTS_READ,
        Permission.EXPERIMENTS_READ,
        Permission.METRICS_READ,
        Permission.EVENTS_READ,
        Permission.ANALYSES_READ,
        Permission.ENVIRONMENTS_READ,
    }
)
_OWNED_WRITES = frozenset(
    {
        Permission.FLAGS_WRITE,
        Permission.SEGMENTS_WRITE,
        Permission.EXPERIMENTS_WRITE,
        Permission.METRICS_WRITE,
        Permission.ANALYSES_WRITE,
    }
)

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _PRODUCT_READ,
    Role.ANALYST: _PRODUCT_READ
    | {Permission.AUDIT_READ, Permission.ANALYSES_WRITE, Permission.METRICS_WRITE},
    Role.DEVELOPER: _PRODUCT_READ
    | {
        Permission.FLAGS_WRITE,
        Permission.SEGMENTS_WRITE,
        Permission.EXPERIMENTS_WRITE,
        Permission.METRICS_WRITE,
        Permission.ANALYSES_WRITE,
    },
    Role.ADMIN: frozenset(Permission),
}

SCOPE_PERMISSIONS: dict[Scope, frozenset[Permission]] = {
    Scope.EVALUATE: frozenset({Permission.EVALUATE}),
    Scope.TRACK: frozenset({Permission.TRACK}),
    Scope.MANAGE: MATRIX[Role.DEVELOPER],
    Scope.CLIENT: frozenset({Permission.CLIENT_EVALUATE}),
}


def permissions_for(actor: Actor) -> frozenset[Permission]:
    if actor.kind is ActorKind.API_KEY:
        granted: frozenset[Permission] = frozenset()
        for scope in actor.scopes:
            granted |= SCOPE_PERMISSIONS[scope]
        return granted
    return MATRIX[actor.role] if actor.role is not None else frozenset()


def require(actor: Actor, permission: Permission, *, owner_id: str | None = None) -> None:
    """Raise PermissionDenied unless ``actor`` holds ``permission`` (and owns the resource, where
    ownership applies: developers and analysts change only what they own; admins change anything)."""
    if permission not in permissions_for(actor):
        raise PermissionDenied(
            f"{actor.kind} '{actor.label}' lacks permission '{permission}'",
            details={"permission": str(permission)},
        )
    if owner_id is None or actor.role is Role.ADMIN or actor.kind is ActorKind.SYSTEM:
        return
    if permission in _OWNED_WRITES and owner_id != actor.owner:
        raise PermissionDenied(
            "only the owner or an admin may change this resource",
            details={"permission": str(permission), "owner_id": owner_id},
        )


def require_environment(actor: Actor, environment: str) -> None:
    """An API key acts only in the environment it is bound to (people act in every environment)."""
    if actor.kind is ActorKind.API_KEY and actor.environment_key != environment:
        raise PermissionDenied(
            f"this API key is bound to environment '{actor.environment_key}', not '{environment}'",
            details={"key_environment": actor.environment_key, "environment": environment},
        )


def require_every_environment(actor: Actor, what: str) -> None:
    """Changes that reach every environment (variations, archiving) are for people, not for keys bound to
    one environment."""
    if actor.kind is ActorKind.API_KEY:
        raise PermissionDenied(
            f"{what} changes every environment; an API key bound to '{actor.environment_key}' may not",
            details={"key_environment": actor.environment_key},
        )


def require_key_environment(actor: Actor, permission: Permission, scope: str) -> str:
    """SDK endpoints (evaluate, assign, track) are for applications: an API key holding ``permission``,
    whose environment they act in. Returns that environment; 403 for people and other keys."""
    require(actor, permission)
    if actor.environment_key is None:
        raise PermissionDenied(f"this endpoint needs an API key (X-API-Key) with the '{scope}' scope")
    return actor.environment_key


def owned_writes(actor: Actor) -> frozenset[Permission]:
    """Permissions that reach only what ``actor`` owns (none for admins and the system)."""
    if actor.role is Role.ADMIN or actor.kind is ActorKind.SYSTEM:
        return frozenset()
    return _OWNED_WRITES
