"""The SDK services of a process, and the one place that reads them from the runtime."""

from __future__ import annotations

from experimently.runtime import Runtime
from experimently.sdk.payload import SdkPayloads
from experimently.sdk.stream import SdkStream


def register_sdk_services(runtime: Runtime) -> None:
    payloads = SdkPayloads(
        runtime.db,
        runtime.cache,
        runtime.services["flags.evaluation"],
        overrides_max=runtime.settings.sdk_overrides_max,
    )
    runtime.services["sdk.payloads"] = payloads
    runtime.services["sdk.stream"] = SdkStream(
        payloads,
        max_per_key=runtime.settings.sdk_stream_max_connections_per_key,
        resync_seconds=runtime.settings.sdk_stream_resync_seconds,
    )


def sdk_payloads(runtime: Runtime) -> SdkPayloads:
    payloads: SdkPayloads = runtime.services["sdk.payloads"]
    return payloads


def sdk_stream(runtime: Runtime) -> SdkStream:
    hub: SdkStream = runtime.services["sdk.stream"]
    return hub
