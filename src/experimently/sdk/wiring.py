"""The SDK services of a process: the payload builder and the stream hub, set on the runtime."""

from __future__ import annotations

from experimently.auth.keys import NAMESPACE as API_KEYS
from experimently.runtime import Runtime
from experimently.sdk.payload import SdkPayloads
from experimently.sdk.stream import SdkStream


def register_sdk_services(runtime: Runtime) -> None:
    payloads = SdkPayloads(
        runtime.db,
        runtime.cache,
        runtime.flags,
        overrides_max=runtime.settings.sdk_overrides_max,
    )
    runtime.sdk_payloads = payloads
    stream = SdkStream(
        payloads,
        max_per_key=runtime.settings.sdk_stream_max_connections_per_key,
        resync_seconds=runtime.settings.sdk_stream_resync_seconds,
    )
    runtime.sdk_stream = stream

    def keys_invalidated(namespace: str, _key: str | None) -> None:
        # a revoked key (or a deactivated owner's) ends its open streams too, on every instance
        if namespace == API_KEYS:
            stream.keys_changed()

    runtime.cache.on_invalidate(keys_invalidated)
