"""What SDK clients download: the payload for local evaluation (flags, segments, experiments) and the
Server-Sent Events stream that pushes it on every change."""
