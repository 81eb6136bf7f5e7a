"""``experimently encryption``: generate a key, re-encrypt everything under the newest key.

A self-contained command group: ``cli.py`` only adds it (``app.add_typer(encryption_app, ...)``)."""

from __future__ import annotations

import asyncio

import typer

encryption_app = typer.Typer(help="Encryption at rest: keys and re-encryption.", no_args_is_help=True)


@encryption_app.command("generate-key")
def generate_key() -> None:
    """Print a new key; put it FIRST in EXPERIMENTLY_ENCRYPTION_KEYS, then run 'reencrypt'."""
    from experimently.encryption.keyring import generate_key as new_key

    typer.echo(new_key())


@encryption_app.command("reencrypt")
def reencrypt() -> None:
    """Re-encrypt every encrypted value (webhook secrets, TOTP seeds, PII properties) under the newest
    key of EXPERIMENTLY_ENCRYPTION_KEYS; afterwards the older keys can be removed from the ring."""
    from experimently.config import load_settings
    from experimently.encryption import registry
    from experimently.runtime import build_runtime
    from experimently.wiring import register_services

    async def main() -> dict[str, int]:
        runtime = build_runtime(load_settings())
        try:
            register_services(runtime)  # the domains register their own walkers (events' PII)
            return await registry.reencrypt(runtime.db, runtime.keyring, runtime.reencrypt_walkers)
        finally:
            await runtime.close()

    counts = asyncio.run(main())
    for name, changed in counts.items():
        typer.echo(f"{name}: {changed} re-encrypted")
    typer.echo("done: every value is under the newest key; older keys may now be removed")
