"""The audit trail: one append-only record per change, written by :func:`record`."""

from experimently.audit.service import record, snapshot

__all__ = ["record", "snapshot"]
