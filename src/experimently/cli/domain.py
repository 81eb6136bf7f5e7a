"""``flags``, ``experiments`` and ``aggregate``: the day-to-day operations, through the domain services
(permission rules, audit records and cache invalidation apply exactly as through the API).

Without Redis, a running server keeps what it cached for up to a minute (its in-process cache
expires); with Redis the change reaches every instance at once through the invalidation channel."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from experimently.cli.common import EXIT_CONFIG, cli_actor, fail, run, stop, table

flags_app = typer.Typer(help="Feature flags: list, kill, enable.", no_args_is_help=True)
experiments_app = typer.Typer(
    help="Experiments: list, start, pause, resume, ship, aggregate.", no_args_is_help=True
)

PAGE = 500


cache_app = typer.Typer(help="The shared cache in Redis: clear it.", no_args_is_help=True)


@cache_app.command("clear")
def cache_clear() -> None:
    """Drop every cached copy in Redis and on every running instance (they reload from the database).
    Run it after restoring the database from a backup: the cache still holds the newer state."""

    async def body(runtime: Any) -> list[str]:
        cleared: list[str] = await runtime.cache.invalidate_everything()  # [] without Redis
        return cleared

    cleared = run(body)
    if not cleared:
        typer.echo("nothing cached in Redis (no EXPERIMENTLY_REDIS_URL, or nothing held)")
        return
    typer.echo(f"cleared the cache: {', '.join(cleared)}")


@flags_app.command("list")
def flags_list(
    env: Annotated[str, typer.Option(help="environment whose on/off state is shown")] = "production",
    tag: Annotated[str | None, typer.Option(help="only flags with this tag")] = None,
    archived: Annotated[bool, typer.Option(help="include archived flags")] = False,
) -> None:
    """Every flag with its on/off state in one environment."""
    from experimently.environments.service import get_environment_by_key
    from experimently.flags.service import list_flags

    async def body(runtime: Any) -> None:
        rows: list[dict[str, Any]] = []
        async with runtime.db.transaction() as session:
            await get_environment_by_key(session, env)  # a typo must not read as "every flag is off"
            offset = 0
            while True:
                flags, total = await list_flags(
                    session,
                    cli_actor(),
                    tag=tag,
                    archived=None if archived else False,
                    text=None,
                    limit=PAGE,
                    offset=offset,
                )
                for flag in flags:
                    config = flag.environments.get(env) or {}
                    rows.append(
                        {
                            "key": flag.key,
                            "name": flag.name,
                            "type": flag.type,
                            env: "on" if config.get("enabled") else "off",
                            "tags": flag.tags,
                            "version": flag.version,
                            "archived": "yes" if flag.archived else "",
                        }
                    )
                offset += len(flags)
                if not flags or offset >= total:
                    break
        table(rows, ["key", "name", "type", env, "tags", "version", "archived"], title="flags")

    run(body)


def _set_enabled(key: str, env: str, enabled: bool, reason: str | None) -> None:
    from experimently.flags.service import set_enabled

    async def body(runtime: Any) -> tuple[Any, bool | None]:
        async with runtime.db.transaction() as session:
            flag = await set_enabled(session, runtime.cache, cli_actor(), key, env, enabled, reason)
        return flag, await runtime.redis_ok()

    flag, redis_ok = run(body)
    state = "enabled" if enabled else "killed (serving its off variation)"
    typer.echo(f"flag '{flag.key}' {state} in {env} (version {flag.version})")
    if redis_ok is False:  # the change is stored; the instances were not told at once
        typer.echo(
            "warning: Redis is unreachable: running servers were not told; each serves the change once "
            "its cached copy expires (within a minute), or restart them to serve it now",
            err=True,
        )


@flags_app.command("kill")
def flags_kill(
    key: Annotated[str, typer.Argument(help="flag key")],
    env: Annotated[str, typer.Option(help="environment key")] = "production",
    reason: Annotated[str | None, typer.Option(help="why, for the audit log (required)")] = None,
) -> None:
    """The kill switch: turn the flag off in one environment (audited; any developer may, with a
    --reason)."""
    _set_enabled(key, env, False, reason)


@flags_app.command("enable")
def flags_enable(
    key: Annotated[str, typer.Argument(help="flag key")],
    env: Annotated[str, typer.Option(help="environment key")] = "production",
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
) -> None:
    """Turn the flag on in one environment (audited)."""
    _set_enabled(key, env, True, reason)


@experiments_app.command("list")
def experiments_list(
    status: Annotated[
        str | None, typer.Option(help="only this status: draft, scheduled, running, paused, completed...")
    ] = None,
) -> None:
    """Every experiment with its status."""
    from experimently.experiments.schemas import Status
    from experimently.experiments.service import list_experiments

    if status is not None and status not in set(Status):  # a typo must not read as "none of them"
        stop(f"unknown status '{status}': one of {', '.join(Status)}", EXIT_CONFIG)

    async def body(runtime: Any) -> None:
        rows: list[dict[str, Any]] = []
        async with runtime.db.transaction() as session:
            offset = 0
            while True:
                exps, total = await list_experiments(
                    session,
                    cli_actor(),
                    status=status,
                    owner=None,
                    tag=None,
                    text=None,
                    sort="created_at",
                    limit=PAGE,
                    offset=offset,
                )
                rows.extend(
                    {
                        "key": e.key,
                        "name": e.name,
                        "status": e.status,
                        "environment": e.environment,
                        "primary_metric": e.primary_metric,
                        "started_at": e.started_at,
                        "version": e.version,
                    }
                    for e in exps
                )
                offset += len(exps)
                if not exps or offset >= total:
                    break
        table(
            rows,
            ["key", "name", "status", "environment", "primary_metric", "started_at", "version"],
            title="experiments",
        )

    run(body)


def _transition(ref: str, action: str, reason: str | None) -> None:
    from experimently.experiments.service import transition

    async def body(runtime: Any) -> Any:
        async with runtime.db.transaction() as session:
            return await transition(session, runtime.cache, cli_actor(), ref, action, reason)

    exp = run(body)
    typer.echo(f"experiment '{exp.key}' is now {exp.status} (version {exp.version})")


@experiments_app.command("start")
def experiments_start(
    ref: Annotated[str, typer.Argument(help="experiment key or id")],
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
) -> None:
    """Start a draft or scheduled experiment (audited, emitted as a domain event)."""
    _transition(ref, "start", reason)


@experiments_app.command("pause")
def experiments_pause(
    ref: Annotated[str, typer.Argument(help="experiment key or id")],
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
) -> None:
    """Pause a running experiment: no new units enter (audited)."""
    _transition(ref, "pause", reason)


@experiments_app.command("resume")
def experiments_resume(
    ref: Annotated[str, typer.Argument(help="experiment key or id")],
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
) -> None:
    """Resume a paused experiment (audited)."""
    _transition(ref, "resume", reason)


@experiments_app.command("ship")
def experiments_ship(
    ref: Annotated[str, typer.Argument(help="experiment key or id (running, paused or completed)")],
    variant: Annotated[str, typer.Option(help="the variant to ship, usually the winner")],
    reason: Annotated[str, typer.Option(help="why this variant, for the audit log")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print what would change, change nothing")
    ] = False,
) -> None:
    """Ship a variant: the experiment is completed and every flag rule serving it in its environment
    serves the variant's variation from then on (all or nothing; audited)."""
    from experimently.experiments.service import ship_variant

    async def body(runtime: Any) -> Any:
        return await ship_variant(
            runtime.db, runtime.cache, cli_actor(), ref, variant, reason, dry_run=dry_run
        )

    exp = run(body)
    shipped = exp.shipped
    assert shipped is not None  # ship_variant sets it or raises
    verb = "would serve" if dry_run else "serves"
    for flag in shipped.flags:
        for place in flag.places:
            rule = "fallthrough" if place.rule == "fallthrough" else f"rule {place.rule}"
            typer.echo(f"flag '{flag.key}' in {exp.environment}: {rule} {verb} {place.variation}")
    if not shipped.flags:
        typer.echo(f"no flag rule serves '{exp.key}' in {exp.environment}: only the decision is recorded")
    outcome = "would ship" if dry_run else "shipped"
    suffix = " (dry run: nothing written)" if dry_run else ""
    typer.echo(f"experiment '{exp.key}' {outcome} variant '{variant}' (now {exp.status}){suffix}")


