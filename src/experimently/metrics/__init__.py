"""Metric definitions and the aggregation of events into per-variant sufficient statistics."""
