"""The SDK services of a process: the payload builder and the stream hub, set on the runtime."""

from __future__ import annotations

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
    runtime.sdk_stream = SdkStream(
        payloads,
        max_per_key=runtime.settings.sdk_stream_max_connections_per_key,
        resync_seconds=runtime.settings.sdk_stream_resync_seconds,
    )
