"""Event properties treated as personal data (``EXPERIMENTLY_PII_PROPERTIES``, per environment) are
encrypted with the key ring at ingestion, before the event is queued: the queue, the stream and the
``events`` table only ever hold ciphertext (``"fernet:..."`` in place of the value). They are decrypted
for the privacy export alone; erasure deletes the rows as for any event.

Consequences, stated in docs/security.md: a metric cannot filter on an encrypted property (its value
is ciphertext), and changing the list affects events ingested from then on only."""

from __future__ import annotations

from typing import Any

from experimently.db import Database
from experimently.encryption.keyring import KeyRing, KeyRingError
from experimently.events import repository
from experimently.events.validation import EventRow

BATCH = 1000


def protect(rows: list[EventRow], names: frozenset[str], keyring: KeyRing) -> list[EventRow]:
    """The rows with the values of the PII properties ``names`` encrypted."""
    out = []
    for row in rows:
        hits = names.intersection(row.properties)
        if not hits:
            out.append(row)
            continue
        properties = dict(row.properties)
        for name in hits:
            properties[name] = keyring.encrypt_json(properties[name])
        out.append(row._replace(properties=properties))
    return out


def reveal(properties: dict[str, Any], keyring: KeyRing) -> dict[str, Any]:
    """Decrypted properties for the privacy export (a value no key decrypts is left as stored)."""
    out = dict(properties)
    for name, value in properties.items():
        if isinstance(value, str) and keyring.is_encrypted(value):
            try:
                out[name] = keyring.decrypt_json(value)
            except (KeyRingError, ValueError):
                out[name] = value
    return out


def _rotated(properties: dict[str, Any], keyring: KeyRing) -> dict[str, Any] | None:
    changed = False
    out = dict(properties)
    for name, value in properties.items():
        if isinstance(value, str) and keyring.is_encrypted(value) and not keyring.is_current(value):
            out[name] = keyring.rotate(value)
            changed = True
    return out if changed else None


async def reencrypt_events(db: Database, keyring: KeyRing) -> int:
    """Re-encrypt the PII properties of stored events under the newest key, a batch per transaction."""
    changed = 0
    after = 0
    while True:
        async with db.transaction() as session:
            rows = await repository.with_encrypted_properties(session, after, BATCH)
            for event in rows:
                rotated = _rotated(event.properties, keyring)
                if rotated is not None:
                    event.properties = rotated
                    changed += 1
        if len(rows) < BATCH:
            return changed
        after = rows[-1].seq
