"""``doctor``: is this installation in a state to serve? One line per check, a non-zero exit when any
check fails (warnings do not fail)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import typer

from experimently.cli.common import describe_url, migration_state, settings_for_cli
from experimently.config import Settings
from experimently.encryption.keyring import parse_keys

OK, WARN, FAIL = "ok", "warn", "FAIL"


NOT_CHECKED = "not checked: the database is unreachable"


def _line(status: str, check: str, detail: str) -> None:
    colour = {OK: typer.colors.GREEN, WARN: typer.colors.YELLOW, FAIL: typer.colors.RED}[status]
    typer.echo(typer.style(f"{status:>4}", fg=colour) + f"  {check:<10} {detail}")


async def _database(settings: Settings) -> list[tuple[str, str, str]]:
    from experimently.db import Database

    where = describe_url(settings.effective_database_url)
    db = Database(settings)
    try:
        try:
            revision, head = await asyncio.wait_for(migration_state(db.engine), 10)
        except Exception as exc:
            why = str(exc).splitlines()[0][:200] if str(exc) else ""
            why = why or ("timed out (it does not answer)" if isinstance(exc, TimeoutError) else repr(exc))
            # said, not left out: an operator reading the report must not take silence for a pass
            return [
                (FAIL, "database", f"unreachable at {where}: {why}"),
                (WARN, "schema", NOT_CHECKED),
                (WARN, "secrets", f"stored secrets {NOT_CHECKED}"),
            ]
        found = [(OK, "database", f"reachable at {where}")]
        if revision is None:
            found.append((FAIL, "schema", "not migrated: run 'experimently migrate'"))
        elif revision != head:
            found.append(
                (FAIL, "schema", f"at {revision}, this version needs {head}: run 'experimently migrate'")
            )
        else:
            found.append((OK, "schema", f"migrated ({head})"))
            found.append(await _decryptable(settings, db))
        return found
    finally:
        await db.dispose()


async def _decryptable(settings: Settings, db: Any) -> tuple[str, str, str]:
    """Every stored secret (webhook signing secrets, MFA seeds) opens with this key ring: a database
    restored without its keys otherwise looks healthy while webhooks stop and two-step sign-in fails."""
    from experimently.encryption.keyring import keyring_of
    from experimently.encryption.registry import undecryptable

    async with db.sessions() as session:
        bad = await undecryptable(session, keyring_of(settings))
    if not bad:
        return (OK, "secrets", "every stored secret opens with the key ring")
    where = ", ".join(f"{name}: {count}" for name, count in sorted(bad.items()))
    source = (
        f"{settings.data_dir / 'encryption_keys'} from the backup"
        if settings.is_embedded
        else "EXPERIMENTLY_ENCRYPTION_KEYS as it was"
    )
    return (
        FAIL,
        "secrets",
        f"stored secrets no key of the ring opens ({where}): they were encrypted with keys this "
        f"installation does not have; restore {source} (webhooks cannot sign, two-step sign-in fails)",
    )


async def _redis(settings: Settings) -> list[tuple[str, str, str]]:
    if not settings.redis_url:
        detail = "not configured: in-process cache and event queue (one instance only)"
        return [(OK if settings.is_embedded else WARN, "redis", detail)]
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(settings.redis_url)
    try:
        try:
            await asyncio.wait_for(client.ping(), 5)
            info: dict[str, Any] = await client.info("persistence")
        except Exception as exc:
            hung = isinstance(exc, TimeoutError)
            why = str(exc) or ("timed out (it does not answer)" if hung else repr(exc))
            return [(FAIL, "redis", f"unreachable: {why}")]
        if str(info.get("aof_enabled", "0")) == "1":
            return [(OK, "redis", "reachable; AOF persistence on (queued events survive a restart)")]
        return [
            (
                WARN,
                "redis",
                "reachable, but AOF is off: accepted events still queued in Redis are lost if it restarts "
                "(set appendonly yes)",
            )
        ]
    finally:
        await client.aclose()


def _kept_where(settings: Settings, value: str, file_name: str, variable: str) -> str:
    """Where a secret in use comes from: its file in DATA_DIR (the embedded shape generates it there),
    or the environment, which wins over the file (then the file, if any, is not what to back up)."""
    path = settings.data_dir / file_name
    try:
        in_file = path.read_text(encoding="utf-8").strip() if settings.is_embedded else None
    except OSError:
        in_file = None
    if in_file == value:
        return f"kept in {path}"
    unused = f" ({path} holds another, unused: back up the environment's)" if in_file else ""
    return f"from EXPERIMENTLY_{variable}{unused}"


def _secrets(settings: Settings) -> list[tuple[str, str, str]]:
    found = []
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    found.append(
        (OK, "secret", f"signing secret {_kept_where(settings, secret, 'secret_key', 'SECRET_KEY')}")
    )
    # settings refuse to load without a key ring in the production shape, so one is always here
    ring = settings.encryption_keys.get_secret_value() if settings.encryption_keys else ""
    keys = len(parse_keys(ring)) if ring else 0
    where = _kept_where(settings, ring, "encryption_keys", "ENCRYPTION_KEYS")
    found.append((OK, "encryption", f"key ring of {keys} key(s) {where}; the first encrypts"))
    if "public_url" not in settings.model_fields_set and not settings.is_embedded:
        found.append(
            (
                WARN,
                "public url",
                f"EXPERIMENTLY_PUBLIC_URL not set: links in webhook deliveries and the OIDC redirect use "
                f"{settings.public_url}; set it to the address people open the console at",
            )
        )
    if settings.admin_password is None:
        found.append(
            (
                OK,
                "admin",
                "EXPERIMENTLY_ADMIN_PASSWORD not set: a start on an empty database generates the first "
                "admin's password and shows it once (an existing admin is left as is)",
            )
        )
    return found


async def _clock() -> tuple[str, str, str]:
    """The wall clock is set (a machine that never synced reads a date years back); the skew against
    PostgreSQL is checked separately."""
    wall = time.time()
    if wall < 1_700_000_000:  # before November 2023: the clock was never set
        return (FAIL, "clock", f"system clock reads {time.ctime(wall)}: set it (NTP)")
    return (OK, "clock", f"UTC {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(wall))}; keep it synced (NTP)")


def _skew_from_database(settings: Settings) -> tuple[str, str, str] | None:
    """With PostgreSQL, compare our clock with the database server's (they should agree within a
    second: event timestamps and leases depend on it)."""
    if settings.is_embedded:
        return None

    async def skew() -> float:
        from sqlalchemy import text

        from experimently.db import Database

        db = Database(settings)
        try:
            async with db.engine.connect() as conn:
                before = time.time()
                server = (await conn.execute(text("SELECT extract(epoch from clock_timestamp())"))).scalar()
                after = time.time()
            return float(server or 0) - (before + after) / 2
        finally:
            await db.dispose()

    try:
        seconds = asyncio.run(skew())
    except Exception:
        return None
    status = OK if abs(seconds) < 1 else WARN if abs(seconds) < 30 else FAIL
    return (status, "clock skew", f"{seconds:+.3f} s against the database server")


def doctor() -> None:
    """Check configuration, database (reachable, migrated), Redis (reachable, AOF), secrets, clock."""
    settings = settings_for_cli()
    checks: list[tuple[str, str, str]] = [
        (
            OK,
            "config",
            f"{'embedded' if settings.is_embedded else 'production'} shape, data dir {settings.data_dir}",
        )
    ]

    async def gather() -> list[tuple[str, str, str]]:
        return [*await _database(settings), *await _redis(settings), await _clock()]

    checks += asyncio.run(gather())
    checks += _secrets(settings)
    skew = _skew_from_database(settings)
    if skew:
        checks.append(skew)
    elif not settings.is_embedded:
        checks.append((WARN, "clock skew", NOT_CHECKED))
    for status, check, detail in checks:
        _line(status, check, detail)
    failed = [c for c in checks if c[0] == FAIL]
    if failed:
        typer.echo(f"{len(failed)} check(s) failed")
        raise typer.Exit(1)
    typer.echo("all checks passed")
