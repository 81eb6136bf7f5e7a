"""The retry policy and timeouts of every Redis client of the server: one quick retry, then fail.

redis-py's default (10 retries, exponential backoff up to 1 s) makes each command against a Redis that
is down take ~4 s before it fails, so every request that touches Redis during an outage stalls that
long before its degraded answer (per-process rate limits, a 503 for ingestion). One retry after
10-50 ms is what a *restarted* Redis needs: the first command on a connection the restart closed fails,
the retry reconnects. A Redis that is really down then fails fast, and the callers degrade at once.
"""

from __future__ import annotations

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

RETRIES = 1
# seconds a command may wait for Redis's answer. A Redis that is down refuses at once; one that hangs
# (paused, swapping, a network partition) would otherwise hold every request that touches it until the
# kernel gives up: measured 10-18 s per request with Redis stopped by SIGSTOP. In-datacentre answers
# take well under a millisecond; blocking stream reads ask for less than this (events.pipeline).
SOCKET_TIMEOUT = 0.5


def quick_retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(cap=0.05, base=0.01), RETRIES, (ConnectionError, TimeoutError))
