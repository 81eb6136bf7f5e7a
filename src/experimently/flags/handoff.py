"""The flags -> experiments hand-off: a flag rule may hand its decision to a running experiment.

Flags declare what they need; the experiments domain implements it (``experiments.bridge``) and the
wiring plugs it in. Flags call it only for a flag whose rules name an experiment, so evaluating any
other flag never leaves this domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class ExperimentHandoff(Protocol):
    async def evaluate_flag(
        self,
        environment: str,
        flag_key: str,
        experiment_keys: Sequence[str],
        context: Mapping[str, Any],
        default: Any,
    ) -> dict[str, Any]:
        """Evaluate ``flag_key``, whose rules hand their decision to ``experiment_keys``: the experiment a
        rule reaches gets its sticky assignment and exposure; the result is the evaluation's dict."""
        ...

    async def evaluate_many(
        self,
        environment: str,
        flag_key: str,
        experiment_keys: Sequence[str],
        contexts: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """The same for one flag and many units: every experiment decides for all units at once."""
        ...

    async def shipped_flags(self, session: AsyncSession) -> dict[tuple[str, int], dict[str, Any]]:
        """Per (flag key, version) that an experiment's shipping wrote: ``{"experiment", "variant",
        "environment", "at"}`` (the stale-flag report tells a flag nobody changed since from others)."""
        ...

    async def experiment_variants(self, session: AsyncSession) -> dict[str, list[str]]:
        """Every experiment's key and its variants' keys (a flag rule that serves an experiment must
        name one, and map every one of its variants)."""
        ...
