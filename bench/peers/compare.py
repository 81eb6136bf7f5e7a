"""Our engine against the Python SDKs of GrowthBook, Unleash, LaunchDarkly and Flagsmith.

Every SDK evaluates the same two flags as ``bench/eval_engine.py`` (a 50% rollout, and 10 rules x 3
conditions where the first two conditions of every rule hold and only the last rule matches, serving
a 3-way split), offline, over the same 200,000 distinct users with distinct attribute values, in
one process, interleaved round by round. Each SDK's own context object is built before timing (as
ours is a pre-built dict). Rates come from the thread's CPU time; the median of ``--rounds``.

Run (from the repository root; the first run creates ``.venv-peers`` with ``uv`` and installs the
pinned SDKs of ``bench/peers/requirements.txt`` and our SDK into it, never into ``.venv``):

    .venv/bin/python bench/peers/compare.py            # or: make bench-peers

Where a peer's rule language cannot say what ours says, the nearest equivalent is used (listed in
``INEQUIVALENCES`` and printed). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial
from importlib import metadata
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_VENV = ROOT / ".venv-peers"
sys.path.insert(0, str(HERE.parent))

from eval_engine import COUNTRIES, complex_flag, contexts, defeat_shared_results, simple_flag  # noqa: E402

INEQUIVALENCES = {
    "growthbook": "the 50% rollout is a force rule with coverage 0.5; the split is an experiment rule",
    "unleash": "no regular expressions: `matches @exampleN\\.(net|io)$` is STR_ENDS_WITH the two "
    "suffixes (cheaper); no semver_gte: SEMVER_GT of the version just below; context values are text",
    "launchdarkly": "no semver_gte: semVerGreaterThan of the version just below",
    "flagsmith": "one identity evaluates every feature of its environment, so each flag has an "
    "environment of its own; every segment is evaluated (no first-match stop), the override is "
    "chosen by priority; REGEX anchors at the start, so the pattern is prefixed with `.*`",
}


# ---------------------------------------------------------------------------------------------
# the peers' installation (a venv of their own)


def ensure_peers() -> None:
    """Re-run this script in ``.venv-peers`` (created and filled on first use)."""
    if os.environ.get("EXPERIMENTLY_PEERS_VENV") == "1":
        return
    python = PEERS_VENV / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    if not python.exists():
        subprocess.run([str(uv), "venv", "-q", str(PEERS_VENV), "--python", sys.executable], check=True)
    subprocess.run(
        [
            str(uv),
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "-r",
            str(HERE / "requirements.txt"),
            "-e",
            str(ROOT / "sdk" / "python"),
        ],
        check=True,
    )
    env = {**os.environ, "EXPERIMENTLY_PEERS_VENV": "1"}
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


# ---------------------------------------------------------------------------------------------
# one adapter per SDK: ({"simple": (evaluate, value_of), "complex": ...}, native contexts). The
# timed call is ``evaluate(ctx)``: the SDK's own one-user call with the least glue its API allows
# (the flag key bound with functools.partial where the signature permits); ``value_of`` reads the
# served value out of what it returns, outside the timed loop.


Evaluate = Callable[[Any], Any]
Flag = tuple[Evaluate, Callable[[Any], Any]]
_same: Callable[[Any], Any] = lambda x: x  # noqa: E731


def ours(users: list[dict[str, Any]], defeated: bool) -> tuple[dict[str, Flag], list[Any]]:
    from experimently_sdk import Evaluator, Ruleset

    ruleset = Ruleset.from_payload({"flags": [simple_flag(), complex_flag()], "segments": []}, strict=True)
    if defeated:
        assert sum(defeat_shared_results(f.run) for f in ruleset.compiled.values()) == 2
    evaluate = Evaluator(ruleset).evaluate
    value = attrgetter("value")
    return {
        "simple": (partial(evaluate, "simple"), value),
        "complex": (partial(evaluate, "complex"), value),
    }, users


def _third(r: int) -> tuple[str, str]:
    """(kind, threshold-or-pattern) of rule r's third condition, as in complex_flag()."""
    if r == 9:
        return "semver", "2.0.0"
    if r % 2 == 0:
        return "semver", f"{90 + r}.0.0"
    return "regex", rf"@example{r}\.(net|io)$"


def _below(version: str) -> str:
    major = int(version.split(".")[0])
    return f"{major - 1}.99999.99999"  # semver_gte X.0.0 == semver_gt .99999.99999 here


