"""First start: schema (embedded shape), default environments, the admin account."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from experimently import migrate
from experimently.auth.service import ensure_admin
from experimently.encryption.registry import encrypt_plaintext
from experimently.environments.service import ensure_defaults
from experimently.runtime import Runtime


async def bootstrap(runtime: Runtime, *, apply_migrations: bool) -> str | None:
    """Returns the generated admin password when one was created (to be printed once)."""
    if apply_migrations:
        await migrate.upgrade(runtime.db.engine)
    await encrypt_plaintext(runtime.db, runtime.keyring)  # webhook secrets stored before 0014
    settings = runtime.settings
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    for attempt in range(3):
        try:
            async with runtime.db.transaction() as session:
                await ensure_defaults(session)
                return await ensure_admin(session, settings.admin_email, password)
        except IntegrityError:  # another instance bootstrapped at the same moment: its rows stand
            if attempt == 2:
                raise
    return None