@experiments_app.command("aggregate")
def experiments_aggregate(
    key: Annotated[str, typer.Argument(help="experiment key or id (running or paused)")],
    full: Annotated[
        bool, typer.Option(help="recompute from every raw event instead of incrementally")
    ] = False,
) -> None:
    """Run the metric aggregation of one experiment now (audited, as POST .../aggregate); its results
    show the fresh numbers at once."""
    from experimently.analysis.results import aggregate_now
    from experimently.experiments.integration import aggregation_specs

    async def body(runtime: Any) -> dict[str, Any]:
        return await aggregate_now(
            runtime.db, runtime.cache, cli_actor(), key, aggregation_specs, None, full=full
        )

    done = run(body)
    typer.echo(
        f"aggregated {done['experiment_key']} at {done['aggregated_at']} in {done['duration_ms']:.0f} ms"
    )


def aggregate(
    experiment: Annotated[
        str | None, typer.Option(help="only this experiment (key); default: every running and paused one")
    ] = None,
    full: Annotated[
        bool, typer.Option(help="recompute from every raw event instead of incrementally")
    ] = False,
) -> None:
    """Run the metric aggregation now (what the background job does every interval)."""
    from rich.progress import Progress

    from experimently.experiments.integration import aggregation_specs
    from experimently.metrics.aggregation import aggregate_experiment

    async def body(runtime: Any) -> list[tuple[str, int]]:
        async with runtime.db.transaction() as session:
            specs = await aggregation_specs(session)
        if experiment is not None:
            specs = [s for s in specs if s.key == experiment]
            if not specs:
                fail(f"no running or paused experiment '{experiment}' to aggregate")
        done: list[tuple[str, int]] = []
        with Progress(transient=True) as progress:
            task = progress.add_task("aggregating", total=len(specs))
            for spec in specs:
                progress.update(task, description=f"aggregating {spec.key}")
                async with runtime.db.transaction() as session:
                    done.append((spec.key, await aggregate_experiment(session, spec, full=full)))
                progress.advance(task)
        return done

    done = run(body)
    if not done:
        typer.echo("nothing to aggregate: no running or paused experiment")
    for key, count in done:
        typer.echo(f"aggregated {key} up to event #{count}")