def _countries(r: int) -> list[str]:
    return [*COUNTRIES, *(f"R{r}C{i}" for i in range(10))]


def growthbook(users: list[dict[str, Any]]) -> tuple[dict[str, Flag], list[Any]]:
    from growthbook import GrowthBook

    rules: list[dict[str, Any]] = []
    for r in range(10):
        condition: dict[str, Any] = {"country": {"$in": _countries(r)}, "age": {"$gt": 17}}
        kind, arg = _third(r)
        if kind == "semver":
            condition["app_version"] = {"$vgte": arg}
        else:
            condition["email"] = {"$regex": arg}
        if r < 9:
            rules.append({"id": f"rule-{r}", "condition": condition, "force": "a"})
        else:
            rules.append(
                {
                    "id": f"rule-{r}",
                    "condition": condition,
                    "key": "complex",
                    "variations": ["a", "b", "c"],
                    "weights": [0.3334, 0.3333, 0.3333],
                    "hashAttribute": "user_id",
                    "seed": "complex",
                }
            )
    features = {
        "simple": {
            "defaultValue": False,
            "rules": [{"force": True, "coverage": 0.5, "hashAttribute": "user_id", "seed": "simple"}],
        },
        "complex": {"defaultValue": "a", "rules": rules},
    }
    gb = GrowthBook(features=features)
    set_attributes, value = gb.set_attributes, gb.get_feature_value

    def flag(key: str) -> Flag:
        def evaluate(ctx: Any) -> Any:  # GrowthBook evaluates for the attributes it holds
            set_attributes(ctx)
            return value(key, None)

        return evaluate, _same

    return {"simple": flag("simple"), "complex": flag("complex")}, [dict(u) for u in users]


def unleash(users: list[dict[str, Any]]) -> tuple[dict[str, Flag], list[Any]]:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    def constraint(name: str, operator: str, **kw: Any) -> dict[str, Any]:
        return {"contextName": name, "operator": operator, "caseInsensitive": False, "inverted": False, **kw}

    strategies = []
    for r in range(10):
        kind, arg = _third(r)
        third = (
            constraint("app_version", "SEMVER_GT", value=_below(arg))
            if kind == "semver"
            else constraint("email", "STR_ENDS_WITH", values=[f"@example{r}.net", f"@example{r}.io"])
        )
        weights = (("a", 334), ("b", 333), ("c", 333)) if r == 9 else (("a", 1000),)
        strategies.append(
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "userId", "groupId": "complex"},
                "constraints": [
                    constraint("country", "IN", values=_countries(r)),
                    constraint("age", "NUM_GT", value="17"),
                    third,
                ],
                "variants": [
                    {"name": n, "weight": w, "weightType": "fix", "stickiness": "userId"} for n, w in weights
                ],
            }
        )
    features = {
        "version": 1,
        "features": [
            {
                "name": "simple",
                "enabled": True,
                "strategies": [
                    {
                        "name": "flexibleRollout",
                        "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "simple"},
                        "constraints": [],
                    }
                ],
            },
            {"name": "complex", "enabled": True, "strategies": strategies},
        ],
    }
    cache = FileCache("bench", directory=tempfile.mkdtemp())
    cache.bootstrap_from_dict(features)
    client = UnleashClient(
        url="http://127.0.0.1:9",  # never contacted: no fetch, no metrics, no registration
        app_name="bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=86400,
    )
    client.initialize_client(fetch_toggles=False)
    native = [
        {
            "userId": u["user_id"],
            "properties": {k: str(u[k]) for k in ("country", "age", "app_version", "email")},
        }
        for u in users
    ]
    return {
        "simple": (partial(client.is_enabled, "simple"), _same),
        "complex": (partial(client.get_variant, "complex"), itemgetter("name")),
    }, native


