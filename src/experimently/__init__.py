"""Experimently: feature flags, experiments, events, statistics and safety."""

from __future__ import annotations


def _import_without_rich() -> None:
    """Import structlog and httpx with ``rich`` hidden, when nothing has imported rich yet.

    Both import rich at import whenever it is installed (the CLI's typer installs it): structlog its
    traceback and pretty-printer, httpx its command-line client (with click and pygments). Together
    about 8% of the server's import time, for features the server never uses: its log processors
    format exceptions as plain text (``format_exc_info``) before any renderer sees them, and httpx's
    command line is not ours. An entry of None in ``sys.modules`` makes ``import rich`` (and
    ``pygments``) fail, which both handle as "not installed"; the entries are removed at once, so the
    CLI's own use of rich is unaffected."""
    import sys

    hidden = [name for name in ("rich", "pygments") if name not in sys.modules]
    if "rich" not in hidden:
        return
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules blocks the import
    try:
        import httpx  # noqa: F401
        import structlog  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_import_without_rich()
