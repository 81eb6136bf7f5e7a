"""Experiments: lifecycle, deterministic sticky assignment, layers, scheduling, flag integration."""
