"""The SDK stream endpoint (the payload itself is ``GET /sdk/flags`` in the flags router)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from experimently.auth.deps import ActorDep
from experimently.deps import RuntimeDep
from experimently.errors import AuthenticationRequired
from experimently.kit.context import current as current_request
from experimently.rbac import Permission, require_key_environment

router = APIRouter(prefix="/sdk", tags=["sdk"])
SHUTDOWN_GRACE_SECONDS = 2.0  # how long an open stream has to end itself once the server stops


@router.get("/stream", response_class=EventSourceResponse)
async def stream(request: Request, actor: ActorDep, runtime: RuntimeDep) -> EventSourceResponse:
    """Server-Sent Events: the payload of `GET /sdk/flags` on connect and after every change."""
    environment = require_key_environment(actor, Permission.EVALUATE, "evaluate")
    hub = runtime.sdk_stream
    channel = await hub.open(actor.id, environment)
    # on a server shutdown the stream ends itself, so the response completes (the client reconnects
    # elsewhere) instead of being cut mid-body with an ERROR line per open stream
    shutdown = anyio.Event()
    secret, ip = request.headers.get("x-api-key", ""), current_request().ip

    async def key_valid() -> bool:
        """False once the key is refused (revoked, expired, owner deactivated); an outage of the
        database leaves the stream open (connected clients keep what they have)."""
        try:
            await runtime.api_keys.authenticate(secret, ip)
        except AuthenticationRequired:
            return False
        except Exception:
            return True
        return True

    events = hub.events(
        actor.id, environment, channel, request.headers.get("last-event-id"), shutdown, key_valid
    )
    return EventSourceResponse(
        events,
        ping=runtime.settings.sdk_stream_heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
