"""``experimently`` command line. One module per group of commands; a new group is a Typer app added
in :func:`build_app` with ``app.add_typer`` (or a command with ``app.command``).

- :mod:`.server`: ``serve``, ``worker``, ``migrate``
- :mod:`.accounts`: ``users ...``, ``keys ...``
- :mod:`.domain`: ``flags ...``, ``experiments ...``, ``aggregate``
- :mod:`.doctor`: ``doctor``
- :mod:`.config_io`: ``export``, ``import``
- :mod:`experimently.encryption.cli`: ``encryption generate-key|reencrypt``
- :mod:`.common`: settings, the CLI actor, one-line errors (:func:`~.common.run`)

``experimently serve`` (or ``worker``, ``migrate``) imports :mod:`.server` only: the other groups are
imported when another command, or the top-level help, is asked for (start-up time, issue #17).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

SERVER_COMMANDS = ("serve", "worker", "migrate")


def build_app(*, server_only: bool = False) -> typer.Typer:
    """The command line; with ``server_only``, only ``serve``, ``worker`` and ``migrate`` (what a process
    manager runs), without importing the other groups."""
    import typer

    from experimently.cli import server

    app = typer.Typer(
        help="Experimently: feature flags, experiments, events, statistics.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.command()(server.serve)
    app.command()(server.worker)
    app.command()(server.migrate)
    if server_only:
        return app

    from experimently.cli import accounts, config_io, doctor, domain
    from experimently.encryption.cli import encryption_app

    app.add_typer(accounts.users_app, name="users")
    app.add_typer(accounts.keys_app, name="keys")
    app.add_typer(domain.flags_app, name="flags")
    app.add_typer(domain.experiments_app, name="experiments")
    app.add_typer(domain.cache_app, name="cache")
    app.command()(domain.aggregate)
    app.command()(doctor.doctor)
    app.command("export")(config_io.export_config)
    app.command("import")(config_io.import_config)
    app.add_typer(encryption_app, name="encryption")
    return app


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else None
    if command == "serve":
        # Start-up creates ~250,000 long-lived objects (modules, classes, routes); the collector's
        # passes over them while importing are a fifth of the start's CPU time. ``serve`` collects
        # once, freezes what it built and re-enables the collector before it accepts requests.
        gc.disable()
    build_app(server_only=command in SERVER_COMMANDS)()


def __getattr__(name: str) -> Any:
    """``experimently.cli.app``: the whole command line, built on first use (tests, documentation)."""
    if name == "app":
        app = build_app()
        globals()["app"] = app
        return app
    raise AttributeError(name)


__all__ = ["SERVER_COMMANDS", "app", "build_app", "main"]
