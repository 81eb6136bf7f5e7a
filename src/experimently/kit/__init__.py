"""Domain-free helpers: clock, ids, envelopes, pagination, ORM types."""
