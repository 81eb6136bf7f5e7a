"""Who is acting: a person, an application (API key) or the system itself, with the roles and scopes
that decide what it may do. Shared vocabulary below both ``auth`` (which builds actors) and ``rbac``
(which checks them), so neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ActorKind(StrEnum):
    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


class Role(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    ANALYST = "analyst"
    VIEWER = "viewer"


class Scope(StrEnum):
    EVALUATE = "evaluate"
    TRACK = "track"
    MANAGE = "manage"
    CLIENT = "client"  # browser/mobile keys: only POST /sdk/evaluate for client-visible flags


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    label: str
    role: Role | None = None
    scopes: frozenset[Scope] = field(default_factory=frozenset)
    environment_id: str | None = None
    environment_key: str | None = None
    owner_id: str | None = None  # whose resources an API key acts for (its creator)
    session_id: str | None = None  # a person's login session (refresh family), from the access token

    @property
    def owner(self) -> str:
        """The user id that owns what this actor creates."""
        return self.owner_id or self.id


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", label="system", role=Role.ADMIN)
