"""Segments: reusable, named condition sets referenced by flags and experiments."""
