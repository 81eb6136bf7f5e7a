"""Event tracking: ingestion, the queue/stream pipeline, the batch writer, raw storage and retention."""
