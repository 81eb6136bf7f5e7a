"""The evaluator: flag key + context -> EvaluationResult. It never raises on bad input."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .compile import CompiledFlag, ExperimentResolver, error_result
from .model import ErrorCode, EvaluationResult
from .ruleset import Ruleset

__all__ = ["Evaluator"]


class Evaluator:
    """Evaluates flags of one :class:`Ruleset`; swap rulesets atomically with :meth:`update`."""

    __slots__ = ("_ruleset",)

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset

    @property
    def ruleset(self) -> Ruleset:
        return self._ruleset

    def update(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset

    def evaluate(
        self,
        flag_key: str,
        context: Mapping[str, Any],
        *,
        default: Any = None,
        experiment_resolver: ExperimentResolver | None = None,
    ) -> EvaluationResult:
        ruleset = self._ruleset
        flag = ruleset.compiled.get(flag_key)
        if flag is None:
            return _missing(ruleset, flag_key, default)
        if default is not None and flag.value_types is not None and type(default) not in flag.value_types:
            return error_result(flag_key, default, ErrorCode.TYPE_MISMATCH)
        if type(context) is not dict and not isinstance(context, Mapping):
            return error_result(flag_key, default, ErrorCode.INVALID_CONTEXT)
        try:
            return flag.run(context, default, experiment_resolver, ruleset, 0)
        except Exception:
            return error_result(flag_key, default, ErrorCode.GENERAL)

    def evaluate_many(
        self,
        flag_key: str,
        contexts: Iterable[Mapping[str, Any]],
        *,
        default: Any = None,
        experiment_resolver: ExperimentResolver | None = None,
    ) -> list[EvaluationResult]:
        """One flag over many contexts (the flag is looked up and checked once)."""
        ruleset = self._ruleset
        flag = ruleset.compiled.get(flag_key)
        if flag is None:
            missing = _missing(ruleset, flag_key, default)
            return [missing for _ in contexts]
        if default is not None and flag.value_types is not None and type(default) not in flag.value_types:
            mismatch = error_result(flag_key, default, ErrorCode.TYPE_MISMATCH)
            return [mismatch for _ in contexts]
        run = flag.run
        results: list[EvaluationResult] = []
        append = results.append
        with _collector_paused():
            for context in contexts:
                if type(context) is not dict and not isinstance(context, Mapping):
                    append(error_result(flag_key, default, ErrorCode.INVALID_CONTEXT))
                    continue
                try:
                    append(run(context, default, experiment_resolver, ruleset, 0))
                except Exception:
                    append(error_result(flag_key, default, ErrorCode.GENERAL))
        return results

    def evaluate_all(
        self,
        context: Mapping[str, Any],
        *,
        defaults: Mapping[str, Any] | None = None,
        experiment_resolver: ExperimentResolver | None = None,
    ) -> dict[str, EvaluationResult]:
        """Every flag of the ruleset (refused flags included, as PARSE_ERROR), keyed by flag key.

        ``defaults`` optionally gives a per-flag default for results with reason ERROR.
        """
        ruleset = self._ruleset
        defaults = defaults or {}
        results = {
            key: self.evaluate(
                key, context, default=defaults.get(key), experiment_resolver=experiment_resolver
            )
            for key in ruleset.compiled
        }
        for key in ruleset.errors:
            results[key] = _missing(ruleset, key, defaults.get(key))
        return results

    def flag(self, flag_key: str) -> CompiledFlag | None:
        return self._ruleset.compiled.get(flag_key)


_pause_lock = threading.Lock()
_pauses = 0
_restore = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch builds its results, as it was after.

    A batch keeps every result it builds alive in its list (named tuples holding an enum member, so
    the collector tracks them); each collection of the older generations then walks all of them
    again, which made ``evaluate_many`` with per-user results about half as fast as ``evaluate`` in a
    loop. Evaluation creates no reference cycles, so nothing the collector could free is made
    meanwhile (reference counting still frees everything). Concurrent batches are counted: the
    collector is switched back on (if it was on before the first) when the last one ends.
    """
    global _pauses, _restore
    with _pause_lock:
        if _pauses == 0:
            _restore = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _restore:
                gc.enable()


def _missing(ruleset: Ruleset, flag_key: str, default: Any) -> EvaluationResult:
    code = ErrorCode.PARSE_ERROR if flag_key in ruleset.errors else ErrorCode.FLAG_NOT_FOUND
    return error_result(flag_key, default, code)
