"""Errors raised at save time. Evaluation itself never raises."""

from __future__ import annotations

__all__ = ["RuleValidationError"]


class RuleValidationError(ValueError):
    """A flag, segment or experiment targeting was refused.

    ``errors`` lists every problem found as ``(path, message)`` pairs, where ``path`` names the
    offending field exactly (``rules[2].conditions[0].values``, ``fallthrough.rollout.variations``).
    """

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        summary = "; ".join(f"{path}: {message}" for path, message in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invalid configuration: {summary}{more}")