def launchdarkly(users: list[dict[str, Any]]) -> tuple[dict[str, Flag], list[Any]]:
    from ldclient import Context, LDClient
    from ldclient.config import Config
    from ldclient.integrations import Files

    def clause(attribute: str, op: str, values: list[Any]) -> dict[str, Any]:
        return {"attribute": attribute, "op": op, "values": values, "negate": False}

    rules = []
    for r in range(10):
        kind, arg = _third(r)
        third = (
            clause("app_version", "semVerGreaterThan", [_below(arg)])
            if kind == "semver"
            else clause("email", "matches", [arg])
        )
        rule: dict[str, Any] = {
            "id": f"rule-{r}",
            "clauses": [clause("country", "in", _countries(r)), clause("age", "greaterThan", [17]), third],
            "trackEvents": False,
        }
        if r < 9:
            rule["variation"] = 0
        else:
            rule["rollout"] = {
                "variations": [
                    {"variation": 0, "weight": 33340},
                    {"variation": 1, "weight": 33330},
                    {"variation": 2, "weight": 33330},
                ]
            }
        rules.append(rule)
    common = {"version": 1, "on": True, "targets": [], "prerequisites": [], "trackEvents": False}
    flags = {
        "simple": {
            **common,
            "key": "simple",
            "salt": "simple",
            "variations": [True, False],
            "offVariation": 1,
            "rules": [],
            "fallthrough": {
                "rollout": {
                    "variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]
                }
            },
        },
        "complex": {
            **common,
            "key": "complex",
            "salt": "complex",
            "variations": ["a", "b", "c"],
            "offVariation": 0,
            "rules": rules,
            "fallthrough": {"variation": 0},
        },
    }
    path = Path(tempfile.mkdtemp()) / "flags.json"
    path.write_text(json.dumps({"flags": flags}))
    config = Config(
        "offline-bench",
        update_processor_class=Files.new_data_source(paths=[str(path)]),
        send_events=False,
        diagnostic_opt_out=True,
    )
    client = LDClient(config)
    assert client.is_initialized()
    native = []
    for u in users:
        builder = Context.builder(u["user_id"])
        for k in ("country", "age", "app_version", "email"):
            builder.set(k, u[k])
        native.append(builder.build())
    variation = client.variation  # (key, context, default): the default is positional, after the context
    return {
        "simple": (lambda ctx: variation("simple", ctx, None), _same),
        "complex": (lambda ctx: variation("complex", ctx, None), _same),
    }, native


def flagsmith(users: list[dict[str, Any]]) -> tuple[dict[str, Flag], list[Any]]:
    from flagsmith import Flagsmith
    from flagsmith.offline_handlers import LocalFileHandler

    def state(
        fid: int, name: str, value: Any, mv: tuple[tuple[Any, float], ...] = (), priority: int | None = None
    ) -> Any:
        doc: dict[str, Any] = {
            "enabled": True,
            "feature_state_value": value,
            "feature": {"id": fid, "name": name},
            "featurestate_uuid": str(uuid.UUID(int=fid * 1000 + (priority or 0))),
            "multivariate_feature_state_values": [
                {
                    "id": i + 1,
                    "multivariate_feature_option": {"value": v},
                    "mv_fs_value_uuid": str(uuid.UUID(int=i + 1)),
                    "percentage_allocation": w,
                }
                for i, (v, w) in enumerate(mv)
            ],
        }
        if priority is not None:
            doc["feature_segment"] = {"priority": priority}
        return doc

    def condition(prop: str, operator: str, value: str) -> dict[str, str]:
        return {"operator": operator, "property_": prop, "value": value}

    segments = []
    for r in range(10):
        kind, arg = _third(r)
        third = (
            condition("app_version", "GREATER_THAN_INCLUSIVE", f"{arg}:semver")
            if kind == "semver"
            else condition("email", "REGEX", ".*" + arg)
        )
        split = (("a", 33.34), ("b", 33.33), ("c", 33.33)) if r == 9 else ()
        segments.append(
            {
                "id": r + 1,
                "name": f"rule-{r}",
                "rules": [
                    {
                        "type": "ALL",
                        "rules": [],
                        "conditions": [
                            condition("country", "IN", ",".join(_countries(r))),
                            condition("age", "GREATER_THAN", "17"),
                            third,
                        ],
                    }
                ],
                "feature_states": [state(2, "complex", "a", split, priority=r)],
            }
        )

    def environment(states: list[Any], segs: list[Any]) -> dict[str, Any]:
        return {
            "api_key": "offline-bench",
            "name": "bench",
            "feature_states": states,
            "identity_overrides": [],
            "project": {"segments": segs},
        }

    clients = {}
    for key, doc in (
        ("simple", environment([state(1, "simple", False, ((True, 50.0),))], [])),
        ("complex", environment([state(2, "complex", "a")], segments)),
    ):
        path = Path(tempfile.mkdtemp()) / "environment.json"
        path.write_text(json.dumps(doc))
        clients[key] = Flagsmith(offline_mode=True, offline_handler=LocalFileHandler(str(path)))
    native = [(u["user_id"], {k: u[k] for k in ("country", "age", "app_version", "email")}) for u in users]

    def flag(key: str) -> Flag:
        identity_flags = clients[key].get_identity_flags

        def evaluate(ctx: Any) -> Any:  # an identity's flags, then the one flag's value
            return identity_flags(ctx[0], ctx[1]).get_feature_value(key)

        return evaluate, _same

    return {"simple": flag("simple"), "complex": flag("complex")}, native


