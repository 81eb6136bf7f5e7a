"""Engine throughput: a 50% rollout and a 10 rules x 3 conditions flag over 200,000 distinct users.

Budget: >= 1,000,000 evals/s simple, >= 100,000 evals/s complex, one process.

Run (from the repository root):

    .venv/bin/python bench/eval_engine.py                    # this tree's engine
    .venv/bin/python bench/eval_engine.py --baseline HEAD~3  # and the engine of a git revision,
                                                             # interleaved, in fresh processes

The flags (see ``complex_flag``): every rule's first two conditions hold for every user, the third
fails in rules 0-8 and holds in rule 9, so one evaluation runs 30 conditions, 6 of them version
(semver) comparisons and 4 regular expressions, and the last rule serves a 3-way split. Every user
is distinct and so is every value the engine could memoise on (user id, version, e-mail, age).

Two modes per flag:

- ``steady``: the engine as it runs in a long-lived process (a rollout's results are shared per
  bucket: at most 10,000 per rollout);
- ``defeated``: that per-bucket sharing switched off too (``defeat_shared_results``), so every
  evaluation builds its result: no work is shared between users at all.

Each figure is a median over ``--rounds`` passes of 200,000 evaluations; the rate is computed from
the calling thread's CPU time (``time.thread_time``), which a shared machine disturbs far less than
wall time (the wall-time rates are in the JSON too). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

N_CONTEXTS = 200_000
ROOT = Path(__file__).resolve().parents[1]
ENGINE_SRC = ROOT / "sdk" / "python" / "src"
COUNTRIES = ["DE", "FR", "IT", "ES", "NL", "BE", "AT", "PL", "SE", "DK"]


def simple_flag() -> dict[str, Any]:
    return {
        "key": "simple",
        "type": "boolean",
        "version": 1,
        "salt": "simple",
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "enabled": True,
        "off_variation": "off",
        "fallthrough": {
            "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
        },
    }


def complex_flag() -> dict[str, Any]:
    """10 rules x 3 conditions; for every bench user the first two conditions of every rule hold.

    1. ``country in`` 20 values (the 10 bench countries and 10 of the rule's own): holds;
    2. ``age gt 17``: holds;
    3. rules 0, 2, 4, 6, 8: ``app_version semver_gte <90 + r>.0.0`` (fails); rules 1, 3, 5, 7:
       ``email matches @example<r>\\.(net|io)$`` (fails); rule 9: ``app_version semver_gte 2.0.0``
       (holds) -> 30 conditions and 6 version comparisons per evaluation; rule 9 serves a 3-way split.
    """
    rules = []
    for r in range(10):
        if r == 9:
            third = {"attribute": "app_version", "operator": "semver_gte", "values": ["2.0.0"]}
        elif r % 2 == 0:
            third = {"attribute": "app_version", "operator": "semver_gte", "values": [f"{90 + r}.0.0"]}
        else:
            # a different pattern per rule: no rule can reuse another's answer
            third = {"attribute": "email", "operator": "matches", "values": [rf"@example{r}\.(net|io)$"]}
        rules.append(
            {
                "id": f"rule-{r}",
                "conditions": [
                    {
                        "attribute": "country",
                        "operator": "in",
                        "values": [*COUNTRIES, *(f"R{r}C{i}" for i in range(10))],
                    },
                    {"attribute": "age", "operator": "gt", "values": [17]},
                    third,
                ],
                "serve": {"variation": "a"} if r < 9 else _three_way(),
            }
        )
    return {
        "key": "complex",
        "type": "string",
        "version": 1,
        "salt": "complex",
        "variations": [{"key": k, "value": k} for k in ("a", "b", "c")],
        "enabled": True,
        "off_variation": "a",
        "rules": rules,
        "fallthrough": {"variation": "a"},
    }


def _three_way() -> dict[str, Any]:
    weights = [("a", 33.34), ("b", 33.33), ("c", 33.33)]
    return {"rollout": {"variations": [{"variation": v, "weight": w} for v, w in weights]}}


def contexts(n: int = N_CONTEXTS) -> list[dict[str, Any]]:
    """Distinct users with distinct values: no memo keyed on a value is ever hit twice."""
    return [
        {
            "user_id": f"user-{i}",
            "country": COUNTRIES[i % len(COUNTRIES)],
            "age": 18 + i,
            "app_version": f"{2 + i % 5}.{i // 1000}.{i % 1000}",
            "email": f"person{i}@example.com",
        }
        for i in range(n)
    ]


class _NoStore(dict):  # type: ignore[type-arg]
    """A result cache that never keeps anything: ``get`` stays the C lookup (always a miss)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _functions(obj: Any, seen: set[int]) -> Iterator[types.FunctionType]:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, types.FunctionType):
        yield obj
        for cell in obj.__closure__ or ():
            try:
                yield from _functions(cell.cell_contents, seen)
            except ValueError:  # an empty cell
                continue
    elif isinstance(obj, tuple | list):
        for item in obj:
            yield from _functions(item, seen)


def defeat_shared_results(run: Callable[..., Any]) -> int:
    """Switch off the per-bucket result sharing of every rollout reachable from a compiled flag.

    The compiled closures keep their shared results in a free variable named ``cache`` (a dict);
    it is replaced by a dict that stores nothing. Returns how many caches were replaced (a bench
    that finds none fails rather than reporting a figure that is not what it says)."""
    replaced = 0
    for function in _functions(run, set()):
        for name, cell in zip(function.__code__.co_freevars, function.__closure__ or (), strict=True):
            if name == "cache" and type(cell.cell_contents) is dict:
                cell.cell_contents = _NoStore()
                replaced += 1
    return replaced


