"""The Experimently client: local evaluation kept current by the server's stream, and event tracking.

The pure engine (``experimently_sdk``) does no I/O; this package owns transport, caching, events and
lifecycle. See docs/sdk-python.md.
"""

from .aio import AsyncClient
from .client import ChangeEvent, Client, EvaluationDetail

__all__ = ["AsyncClient", "ChangeEvent", "Client", "EvaluationDetail"]