PEERS: dict[str, tuple[str, Callable[[list[dict[str, Any]]], tuple[dict[str, Flag], list[Any]]]]] = {
    "growthbook": ("growthbook", growthbook),
    "unleash": ("UnleashClient", unleash),
    "launchdarkly": ("launchdarkly-server-sdk", launchdarkly),
    "flagsmith": ("flagsmith", flagsmith),
}


def check(name: str, flag: str, served: Counter[Any], n: int) -> None:
    """The flag did what it should: ~50% on, or the 3-way split of the last rule (not rule 0-8's "a")."""
    if flag == "simple":
        on = served[True] / n
        assert 0.45 < on < 0.55, (name, flag, served)
    else:
        assert set(served) == {"a", "b", "c"} and all(0.28 < c / n < 0.39 for c in served.values()), (
            name,
            flag,
            served,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset")
    args = parser.parse_args()
    ensure_peers()
    users = contexts(args.users)
    load = os.getloadavg()
    sdks: dict[str, tuple[dict[str, Flag], list[Any]]] = {
        "ours": ours(users, defeated=True),
        "ours_steady": ours(users, defeated=False),
    }
    versions = {"ours": metadata.version("experimently-sdk")}
    for name in args.peers.split(","):
        package, build = PEERS[name]
        sdks[name] = build(users)
        versions[name] = metadata.version(package)
    rates: dict[str, dict[str, list[float]]] = {name: {"simple": [], "complex": []} for name in sdks}
    for _ in range(args.rounds):
        for flag in ("simple", "complex"):
            for name, (evaluators, native) in sdks.items():  # interleaved: every SDK once per round
                evaluate, value_of = evaluators[flag]
                start = time.thread_time()
                for ctx in native:  # results dropped as they come, as a caller would
                    evaluate(ctx)
                rates[name][flag].append(len(native) / (time.thread_time() - start))
                sample = native[: min(len(native), 20_000)]  # then the answers, untimed
                check(name, flag, Counter(value_of(evaluate(ctx)) for ctx in sample), len(sample))
    figures: dict[str, Any] = {}
    print(f"{args.users:,} distinct users, {args.rounds} rounds, load {load[0]:.1f}")
    print("evals/s from thread CPU time, median of the rounds; ours: caches defeated, ours_steady: not")
    for name in sdks:
        line = f"  {name:14s} {versions.get(name, versions['ours']):10s}"
        for flag in ("simple", "complex"):
            rate = round(statistics.median(rates[name][flag]))
            figures[f"{name}_{flag}_evals_per_s"] = rate
            line += f"  {flag} {rate:>10,}"
        print(line)
    for flag in ("simple", "complex"):
        best = max(
            (n for n in sdks if n not in ("ours", "ours_steady")),
            key=lambda n: figures[f"{n}_{flag}_evals_per_s"],
        )
        ratio = figures[f"ours_{flag}_evals_per_s"] / figures[f"{best}_{flag}_evals_per_s"]
        figures[f"{flag}_best_peer"] = best
        figures[f"{flag}_ours_vs_best_peer"] = round(ratio, 2)
        print(f"  {flag}: ours (caches defeated) = {ratio:.2f} x the best peer ({best})")
    print("inequivalences:")
    for name, text in INEQUIVALENCES.items():
        print(f"  {name}: {text}")
    print(
        json.dumps(
            {
                "bench": "peers",
                "users": args.users,
                "rounds": args.rounds,
                "python": sys.version.split()[0],
                "load_before": round(load[0], 2),
                "load_after": round(os.getloadavg()[0], 2),
                "versions": versions,
                **figures,
            }
        )
    )


if __name__ == "__main__":
    main()
