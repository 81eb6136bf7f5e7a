"""``experimently`` command line. One module per group of commands; a new group is a Typer app added
here with ``app.add_typer`` (or a command with ``app.command``).

- :mod:`.server`: ``serve``, ``worker``, ``migrate``
- :mod:`.accounts`: ``users ...``, ``keys ...``
- :mod:`.domain`: ``flags ...``, ``experiments ...``, ``aggregate``
- :mod:`.doctor`: ``doctor``
- :mod:`.config_io`: ``export``, ``import``
- :mod:`experimently.encryption.cli`: ``encryption generate-key|reencrypt``
- :mod:`.common`: settings, the CLI actor, one-line errors (:func:`~.common.run`)
"""

from __future__ import annotations

import typer

from experimently.cli import accounts, config_io, doctor, domain, server
from experimently.encryption.cli import encryption_app

app = typer.Typer(
    help="Experimently: feature flags, experiments, events, statistics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.migrate)
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.keys_app, name="keys")
app.add_typer(domain.flags_app, name="flags")
app.add_typer(domain.experiments_app, name="experiments")
app.command()(domain.aggregate)
app.command()(doctor.doctor)
app.command("export")(config_io.export_config)
app.command("import")(config_io.import_config)
app.add_typer(encryption_app, name="encryption")


def main() -> None:
    app()


__all__ = ["app", "main"]
