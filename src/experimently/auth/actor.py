"""Moved to :mod:`experimently.actor` (kept so branches written against the old path still import;
remove once nothing imports it)."""

from experimently.actor import SYSTEM, Actor, ActorKind, Role, Scope

__all__ = ["SYSTEM", "Actor", "ActorKind", "Role", "Scope"]
