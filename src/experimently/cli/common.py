"""What every command shares: settings that never create an empty ``./data`` by accident, a runtime
for the length of one command, the actor the CLI acts as, and one-line errors instead of tracebacks.

A command body is an ``async def`` taking a :class:`~experimently.runtime.Runtime`; :func:`run` checks
the database is reachable and migrated, runs it, and turns every known failure into one line on stderr
and a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from experimently.actor import Actor, ActorKind, Role
from experimently.config import Settings

T = TypeVar("T")

# Exit codes: 1 a refused operation (not found, conflict, invalid input), 2 usage or configuration,
# 3 the database or Redis unreachable, 4 the database not migrated.
EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_MIGRATED = 4


class CliError(Exception):
    """A failure with a message meant for the operator, and the exit code to leave with."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Refuse inside a command body run by :func:`run` or :func:`guard` (which print it)."""
    raise CliError(message, code)


def stop(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """Refuse anywhere else (checking arguments before anything runs): one line, then exit."""
    echo_error(message)
    raise typer.Exit(code)


def cli_actor() -> Actor:
    """Whoever runs the CLI on the server has the keys to it (the database URL and secret): they act as
    an admin, recorded in the audit log as ``cli:<login name>``."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Actor(kind=ActorKind.SYSTEM, id="cli", label=f"cli:{who}", role=Role.ADMIN)


def database_file(settings: Settings) -> Path | None:
    """The embedded SQLite file, or None with an external database."""
    if not settings.is_embedded:
        return None
    url = settings.effective_database_url
    path = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def settings_for_cli(*, create: bool = False, **overrides: Any) -> Settings:
    """Load the settings. Unless ``create`` (``serve``, ``migrate``), an embedded database must already
    exist: a command run from the wrong folder says so instead of creating an empty ``./data``.
    A problem is one line on stderr and exit code 2."""
    try:
        return _settings(create, overrides)
    except CliError as error:
        echo_error(error.message)
        raise typer.Exit(error.code) from None


def _settings(create: bool, overrides: dict[str, Any]) -> Settings:
    try:
        settings = Settings(**overrides)
        if not create:
            db_file = database_file(settings)
            if db_file is not None and not db_file.exists():
                fail(
                    f"no database at {db_file}: run this from the folder the server runs in, set "
                    "EXPERIMENTLY_DATA_DIR (or EXPERIMENTLY_DATABASE_URL), or create one with "
                    "'experimently migrate'",
                    EXIT_CONFIG,
                )
        return settings.resolve()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        fail(f"configuration: EXPERIMENTLY_{where.upper()}: {message}", EXIT_CONFIG)
    except ValueError as exc:
        fail(f"configuration: {exc}", EXIT_CONFIG)


def describe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def explain(exc: BaseException, settings: Settings | None) -> CliError | None:
    """Turn a known failure into a one-line message; None for a real bug (a traceback is right then)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    from experimently.errors import AppError

    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "input"
        hint = ""
        if first.get("type") == "string_type" and isinstance(first.get("input"), bool):
            # YAML 1.1 reads unquoted on/off/yes/no as booleans: a variation keyed `on` becomes True
            hint = f" (got {str(first['input']).lower()}: quote on/off/yes/no in YAML, e.g. key: 'on')"
        return CliError(f"invalid {exc.title}: {where}: {first.get('msg')}{hint}", EXIT_REFUSED)
    if isinstance(exc, AppError):
        detail = ""
        details = getattr(exc, "details", None)
        if isinstance(details, dict) and details.get("errors"):
            detail = "; " + "; ".join(
                f"{e.get('path')}: {e.get('message')}" for e in details["errors"] if isinstance(e, dict)
            )
        return CliError(f"{exc.message}{detail}", EXIT_REFUSED)
    where = describe_url(settings.effective_database_url) if settings else "the database"
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        text = str(exc.orig) if getattr(exc, "orig", None) is not None else str(exc)
        if "no such table" in text or ("does not exist" in text and "relation" in text):
            return CliError(
                f"the database at {where} is not migrated: run 'experimently migrate'", EXIT_NOT_MIGRATED
            )
        return CliError(f"database unreachable at {where}: {text.splitlines()[0]}", EXIT_UNREACHABLE)
    if isinstance(exc, BrokenPipeError):  # our output's reader went away: cli.main's to handle
        return None
    if isinstance(exc, ConnectionError | OSError | TimeoutError):
        return CliError(f"cannot connect ({where}): {exc}", EXIT_UNREACHABLE)
    redis_error = _redis_error(exc)
    if redis_error:
        return CliError(f"Redis unreachable: {exc}", EXIT_UNREACHABLE)
    return None


def _redis_error(exc: BaseException) -> bool:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


async def migration_state(engine: Any) -> tuple[str | None, str]:
    """(the database's revision or None, the code's head revision).

    Read without Alembic (a third of a second of imports, on every ``serve``) when the migration files
    have one head (:func:`experimently.migrate.script_heads`) and the database one revision; otherwise
    Alembic answers. An unreachable database raises, as it does through Alembic."""
    from experimently.migrate import script_heads, version_rows

    heads = script_heads()
    async with engine.connect() as conn:
        rows = await conn.run_sync(version_rows)
    if heads is not None and len(heads) == 1 and (rows is None or len(rows) <= 1):
        return (rows[0] if rows else None), next(iter(heads))
    return await _alembic_migration_state(engine)


async def _alembic_migration_state(engine: Any) -> tuple[str | None, str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from experimently.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    head = script.get_current_head() or ""

    def current(connection: Any) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        revision = await conn.run_sync(current)
    return revision, head


async def require_migrated(engine: Any, where: str) -> None:
    revision, head = await migration_state(engine)
    if revision is None:
        fail(f"the database at {where} is not migrated: run 'experimently migrate'", EXIT_NOT_MIGRATED)
    if revision != head:
        fail(
            f"the database at {where} is at revision {revision}, this version needs {head}: "
            "run 'experimently migrate'",
            EXIT_NOT_MIGRATED,
        )


def run(body: Callable[[Any], Awaitable[T]], *, check_schema: bool = True) -> T:
    """Run ``body(runtime)`` with a runtime built from the settings; exit with one line on failure."""
    settings: Settings | None = None
    try:
        settings = settings_for_cli()

        async def main() -> T:
            from experimently.runtime import build_runtime

            assert settings is not None
            runtime = build_runtime(settings)
            try:
                if check_schema:
                    await require_migrated(runtime.db.engine, describe_url(settings.effective_database_url))
                return await body(runtime)
            finally:
                await runtime.close()

        return asyncio.run(main())
    except typer.Exit:
        raise
    except Exception as exc:
        error = explain(exc, settings)
        if error is None:
            raise
        echo_error(error.message)
        raise typer.Exit(error.code) from None


def guard(fn: Callable[[], T], settings: Settings | None = None) -> T:
    """Run a synchronous command body with the same one-line error handling as :func:`run`."""
    try:
        return fn()
    except typer.Exit:
        raise
    except Exception as exc:
        error = explain(exc, settings)
        if error is None:
            raise
        echo_error(error.message)
        raise typer.Exit(error.code) from None


def echo_error(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)


def table(rows: list[dict[str, Any]], columns: list[str], *, title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines when piped (easy to grep and cut)."""
    import sys

    if not sys.stdout.isatty():
        typer.echo("\t".join(columns))
        for row in rows:
            typer.echo("\t".join(_cell(row.get(c)) for c in columns))
        return
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title)
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*(_cell(row.get(c)) for c in columns))
    Console().print(out)
    if not rows:
        typer.echo("(none)")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    return str(value)
