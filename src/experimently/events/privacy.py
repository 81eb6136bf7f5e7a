"""The events domain's privacy provider: raw events (the statistics derived from them are the metrics
domain's, ``metrics/privacy.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.encryption.keyring import KeyRing
from experimently.events import repository
from experimently.events.pii import reveal
from experimently.events.schemas import EventRead
from experimently.privacy import PrivacyProvider


def events_provider(keyring: KeyRing) -> PrivacyProvider:
    """Raw events; PII properties (stored encrypted) come back decrypted in the export."""

    async def export_events(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
        rows = await repository.events_of_user(session, user_id)
        out = []
        for r in rows:
            item = EventRead.model_validate(r)
            item.properties = reveal(item.properties, keyring)
            out.append(item.model_dump(mode="json"))
        return out

    return PrivacyProvider("events", export_events, repository.erase_user)
