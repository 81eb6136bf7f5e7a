"""``serve``, ``worker`` and ``migrate``: the processes and the schema."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from experimently.cli.common import (
    EXIT_CONFIG,
    describe_url,
    fail,
    guard,
    migration_state,
    require_migrated,
    settings_for_cli,
)
from experimently.config import Settings
from experimently.kit import supervisor

if TYPE_CHECKING:
    import uvicorn


def _announce(settings: Settings, password: str | None, url: str, workers: int) -> None:
    typer.echo(f"Experimently is starting on {url}  (API docs: {url}/api/docs)")
    where = "embedded SQLite in " + str(settings.data_dir) if settings.is_embedded else "external"
    typer.echo(f"Database: {where}; workers: {workers}")
    if password:
        typer.echo("")
        typer.echo("First start: an admin account was created. This password is shown ONCE:")
        typer.echo(f"  email:    {settings.admin_email}")
        typer.echo(f"  password: {password}")
        typer.echo(f"Sign in to the web console at {settings.public_url}, or to the API at")
        typer.echo("POST /api/v1/auth/token ('Authorize' in the API docs).")
        typer.echo("")


async def _prepare(
    settings: Settings, apply_migrations: bool, *, report: bool = False
) -> tuple[str | None, str | None, str]:
    """Bootstrap; returns (generated admin password, revision before, revision after). The revisions
    are read only when ``report`` (``migrate`` prints them; ``serve`` does not need them)."""
    from experimently.bootstrap import bootstrap
    from experimently.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        if not apply_migrations:  # --no-migrate: the schema must be this version's, said in one line
            await require_migrated(runtime.db.engine, describe_url(settings.effective_database_url))
        before = (await migration_state(runtime.db.engine))[0] if report else None
        password = await bootstrap(runtime, apply_migrations=apply_migrations)
        after = (await migration_state(runtime.db.engine))[0] if report else None
        return password, before, after or ""
    finally:
        await runtime.close()


def with_public_url(settings: Settings, host: str, port: int) -> Settings:
    """Without ``EXPERIMENTLY_PUBLIC_URL``, links to console pages (webhook deliveries, the OIDC
    redirect) name this server's own address, not the default ``http://127.0.0.1:8000``: ``PORT=9000
    make run`` links to port 9000. A wildcard host is shown as the loopback address. Set for the HTTP
    worker processes too (they read the environment)."""
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104  # compared, not bound
    url = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    os.environ["EXPERIMENTLY_PUBLIC_URL"] = url
    return settings.model_copy(update={"public_url": url})


def worker_count(settings: Settings, requested: int | None) -> int:
    """Default: every core in the production shape (an external database and Redis), one embedded.

    Several processes need Redis: without it each process would keep its own cache (a change made
    through one would be served stale by the others for up to a minute) and its own event queue; with
    embedded SQLite they would also contend for one file's write lock."""
    shared = not settings.is_embedded and settings.redis_url is not None
    if requested is None:
        return (os.cpu_count() or 1) if shared else 1
    if requested < 1:
        fail("--workers must be at least 1", EXIT_CONFIG)
    if requested > 1 and not shared:
        fail(
            "--workers above 1 needs an external database and Redis (EXPERIMENTLY_DATABASE_URL and "
            "EXPERIMENTLY_REDIS_URL): embedded SQLite and the in-process cache serve one process",
            EXIT_CONFIG,
        )
    return requested


@contextlib.contextmanager
def _multiprocess_metrics(workers: int) -> Iterator[None]:
    """With several workers, Prometheus metrics are shared through files so ``/metrics`` on any worker
    reports the whole instance (prometheus_client's multiprocess mode)."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="experimently-metrics-") as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        stop = threading.Event()
        reaper = threading.Thread(target=_reap_dead_workers, args=(directory, stop), daemon=True)
        reaper.start()
        try:
            yield
        finally:
            stop.set()
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _children(parent: int) -> set[int]:
    """The process ids whose parent is ``parent`` (from /proc; empty where there is none)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            stat = f"/proc/{entry.name}/stat"
            with contextlib.suppress(OSError, IndexError, ValueError), open(stat) as lines:
                if int(lines.read().rsplit(")", 1)[1].split()[1]) == parent:
                    found.add(int(entry.name))
    return found


def _reap_dead_workers(directory: str, stop: threading.Event, every: float = 1.0) -> None:
    """In the parent of ``serve --workers N``: a worker process that dies (uvicorn starts another) is
    said once on stderr, and its metric files are marked dead, so the instance's gauges (the degraded
    flag, the pool) stop counting a process that is gone."""
    from prometheus_client import multiprocess

    parent, known = os.getpid(), set[int]()
    while not stop.wait(every):
        alive = _children(parent)
        for pid in known - alive:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]  # untyped library
            typer.echo(f"serve: worker process {pid} exited; its metrics are marked dead", err=True)
        known = alive


