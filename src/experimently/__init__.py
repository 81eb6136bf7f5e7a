"""Experimently: feature flags, experiments, events, statistics and safety."""
