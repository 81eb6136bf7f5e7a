"""``experimently`` command line: serve, worker, migrate, users, keys."""

from __future__ import annotations

import asyncio
import gc
import signal
from typing import Annotated

import typer

from experimently.actor import SYSTEM, Role, Scope
from experimently.config import Settings, load_settings

app = typer.Typer(help="Experimently: feature flags, experiments, events, statistics.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")


def _announce(settings: Settings, password: str | None, url: str) -> None:
    typer.echo(f"Experimently is starting on {url}  (API docs: {url}/api/docs)")
    typer.echo(
        f"Database: {'embedded SQLite in ' + str(settings.data_dir) if settings.is_embedded else 'external'}"
    )
    if password:
        typer.echo("")
        typer.echo("First start: an admin account was created. This password is shown ONCE:")
        typer.echo(f"  email:    {settings.admin_email}")
        typer.echo(f"  password: {password}")
        typer.echo("Log in at POST /api/v1/auth/token (or 'Authorize' in the API docs).")
        typer.echo("")


async def _prepare(settings: Settings, apply_migrations: bool) -> str | None:
    from experimently.bootstrap import bootstrap
    from experimently.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        return await bootstrap(runtime, apply_migrations=apply_migrations)
    finally:
        await runtime.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    migrate: Annotated[
        bool | None, typer.Option(help="apply migrations first (default: yes on embedded SQLite)")
    ] = None,
) -> None:
    """Run the API, background jobs and the event writer in one process."""
    import uvicorn

    from experimently.app import create_app

    settings = load_settings()
    password = asyncio.run(_prepare(settings, settings.is_embedded if migrate is None else migrate))
    _announce(settings, password, f"http://{host}:{port}")
    app = create_app(settings)
    # Everything built so far (modules, routes, schemas) lives as long as the process: move it out of
    # the collector's sight, so a full collection scans only what requests create. Without this, a
    # full collection walks ~250,000 startup objects and stalls every request for ~100 ms.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@app.command()
def worker() -> None:
    """Run background jobs and the event writer only (no HTTP)."""
    from experimently.logging_setup import configure_logging
    from experimently.runtime import build_runtime
    from experimently.wiring import register_jobs, register_services, start_services, stop_services

    settings = load_settings(event_writer=True)  # a worker always writes (EVENT_WRITER is for serve)
    configure_logging(settings.log_level, settings.log_json)

    async def main() -> None:
        runtime = build_runtime(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runtime.cache.start()
        register_services(runtime)
        register_jobs(runtime)
        await start_services(runtime)
        runtime.jobs.start()
        typer.echo("worker running; SIGTERM drains and stops")
        await stop.wait()
        await stop_services(runtime)
        await runtime.close()

    asyncio.run(main())


@app.command()
def migrate() -> None:
    """Apply database migrations and create the defaults (environments, first admin)."""
    settings = load_settings()
    password = asyncio.run(_prepare(settings, True))
    typer.echo("database is at the latest schema")
    if password:
        typer.echo(f"First start: admin {settings.admin_email} created; password (shown ONCE): {password}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="login email")],
    role: Annotated[Role, typer.Option(help="admin, developer, analyst or viewer")] = Role.VIEWER,
    password: Annotated[str | None, typer.Option(help="password (generated when omitted)")] = None,
) -> None:
    """Create a user account (audited as the system actor)."""
    from experimently.auth.schemas import UserCreate
    from experimently.auth.service import create_user
    from experimently.runtime import build_runtime

    async def main() -> None:
        runtime = build_runtime(load_settings())
        try:
            async with runtime.db.transaction() as session:
                created = await create_user(
                    session, SYSTEM, UserCreate(email=email, role=role, password=password)
                )
        finally:
            await runtime.close()
        typer.echo(f"created {created.role} {created.email} (id {created.id})")
        if created.password:
            typer.echo(f"password (shown once): {created.password}")

    asyncio.run(main())


@keys_app.command("create")
def keys_create(
    env: Annotated[str, typer.Option(help="environment key, e.g. production")],
    scopes: Annotated[str, typer.Option(help="comma-separated: evaluate,track,manage")] = "evaluate",
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli key",
) -> None:
    """Issue an API key bound to one environment; the key is printed once."""
    from experimently.auth.keys import create_key
    from experimently.auth.schemas import ApiKeyCreate
    from experimently.runtime import build_runtime

    parsed = [Scope(s.strip()) for s in scopes.split(",") if s.strip()]

    async def main() -> None:
        runtime = build_runtime(load_settings())
        try:
            async with runtime.db.transaction() as session:
                created = await create_key(
                    session, SYSTEM, ApiKeyCreate(name=name, environment=env, scopes=parsed)
                )
        finally:
            await runtime.close()
        typer.echo(
            f"API key for '{env}' with scopes {','.join(s.value for s in created.scopes)} (shown once):"
        )
        typer.echo(created.key)

    asyncio.run(main())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