def serve(
    host: Annotated[str, typer.Option(envvar="HOST", help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="TCP port")] = 8000,
    migrate: Annotated[
        bool | None, typer.Option(help="apply migrations first (default: yes on embedded SQLite)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar="EXPERIMENTLY_WORKERS",
            help="processes serving HTTP (default: the number of cores with PostgreSQL and Redis, "
            "1 embedded)",
        ),
    ] = None,
) -> None:
    """Run the API, background jobs and the event writer."""
    import uvicorn

    settings = with_public_url(settings_for_cli(create=True), host, port)
    count = guard(lambda: worker_count(settings, workers), settings)
    apply = settings.is_embedded if migrate is None else migrate
    password, _before, _after = guard(lambda: asyncio.run(_prepare(settings, apply)), settings)
    _announce(settings, password, f"http://{host}:{port}", count)
    from experimently.kit.http_protocol import CoalescingHttpToolsProtocol

    options = {
        "host": host,
        "port": port,
        "http": CoalescingHttpToolsProtocol,  # one write per small answer, not two
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": settings.forwarded_allow_ips is not None,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if count > 1:
        gc.enable()  # disabled for the start-up by experimently.cli.main; the workers start their own
        # Each worker process builds its own app from the environment; the job runner's database lease
        # keeps every background job to one run at a time across them (and across instances).
        os.environ[supervisor.SUPERVISOR_ENV] = str(os.getpid())  # the workers stop if we die
        with _multiprocess_metrics(count):
            uvicorn.run("experimently.app:create_app", factory=True, workers=count, **options)  # type: ignore[arg-type]  # the options dict is typed loosely
        return

    from experimently.app import create_app

    app = create_app(settings)
    # Everything built so far (modules, routes, schemas) lives as long as the process: move it out of
    # the collector's sight, so a full collection scans only what requests create. Without this, a
    # full collection walks ~250,000 startup objects and stalls every request for ~100 ms.
    gc.collect()
    gc.freeze()
    gc.enable()  # disabled for the start-up by experimently.cli.main
    _quiet_server(uvicorn.Config(app, **options)).run()  # type: ignore[arg-type]  # options typed loosely


def _quiet_server(config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn's server, except that stopping on SIGINT or SIGTERM is a clean exit (status 0): uvicorn
    re-raises the signal after shutting down, which ``make run`` reports as ``Error 130``/``143``."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server(config)


def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            envvar="EXPERIMENTLY_METRICS_PORT",
            help="serve Prometheus /metrics on this port (jobs and the event writer run here)",
        ),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="interface for --metrics-port")] = "0.0.0.0",  # noqa: S104 - a metrics port is meant to be scraped
) -> None:
    """Run background jobs and the event writer only (no API)."""
    from experimently.logging_setup import configure_logging
    from experimently.runtime import build_runtime
    from experimently.wiring import register_jobs, register_services, start_services, stop_services

    settings = settings_for_cli(event_writer=True)  # a worker always writes (EVENT_WRITER is for serve)
    guard(lambda: _external_only(settings), settings)
    configure_logging(settings.log_level, settings.log_json)
    import structlog

    log = structlog.get_logger("experimently.worker")

    async def main() -> None:
        runtime = build_runtime(settings)
        try:
            await require_migrated(runtime.db.engine, describe_url(settings.effective_database_url))
            if metrics_port:  # before anything starts: a port in use is said as such, and nothing runs
                from prometheus_client import start_http_server

                try:
                    start_http_server(metrics_port, addr=metrics_host)
                except OSError as exc:
                    fail(f"--metrics-port {metrics_port} on {metrics_host}: {exc.strerror}", EXIT_CONFIG)
        except BaseException:
            await runtime.close()
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runtime.cache.start()
        register_services(runtime)
        register_jobs(runtime)
        await start_services(runtime)
        runtime.jobs.start()
        log.info("worker.started", pid=os.getpid(), metrics_port=metrics_port)
        typer.echo("worker running; SIGTERM drains and stops")
        await stop.wait()
        log.info("worker.stopping", pid=os.getpid())
        await stop_services(runtime)
        await runtime.close()
        log.info("worker.stopped", pid=os.getpid())

    guard(lambda: asyncio.run(main()), settings)


def _external_only(settings: Settings) -> None:
    if settings.is_embedded:
        fail(
            "a worker needs PostgreSQL and Redis (EXPERIMENTLY_DATABASE_URL, EXPERIMENTLY_REDIS_URL): on "
            "the embedded database, 'experimently serve' runs the jobs and writes the events itself",
            EXIT_CONFIG,
        )


def migrate() -> None:
    """Apply database migrations and create the defaults (environments, first admin)."""
    settings = settings_for_cli(create=True)
    password, before, after = guard(lambda: asyncio.run(_prepare(settings, True, report=True)), settings)
    where = describe_url(settings.effective_database_url)
    if before == after:
        typer.echo(f"nothing to apply: {where} is at the latest schema ({after})")
    else:
        typer.echo(f"applied migrations {before or '(empty database)'} -> {after} on {where}")
    if password:
        typer.echo(f"First start: admin {settings.admin_email} created; password (shown ONCE): {password}")
