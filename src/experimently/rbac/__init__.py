"""The whole permission matrix lives in :mod:`experimently.rbac.permissions`."""

from experimently.rbac.permissions import (
    Permission,
    permissions_for,
    require,
    require_environment,
    require_every_environment,
    require_key_environment,
)

__all__ = [
    "Permission",
    "permissions_for",
    "require",
    "require_environment",
    "require_every_environment",
    "require_key_environment",
]