def check_shape(evaluator: Any, ctxs: list[dict[str, Any]]) -> dict[str, int]:
    """Prove the complex flag is what it claims, through the engine's own explanation."""
    from experimently_sdk.explain import explain

    conditions = versions = 0
    for ctx in ctxs[:: len(ctxs) // 50]:
        explanation = explain(evaluator, "complex", ctx)
        assert explanation.result.rule_index == 9 and str(explanation.result.reason) == "SPLIT"
        assert len(explanation.rules) == 10
        for trace in explanation.rules:
            held = [c.held for c in trace.conditions]
            assert held == [True, True, trace.index == 9], (trace.index, held)
            conditions += len(held)
            versions += sum(c.operator.startswith("semver") for c in trace.conditions)
    samples = len(ctxs[:: len(ctxs) // 50])
    assert conditions == 30 * samples and versions == 6 * samples
    return {"conditions_per_eval": conditions // samples, "version_tests_per_eval": versions // samples}


SCENARIOS = [
    (flag, mode, kind)
    for mode in ("steady", "defeated")
    for flag in ("simple", "complex")
    for kind in ("evaluate", "evaluate_many")
]


def measure(rounds: int, n: int) -> dict[str, Any]:
    """Runs in the process whose ``experimently_sdk`` is measured; per scenario, per-round rates."""
    from experimently_sdk import Evaluator, Ruleset

    ctxs = contexts(n)
    out: dict[str, Any] = {}
    payload = {"flags": [simple_flag(), complex_flag()], "segments": []}
    evaluators = {}
    for mode in ("steady", "defeated"):
        ruleset = Ruleset.from_payload(payload, strict=True)
        if mode == "defeated":
            replaced = sum(defeat_shared_results(flag.run) for flag in ruleset.compiled.values())
            assert replaced == 2, f"expected 2 shared-result caches, found {replaced}"
        evaluators[mode] = Evaluator(ruleset)
    out["shape"] = check_shape(evaluators["steady"], ctxs)
    import experimently_sdk

    out["engine"] = str(Path(experimently_sdk.__file__).parent)
    for flag, mode, kind in SCENARIOS:
        evaluator = evaluators[mode]
        evaluate = evaluator.evaluate
        if kind == "evaluate":

            def run(flag: str = flag, evaluate: Any = evaluate) -> None:
                for ctx in ctxs:
                    evaluate(flag, ctx)

        else:

            def run(flag: str = flag, evaluator: Any = evaluator) -> None:
                evaluator.evaluate_many(flag, ctxs)

        run()  # warm-up pass (steady: every bucket's result is built here)
        cpu, wall = [], []
        for _ in range(rounds):
            c0, w0 = time.thread_time(), time.perf_counter()
            run()
            cpu.append(n / (time.thread_time() - c0))
            wall.append(n / (time.perf_counter() - w0))
        out[f"{flag}_{mode}_{kind}"] = {"cpu": cpu, "wall": wall}
    return out


def _extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "sdk/python/src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    tar_path = into / "engine.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into / "sdk" / "python" / "src"


def _child(src: Path, rounds: int, n: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--rounds", str(rounds), "--contexts", str(n)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _median(values: list[float]) -> int:
    return round(statistics.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured passes per scenario (median)")
    parser.add_argument("--contexts", type=int, default=N_CONTEXTS)
    parser.add_argument("--baseline", help="git revision whose engine is measured too, interleaved")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline: alternations")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.rounds, args.contexts)))
        return
    load = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"after": []}
    if args.baseline:
        runs["before"] = []
        with tempfile.TemporaryDirectory() as tmp:
            old = _extract(args.baseline, Path(tmp))
            for _ in range(args.repeats):  # interleaved: before, after, before, after...
                runs["before"].append(_child(old, args.rounds, args.contexts))
                runs["after"].append(_child(ENGINE_SRC, args.rounds, args.contexts))
    else:
        runs["after"].append(measure(args.rounds, args.contexts))
    load_after = os.getloadavg()
    figures: dict[str, Any] = {}
    print(f"python {platform.python_version()}, {args.contexts:,} distinct users, load {load[0]:.1f}")
    print("evals/s from thread CPU time, median of every pass (wall-time median in brackets)")
    shape = runs["after"][0]["shape"]
    conditions, versions = shape["conditions_per_eval"], shape["version_tests_per_eval"]
    print(f"complex flag: {conditions} conditions, {versions} version tests per evaluation")
    for flag, mode, kind in SCENARIOS:
        name = f"{flag}_{mode}_{kind}"
        line = f"  {name:32s}"
        for label, results in runs.items():
            cpu = _median([r for result in results for r in result[name]["cpu"]])
            wall = _median([r for result in results for r in result[name]["wall"]])
            figures[f"{name}_{label}"] = cpu
            figures[f"{name}_{label}_wall"] = wall
            line += f"  {label} {cpu:>10,} ({wall:>10,})"
        if "before" in runs:
            line += f"  x{figures[f'{name}_after'] / figures[f'{name}_before']:.2f}"
        print(line)
    print(
        json.dumps(
            {
                "bench": "eval_engine",
                "contexts": args.contexts,
                "rounds": args.rounds,
                "baseline": args.baseline,
                "python": platform.python_version(),
                "load_before": round(load[0], 2),
                "load_after": round(load_after[0], 2),
                **shape,
                **figures,
                "budget_simple": 1_000_000,
                "budget_complex": 100_000,
            }
        )
    )


if __name__ == "__main__":
    main()
