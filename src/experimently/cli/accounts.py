"""``users`` and ``keys``: accounts and API keys, through the auth services (rules, audit, cache)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from experimently.actor import Role, Scope
from experimently.cli.common import EXIT_CONFIG, cli_actor, fail, run, stop, table

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="login email")],
    role: Annotated[Role, typer.Option(help="admin, developer, analyst or viewer")] = Role.VIEWER,
    password: Annotated[str | None, typer.Option(help="password (generated when omitted)")] = None,
) -> None:
    """Create a user account (audited as the CLI actor)."""
    from experimently.auth.schemas import UserCreate
    from experimently.auth.service import create_user

    async def body(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            created = await create_user(
                session, cli_actor(), UserCreate(email=email, role=role, password=password)
            )
        typer.echo(f"created {created.role} {created.email} (id {created.id})")
        if created.password:
            typer.echo(f"password (shown once): {created.password}")

    run(body)


@users_app.command("list")
def users_list() -> None:
    """Every account with its role and state."""
    from experimently.auth.service import list_users

    async def body(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            users = await list_users(session, cli_actor())
        rows = [{**u.model_dump(), "active": "yes" if u.is_active else "no"} for u in users]
        table(rows, ["id", "email", "role", "active", "last_login_at"], title="users")

    run(body)


async def _user_id(session: Any, email: str) -> str:
    from experimently.auth.service import find_user_by_email

    user = await find_user_by_email(session, email.lower())
    if user is None:
        fail(f"no user with email '{email}'")
    return str(user.id)


def _update(email: str, **changes: Any) -> Any:
    from experimently.auth.schemas import UserUpdate
    from experimently.auth.service import update_user

    async def body(runtime: Any) -> Any:
        async with runtime.db.transaction() as session:
            user_id = await _user_id(session, email)
            return await update_user(session, cli_actor(), user_id, UserUpdate(**changes))

    return run(body)


@users_app.command("set-role")
def users_set_role(
    email: Annotated[str, typer.Argument(help="the account's email")],
    role: Annotated[Role, typer.Argument(help="admin, developer, analyst or viewer")],
) -> None:
    """Change an account's role (audited)."""
    user = _update(email, role=role)
    typer.echo(f"updated: {user.email} is now {user.role}")


@users_app.command("deactivate")
def users_deactivate(email: Annotated[str, typer.Argument(help="the account's email")]) -> None:
    """Block an account from logging in and revoke its sessions (audited)."""
    user = _update(email, is_active=False)
    typer.echo(f"deactivated {user.email}; its refresh tokens are revoked")


@users_app.command("activate")
def users_activate(email: Annotated[str, typer.Argument(help="the account's email")]) -> None:
    """Allow a deactivated account to log in again (audited)."""
    user = _update(email, is_active=True)
    typer.echo(f"activated {user.email}")


@users_app.command("reset-password")
def users_reset_password(email: Annotated[str, typer.Argument(help="the account's email")]) -> None:
    """Set a new generated password (shown once) and revoke the account's sessions (audited)."""
    from experimently.auth.service import reset_password

    async def body(runtime: Any) -> str:
        async with runtime.db.transaction() as session:
            return await reset_password(session, cli_actor(), email)

    password = run(body)
    typer.echo(f"password reset for {email.lower()}; new password (shown once):")
    typer.echo(password)


@keys_app.command("create")
def keys_create(
    env: Annotated[str, typer.Option(help="environment key, e.g. production")],
    scopes: Annotated[
        str, typer.Option(help="comma-separated: evaluate,track,manage; or client alone (browser keys)")
    ] = "evaluate",
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli key",
) -> None:
    """Issue an API key bound to one environment; the key is printed once."""
    from experimently.auth.keys import create_key
    from experimently.auth.schemas import ApiKeyCreate

    try:
        parsed = [Scope(s.strip()) for s in scopes.split(",") if s.strip()]
    except ValueError:
        known = ", ".join(scope.value for scope in Scope)
        stop(f"unknown scope in '{scopes}': the scopes are {known} (client alone)", EXIT_CONFIG)

    async def body(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            created = await create_key(
                session, cli_actor(), ApiKeyCreate(name=name, environment=env, scopes=parsed)
            )
        typer.echo(
            f"created API key {created.id} for '{env}' with scopes "
            f"{','.join(s.value for s in created.scopes)}; the key (shown once):"
        )
        typer.echo(created.key)

    run(body)


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="include revoked keys")] = False,
) -> None:
    """API keys (never the secret): id, prefix, environment, scopes, last use."""
    from experimently.auth.keys import list_keys

    async def body(runtime: Any) -> None:
        async with runtime.db.transaction() as session:
            keys = await list_keys(session, cli_actor())
        rows = [k.model_dump() for k in keys if all_keys or k.revoked_at is None]
        table(
            rows,
            ["id", "name", "prefix", "environment", "scopes", "last_used_at", "revoked_at"],
            title="API keys",
        )

    run(body)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id (from 'keys list')")]) -> None:
    """Revoke an API key at once (audited; cached authentications are invalidated)."""
    from experimently.auth.keys import revoke_key

    async def body(runtime: Any) -> Any:
        async with runtime.db.transaction() as session:
            return await revoke_key(session, runtime.cache, cli_actor(), key_id)

    key = run(body)
    typer.echo(f"revoked API key {key.id} ({key.name}, {key.environment})")
