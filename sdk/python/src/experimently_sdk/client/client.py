"""The application's client: local evaluation on the latest ruleset, events sent in the background.

Nothing here raises into the caller and nothing blocks the caller's thread except the documented waits:
``init_timeout`` in the constructor, and ``sticky_timeout`` the first time a unit meets an experiment
the payload marks ``assignment: server`` (see docs/sdk-python.md, "Consistency with the server").
"""

from __future__ import annotations

import atexit
import contextlib
import inspect
import json
import logging
import math
import numbers
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from ..assignment import assign
from ..bucketing import unit_text
from ..model import ErrorCode, EvaluationResult, Reason
from .events import (
    MAX_BATCH,
    USER_ID_MAX,
    Dedup,
    EventProcessor,
    exposure_id,
    flag_exposure_id,
    invalid_event,
    invalid_name,
    invalid_user,
)
from .local import EMPTY, RUNNING, LocalExperiment, Snapshot, build_snapshot, changed_keys
from .updater import Updater

log = logging.getLogger("experimently_sdk")

__all__ = ["ChangeEvent", "Client", "EvaluationDetail"]

VERSION = "0.2.0"
_BOOL = (bool,)
_JSON = {"Content-Type": "application/json"}
_WARNED_NAMES_MAX = 1_000  # event names whose invalid events were logged at warning level
MIN_POLL_INTERVAL = 1.0  # seconds: the shortest poll_interval used
# seconds: the shortest reconnect_cap used (a smaller one reconnected in a tight loop while the server
# was down: hundreds of connection attempts a second)
MIN_RECONNECT_CAP = 1.0
MAX_DELAY = (2**31 - 1) / 1000  # seconds: the longest wait an option takes (the JS client's longest timer)
_COUNT_MAX = 2**53 - 1  # the largest count an option takes (the JS client's, for parity)

# Each numeric option's smallest and largest value, and whether it counts (a whole number) or waits
# (seconds). A value outside, or not a number, is one warning and the default (``checked_number``).
_BOUNDS: dict[str, tuple[float, float, Literal["count", "s"]]] = {
    "init_timeout": (0.0, MAX_DELAY, "s"),  # 0: the constructor does not wait
    "poll_interval": (MIN_POLL_INTERVAL, MAX_DELAY, "s"),
    "reconnect_cap": (MIN_RECONNECT_CAP, MAX_DELAY, "s"),
    "stream_read_timeout": (0.001, MAX_DELAY, "s"),
    "event_capacity": (1, _COUNT_MAX, "count"),
    "event_batch_size": (1, MAX_BATCH, "count"),
    "flush_interval": (0.001, MAX_DELAY, "s"),  # 0 sent in a tight loop: a core busy with nothing to send
    "dedup_capacity": (1, _COUNT_MAX, "count"),
    "sticky_timeout": (0.0, MAX_DELAY, "s"),
    "http_timeout": (0.001, MAX_DELAY, "s"),
    "close_timeout": (0.0, MAX_DELAY, "s"),
}
# below its smallest value (or not a number), an option with a floor is the floor, not the default
_FLOORS = {"poll_interval": "polling every", "reconnect_cap": "reconnecting after at most"}


