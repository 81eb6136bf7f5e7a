"""Client overhead: ``Client.is_enabled`` against the bare engine, and ``track()`` on the caller's thread.

Both clients are real: the ruleset comes from a bootstrap payload, the event sender runs (aimed at a
closed port, so it keeps every event queued and retries in the background); the buffer is large enough
that nothing is dropped. Users cycle over 1,000 ids, so exposures are deduplicated as in a steady
state. Five interleaved rounds, the best of each, timed in CPU time of the calling thread
(``time.thread_time``), which a machine shared with other busy processes disturbs far less than
wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time

from experimently_sdk import Evaluator, Ruleset
from experimently_sdk.client import Client

FLAG = {
    "key": "simple",
    "type": "boolean",
    "version": 1,
    "salt": "simple",
    "enabled": True,
    "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "off_variation": "off",
    "fallthrough": {
        "rollout": {"variations": [{"variation": "on", "weight": 50}, {"variation": "off", "weight": 50}]}
    },
}
GUARDED = {**FLAG, "key": "guarded", "salt": "guarded"}
PAYLOAD = {
    "environment": "bench",
    "flags": [FLAG, GUARDED],
    "segments": [],
    "experiments": [],
    "guarded_rollouts": {"guarded": "rollout-1.1"},  # exposures recorded, as while a rollout runs
}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    users = [f"user-{i % 1000}" for i in range(args.n)]
    evaluator = Evaluator(Ruleset.from_payload(PAYLOAD))
    client = Client(
        "bench",
        f"http://127.0.0.1:{closed_port()}",
        init_timeout=0,
        stream=False,
        bootstrap=PAYLOAD,
        event_capacity=10_000_000,
        poll_interval=3600,
    )

    def bare() -> float:
        evaluate = evaluator.evaluate
        started = time.thread_time()
        for user in users:
            evaluate("simple", {"user_id": user}).value is True  # noqa: B015
        return (time.thread_time() - started) / len(users)

    def through_client(key: str = "simple") -> float:
        is_enabled = client.is_enabled
        started = time.thread_time()
        for user in users:
            is_enabled(key, user)
        return (time.thread_time() - started) / len(users)

    def track() -> float:
        record = client.track
        started = time.thread_time()
        for user in users:
            record("purchase", user, 9.5)
        return (time.thread_time() - started) / len(users)

    # interleaved: the load hits every figure alike
    rounds = [(bare(), through_client(), through_client("guarded"), track()) for _ in range(args.rounds)]
    engine_s, client_s, guarded_s, track_s = (min(r[i] for r in rounds) for i in range(4))
    client._closed = True  # do not wait for the unreachable receiver at exit
    overhead = client_s / engine_s - 1
    guarded_overhead = guarded_s / engine_s - 1
    print(f"bare engine evaluate(): {engine_s * 1e9:,.0f} ns")
    print(f"client is_enabled():    {client_s * 1e9:,.0f} ns  ({overhead:+.1%}; budget <= +20%)")
    print(f"  guarded flag (exposures deduplicated): {guarded_s * 1e9:,.0f} ns ({guarded_overhead:+.1%})")
    print(f"client track():         {track_s * 1e9:,.0f} ns  (budget <= 5,000 ns)")
    print(
        json.dumps(
            {
                "engine_ns": round(engine_s * 1e9),
                "is_enabled_ns": round(client_s * 1e9),
                "is_enabled_overhead": round(overhead, 3),
                "guarded_is_enabled_ns": round(guarded_s * 1e9),
                "guarded_is_enabled_overhead": round(guarded_overhead, 3),
                "track_ns": round(track_s * 1e9),
            }
        )
    )


if __name__ == "__main__":
    main()