@dataclass(frozen=True, slots=True)
class EvaluationDetail:
    """What ``variation_detail`` returns: the value and why (OpenFeature's reasons and error codes)."""

    flag_key: str
    value: Any
    variation: str | None
    reason: str
    error_code: str | None = None
    rule_id: str | None = None
    experiment_key: str | None = None
    experiment_variant: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A new ruleset is in use: its version and the flag and experiment keys whose definition changed."""

    version: str
    keys: frozenset[str]


Listener = Callable[[ChangeEvent], None]


class _Resolver:
    """Experiment decisions for one snapshot (flags that serve experiments, and ``get_variant``)."""

    __slots__ = (
        "booleans",
        "client",
        "environment",
        "evaluate",
        "guarded",
        "guarded_booleans",
        "ruleset",
        "snapshot",
    )

    def __init__(self, client: Client, snapshot: Snapshot) -> None:
        self.client = client
        self.snapshot = snapshot
        self.evaluate = snapshot.evaluator.evaluate
        self.ruleset = snapshot.evaluator.ruleset
        self.environment = str(snapshot.payload.get("environment") or "")
        # flag key -> rollout step marker: the flags whose exposures are sent (see _flag_exposure)
        self.guarded = snapshot.guarded
        # boolean flags without a guarded rollout, for is_enabled's direct path (nothing to record)
        booleans = {k: f for k, f in self.ruleset.compiled.items() if f.value_types == _BOOL}
        self.booleans = {k: f for k, f in booleans.items() if k not in self.guarded}
        self.guarded_booleans = {k: (f, self.guarded[k]) for k, f in booleans.items() if k in self.guarded}

    def __call__(self, key: str, context: Mapping[str, Any]) -> str | None:
        exp = self.snapshot.experiments.get(key)
        if exp is None or exp.status != RUNNING:
            return None
        unit = unit_text(context.get(exp.bucket_by))
        if not unit:  # none, or empty: an empty unit names nobody (the server leaves it out too)
            return None
        if len(unit) > USER_ID_MAX:  # the server leaves such a unit out of experiments: so does the SDK
            self.client._unit_too_long(exp.key, unit)
            return None
        if exp.overrides and unit in exp.overrides:
            variant: str | None = exp.overrides[unit]
        elif exp.server_sticky:
            variant = self.client._server_variant(exp, unit, context)
        else:
            variant = assign(exp.compiled, context, self.snapshot.segments).variant
        if variant is not None:
            self.client._exposure(exp.key, unit, variant)
        return variant


class Client:
    """``Client(sdk_key, base_url=...)``: see docs/sdk-python.md for every option."""

    def __init__(
        self,
        sdk_key: str,
        base_url: str = "http://127.0.0.1:8000",
        *,
        init_timeout: float = 5.0,
        stream: bool = True,
        poll_interval: float = 30.0,
        offline: bool = False,
        bootstrap: str | Path | Mapping[str, Any] | None = None,
        send_events: bool = True,
        event_capacity: int = 10_000,
        event_batch_size: int = 500,
        flush_interval: float = 2.0,
        dedup_capacity: int = 100_000,
        sticky_timeout: float = 0.5,
        http_timeout: float = 5.0,
        close_timeout: float = 5.0,
        stream_read_timeout: float = 60.0,
        reconnect_cap: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # the numeric options as used: out of range or not a number, one warning and the default
        init_timeout = checked_number("init_timeout", init_timeout)
        poll_interval = checked_number("poll_interval", poll_interval)
        reconnect_cap = checked_number("reconnect_cap", reconnect_cap)
        stream_read_timeout = checked_number("stream_read_timeout", stream_read_timeout)
        event_capacity = int(checked_number("event_capacity", event_capacity))
        event_batch_size = int(checked_number("event_batch_size", event_batch_size))
        flush_interval = checked_number("flush_interval", flush_interval)
        dedup_capacity = int(checked_number("dedup_capacity", dedup_capacity))
        sticky_timeout = checked_number("sticky_timeout", sticky_timeout)
        http_timeout = checked_number("http_timeout", http_timeout)
        close_timeout = checked_number("close_timeout", close_timeout)
        key, base, problem = _checked_settings(sdk_key, base_url)
        self.base_url = base
        self.close_timeout = close_timeout
        self.sticky_timeout = sticky_timeout
        self._snapshot = EMPTY
        self._resolver = _Resolver(self, EMPTY)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()  # the first fetch has an answer (a ruleset or a failure)
        self._installed = threading.Event()  # a ruleset is in use
        self._closed = False
        self._offline = offline or problem is not None
        self._dedup = Dedup(dedup_capacity)  # experiment exposures
        # flag exposures: (rollout step marker, unit, variation), bounded, read inline on the hot path
        self._flag_seen: dict[tuple[str, str, str | None], None] = {}
        self._dedup_capacity = dedup_capacity
        self._sticky: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._sticky_capacity = dedup_capacity
        self._warned_names: set[str] = set()  # event names already warned about (invalid events)
        self._warned_long_unit = False
        headers = {"X-API-Key": key, "User-Agent": f"experimently-sdk-python/{VERSION}"}
        self._http_args: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": headers,
            "timeout": http_timeout,
            "transport": transport,
        }
        # what the background parts are made of, again in a forked child (see _after_fork)
        self._events_args: dict[str, Any] | None = (
            {"capacity": event_capacity, "batch_size": event_batch_size, "flush_interval": flush_interval}
            if send_events
            else None
        )
        self._updater_args: dict[str, Any] = {
            "stream": stream,
            "poll_interval": poll_interval,
            "read_timeout": stream_read_timeout,
            "backoff_cap": reconnect_cap,
        }
        self._updater: Updater | None = None
        self._events: EventProcessor | None = None
        self._sticky_http: httpx.Client | None = None
        self._after_close_said = False
        if bootstrap is not None:
            self._load_bootstrap(bootstrap)
        if problem is not None:
            log.error("experimently: %s; serving %s, with no network", problem, self._serving())
        if self._offline:
            self._ready.set()
            return
        self._start_background()
        _CLIENTS.add(self)
        if init_timeout > 0 and not self._ready.wait(init_timeout):
            log.warning("experimently: no ruleset within %ss; serving %s", init_timeout, self._serving())

    def _start_background(self) -> None:
        """The HTTP clients and the two background threads: ruleset updates, and events."""
        try:
            self._sticky_http = httpx.Client(**self._http_args)
            if self._events_args is not None:
                events_http = httpx.Client(**self._http_args)
                self._events = EventProcessor(
                    lambda body: events_http.post("/api/v1/events/batch", content=body, headers=_JSON),
                    **self._events_args,
                )
            self._updater = Updater(
                httpx.Client(**self._http_args),
                self._on_payload,
                on_first_attempt=self._ready.set,
                **self._updater_args,
            )
            self._updater.version = self._snapshot.version
            self._updater.start()
        except Exception:
            log.exception("experimently: client start failed; serving defaults")

    def _after_fork(self) -> None:
        """In a child process (``os.fork``: gunicorn's ``--preload``, multiprocessing): the parent's
        threads and connections did not come along, so the child gets its own, keeping the ruleset.
        Events the parent had queued are the parent's to send: the child's copy is dropped."""
        if self._closed or self._offline:
            return
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._ready = threading.Event()
        self._ready.set()
        self._updater = self._events = self._sticky_http = None
        self._start_background()

    # ----- state -----------------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        """True once a ruleset (from the server or a bootstrap) is in use."""
        return self._snapshot.version is not None

    @property
    def version(self) -> str | None:
        return self._snapshot.version

    @property
    def dropped_events(self) -> int:
        return self._events.dropped if self._events is not None else 0

    def wait_for_initialization(self, timeout: float) -> bool:
        """Wait until a ruleset (the server's or a bootstrap) is in use, at most ``timeout`` seconds;
        True once one is. Unlike the constructor it keeps waiting through a failed first fetch (the
        server may be starting); an offline client without a bootstrap answers False at once."""
        if self.initialized:
            return True
        if self._offline or self._closed:
            return False
        return self._installed.wait(timeout)

    def on_change(self, listener: Listener) -> None:
        """``listener(ChangeEvent)`` runs on the client's update thread after each new ruleset."""
        self._listeners.append(listener)

    def _serving(self) -> str:
        return "the bootstrap ruleset" if self.initialized else "the caller's defaults"

    def _load_bootstrap(self, source: str | Path | Mapping[str, Any]) -> None:
        try:
            raw: Any = source
            if not isinstance(source, Mapping):
                raw = json.loads(Path(source).read_text(encoding="utf-8"))
            payload = raw.get("data", raw) if isinstance(raw, Mapping) else None
            if not isinstance(payload, Mapping) or "flags" not in payload:
                raise ValueError("not an SDK payload (GET /api/v1/sdk/flags)")
            self._install("bootstrap", payload)
        except Exception as exc:
            log.error("experimently: bootstrap ignored: %r", exc)

    def _on_payload(self, version: str, payload: Mapping[str, Any]) -> None:
        try:
            self._install(version, payload)
        except Exception:
            log.exception("experimently: ruleset %s could not be used; keeping the previous one", version)

    def _install(self, version: str, payload: Mapping[str, Any]) -> None:
        with self._lock:
            old = self._snapshot
            new = build_snapshot(version, payload, old)
            changed = changed_keys(old, new)
            stale = {k for k in changed if k in old.experiments}
            if stale:
                for entry in [e for e in self._sticky if e[0] in stale]:
                    self._sticky.pop(entry, None)
            self._resolver = _Resolver(self, new)
            self._snapshot = new
        self._installed.set()
        self._ready.set()
        event = ChangeEvent(version, frozenset(changed))
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("experimently: change listener failed")

    # ----- evaluation ------------------------------------------------------------------------------

    def variation_detail(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> EvaluationDetail:
        """The flag's value for this user, with the reason, variation and error code."""
        result = self._evaluate(flag_key, user_id, attributes, default)
        return EvaluationDetail(
            flag_key,
            result.value,
            result.variation,
            str(result.reason),
            None if result.error_code is None else str(result.error_code),
            result.rule_id,
            result.experiment_key,
            result.experiment_variant,
        )

    def variation(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: Any = None,
    ) -> Any:
        return self._evaluate(flag_key, user_id, attributes, default).value

    def is_enabled(
        self,
        flag_key: str,
        user_id: str | int | None = None,
        attributes: Mapping[str, Any] | None = None,
        default: bool = False,
    ) -> bool:
        # _evaluate inlined: the commonest call pays for no second function call
        try:
            if attributes is None:
                context: dict[str, Any] = {} if user_id is None else {"user_id": user_id}
            else:
                context = dict(attributes)
                if user_id is not None:
                    context["user_id"] = user_id
            resolver = self._resolver
            flag = resolver.booleans.get(flag_key)
            if flag is not None and type(default) is bool:
                # a boolean flag with no guarded rollout and a bool default: what Evaluator.evaluate
                # does, minus a call level, and no flag exposure to record
                return flag.run(context, default, resolver, resolver.ruleset, 0).value is True
            guarded = resolver.guarded_booleans.get(flag_key)
            if guarded is not None and type(default) is bool:
                # under a guarded rollout: the same, then the flag exposure (a unit already sent
                # costs a tuple and a dictionary look-up)
                flag, step = guarded
                result = flag.run(context, default, resolver, resolver.ruleset, 0)
                unit = context.get("user_id")
                if type(unit) is not str or (step, unit, result.variation) not in self._flag_seen:
                    self._flag_exposure(resolver, flag_key, step, unit, result.variation)
                return result.value is True
            result = resolver.evaluate(flag_key, context, default=default, experiment_resolver=resolver)
            marker = resolver.guarded.get(flag_key)
            if marker is not None:
                unit = context.get("user_id")
                if type(unit) is not str or (marker, unit, result.variation) not in self._flag_seen:
                    self._flag_exposure(resolver, flag_key, marker, unit, result.variation)
            return result.value is True
        except Exception:
            log.exception("experimently: evaluation of %r failed", flag_key)
            return default is True

    def _evaluate(
        self, flag_key: str, user_id: str | int | None, attributes: Mapping[str, Any] | None, default: Any
    ) -> EvaluationResult:
        # the hot path: kept flat (measured in bench/sdk_client.py against the bare engine)
        try:
            if attributes is None:
                context: dict[str, Any] = {} if user_id is None else {"user_id": user_id}
            else:
                context = dict(attributes)
                if user_id is not None:
                    context["user_id"] = user_id
            resolver = self._resolver
            result = resolver.evaluate(flag_key, context, default=default, experiment_resolver=resolver)
            marker = resolver.guarded.get(flag_key)
            if marker is not None:
                unit = context.get("user_id")
                if type(unit) is not str or (marker, unit, result.variation) not in self._flag_seen:
                    self._flag_exposure(resolver, flag_key, marker, unit, result.variation)
            return result
        except Exception:
            log.exception("experimently: evaluation of %r failed", flag_key)
            return EvaluationResult(flag_key, default, None, Reason.ERROR, error_code=ErrorCode.GENERAL)

    def all_flags(
        self, user_id: str | int | None = None, attributes: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Every flag's value for this user (flags the ruleset refused are left out)."""
        try:
            snapshot = self._resolver.snapshot
            return {
                key: self._evaluate(key, user_id, attributes, None).value
                for key in snapshot.evaluator.ruleset.compiled
            }
        except Exception:
            log.exception("experimently: all_flags failed")
            return {}

    def get_variant(
        self, experiment_key: str, unit_id: str | int, attributes: Mapping[str, Any] | None = None
    ) -> str | None:
        """The unit's variant of a running experiment, or None (not running, not targeted, excluded)."""
        try:
            resolver = self._resolver
            exp = resolver.snapshot.experiments.get(experiment_key)
            if exp is None:
                return None
            context = dict(attributes) if attributes else {}
            context[exp.bucket_by] = unit_id
            return resolver(experiment_key, context)
        except Exception:
            log.exception("experimently: get_variant of %r failed", experiment_key)
            return None

    def _server_variant(self, exp: LocalExperiment, unit: str, context: Mapping[str, Any]) -> str | None:
        """An experiment whose stored assignments may differ from the buckets: ask the server once per
        unit (bounded by ``sticky_timeout``) and remember; when it cannot answer, the buckets decide."""
        entry = (exp.key, unit)
        with self._lock:
            if entry in self._sticky:
                self._sticky.move_to_end(entry)
                return self._sticky[entry]
        fallback = assign(exp.compiled, context, self._resolver.snapshot.segments).variant
        if self._sticky_http is None:
            return fallback
        try:
            body = {"unit_id": unit, "context": {k: v for k, v in context.items() if k != exp.bucket_by}}
            response = self._sticky_http.post(
                f"/api/v1/experiments/{exp.key}/assign", json=body, timeout=self.sticky_timeout
            )
            if response.status_code != 200:
                log.info("experimently: sticky look-up answered %s", response.status_code)
                return fallback
            variant = response.json()["data"]["variant"]
        except Exception as exc:
            log.info("experimently: sticky look-up failed (%r); using the buckets", exc)
            return fallback
        with self._lock:
            self._sticky[entry] = variant
            while len(self._sticky) > self._sticky_capacity:
                self._sticky.popitem(last=False)
        return None if variant is None else str(variant)

    # ----- events ----------------------------------------------------------------------------------

    def track(
        self,
        name: str,
        user_id: str | int,
        value: float | None = None,
        properties: dict[str, Any] | None = None,
    ) -> None:
        """Queue an event (no I/O here; a background thread sends batches). An event that could never
        be sent (a value that is not a finite number, properties that are not strict JSON) is not
        queued: it is logged and counted in ``dropped_events``."""
        events = self._events
        if events is not None:
            try:
                if self._closed:
                    self._after_close(events)
                    return
                problem = invalid_name(name) or invalid_user(user_id) or invalid_event(value, properties)
                if problem is not None:
                    self._invalid(events, name if isinstance(name, str) else repr(name)[:100], problem)
                    return
                number = None if value is None else float(value)
                events.add((None, name, str(user_id), number, properties, None, None, time.time()))
            except Exception:
                log.exception("experimently: track failed")

    def _after_close(self, events: EventProcessor) -> None:
        events.lost_after_close()
        if not self._after_close_said:
            self._after_close_said = True
            log.warning(
                "experimently: the client is closed: events tracked after close() are not sent (said "
                "once; each is counted in dropped_events)"
            )

    def _invalid(self, events: EventProcessor, name: str, problem: str) -> None:
        events.dropped += 1
        warned = self._warned_names
        if name in warned or len(warned) >= _WARNED_NAMES_MAX:
            log.debug("experimently: event %r not sent: %s", name, problem)
            return
        warned.add(name)
        log.warning("experimently: event %r not sent: %s (said once per event name)", name, problem)

    def _unit_too_long(self, experiment_key: str, unit: str) -> None:
        if not self._warned_long_unit:
            self._warned_long_unit = True
            log.warning(
                "experimently: a unit of %d characters is in no experiment (%r): the server stores at most "
                "%d (said once per client)",
                len(unit),
                experiment_key,
                USER_ID_MAX,
            )

    def _too_long(self, events: EventProcessor, kind: str, unit: str) -> bool:
        """True (and the exposure counted as dropped) when ``unit`` is longer than the server takes
        as a ``user_id``, or holds a lone surrogate (no UTF-8, so no server takes it): the server
        would refuse the exposure, so it is not queued."""
        if not unit.isascii():
            try:
                unit.encode()
            except UnicodeEncodeError:
                events.dropped += 1
                log.debug("experimently: %s of a unit holding a lone surrogate not sent", kind)
                return True
        if len(unit) <= USER_ID_MAX:
            return False
        events.dropped += 1
        if not self._warned_long_unit:
            self._warned_long_unit = True
            log.warning(
                "experimently: %s of a unit of %d characters not sent: the server takes at most %d "
                "(said once per client; each is counted in dropped_events)",
                kind,
                len(unit),
                USER_ID_MAX,
            )
        return True

    def _exposure(self, experiment_key: str, unit: str, variant: str) -> None:
        events = self._events
        # after close() evaluation still works, and nothing is recorded any more
        if events is None or self._closed or not self._dedup.first(("e", experiment_key, unit, variant)):
            return
        if self._too_long(events, "an exposure", unit):
            return
        # the server's own exposure id: an exposure is stored once whoever sends it
        item = (exposure_id(experiment_key, unit), "exposure", unit, None, None)
        events.add((*item, experiment_key, variant, time.time()))

    def _flag_exposure(
        self, resolver: _Resolver, flag_key: str, marker: str, unit: Any, variation: str | None
    ) -> None:
        """A flag under a guarded rollout was served: the first time per (rollout step, unit, variation)
        queue the ``flag_exposure`` the server itself would record, with the server's deterministic id
        (so it is stored once whoever sends it). Other flags record nothing, as on the server."""
        if variation is None or not isinstance(unit, str | int) or isinstance(unit, bool):
            return
        events = self._events
        seen = self._flag_seen
        key = (marker, str(unit), variation)
        if events is None or key in seen or self._closed:
            return
        seen[key] = None
        if len(seen) > self._dedup_capacity:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread trimmed it
                del seen[next(iter(seen))]
        if self._too_long(events, "a flag exposure", key[1]):
            return
        event_id = flag_exposure_id(resolver.environment, marker, str(unit), variation)
        properties = {"flag": flag_key, "variation": variation}
        events.add((event_id, "flag_exposure", str(unit), None, properties, None, None, time.time()))

    def flush(self, timeout: float | None = None) -> bool:
        """Send queued events now; True when everything was accepted within ``timeout`` (None:
        ``close_timeout``)."""
        if self._events is None:
            return True
        try:
            return self._events.flush(self.close_timeout if timeout is None else timeout)
        except Exception:
            log.exception("experimently: flush failed")
            return False

    # ----- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop updates, send what is queued (up to ``close_timeout``), release connections."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._updater is not None:
                self._updater.stop()
                self._updater.http.close()
            if self._events is not None:
                self._events.close(self.close_timeout)
            if self._sticky_http is not None:
                self._sticky_http.close()
        except Exception:
            log.exception("experimently: close failed")
        _CLIENTS.discard(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe(value: Any) -> str:
    """What a log line may say of a value the application passed: numbers and None as they are,
    anything else by its type only (a string may be a secret)."""
    if isinstance(value, str):
        return "an empty string" if value == "" else "a str"
    if value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool)):
        with contextlib.suppress(ValueError):  # an int of more digits than str() writes
            text = str(value)
            return text if len(text) <= 40 else f"{text[:20]}…"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _number(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a number (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond a float's range: out of range either way
        return -math.inf if isinstance(value, int) and value < 0 else math.inf
    except (TypeError, ValueError):
        return None


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def checked_number(name: str, value: Any) -> float:
    """The numeric option ``name`` as it will be used (see :data:`_BOUNDS`): within its range, and a
    whole number for a count; else one warning and the default. ``poll_interval`` and
    ``reconnect_cap`` below their floor, or not a number, are the floor instead (0 polled or
    reconnected in a tight loop)."""
    low, high, kind = _BOUNDS[name]
    default = _DEFAULTS[name]
    number = _number(value)
    if name in _FLOORS and (number is None or not number >= low):  # NaN included
        log.warning(
            "experimently: %s %s is below %ss or not a number: %s %ss",
            name,
            describe(value),
            low,
            _FLOORS[name],
            low,
        )
        return low
    if number is not None and low <= number <= high and (kind == "s" or number.is_integer()):
        return number
    what = "a number of seconds" if kind == "s" else "a whole number"
    log.warning(
        "experimently: %s must be %s from %s to %s, not %s: using the default, %s",
        name,
        what,
        _shown(low),
        _shown(high),
        describe(value),
        default,
    )
    return default


def _checked_settings(sdk_key: Any, base_url: Any) -> tuple[str, str, str | None]:
    """The key and the server's root URL as they will be used, and what makes them unusable (then
    the client starts with no network). Never puts the key itself in a message."""
    key = sdk_key.strip() if isinstance(sdk_key, str) else ""
    if not isinstance(base_url, str) or not base_url.strip():
        return key, "", f"base_url must be the server's URL, not {base_url!r}"
    base = base_url.strip().rstrip("/")
    if not base.lower().startswith(("http://", "https://")):
        return key, base, f"base_url must be an http:// or https:// URL, not {base_url!r}"
    if base.endswith("/api/v1"):
        base = base.removesuffix("/api/v1")
        log.warning("experimently: base_url is the server's root, not its API: using %r", base)
    if not key:
        return key, base, "no SDK key given (sdk_key is empty)"
    if not key.isascii() or not key.isprintable() or " " in key:
        return key, base, "the SDK key holds characters no HTTP header carries (check how it is loaded)"
    return key, base, None


# each numeric option's default, as the constructor's signature says
_DEFAULTS: dict[str, float] = {
    name: parameter.default
    for name, parameter in inspect.signature(Client).parameters.items()
    if name in _BOUNDS
}

_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:  # pragma: no cover - runs at interpreter exit
    for client in list(_CLIENTS):
        client.close()


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        try:
            client._after_fork()
        except Exception:
            log.exception("experimently: the client could not restart in the forked process")


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
