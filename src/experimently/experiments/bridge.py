"""Flags that serve experiments: a flag rule hands its decision to a running experiment and maps the
experiment's variants to flag variations. Product code asks the flag; the experiment still gets its
sticky assignment and exposure — but only when evaluation actually reaches that rule.

Implements the hand-off flags declare (:class:`experimently.flags.handoff.ExperimentHandoff`); flags
call it only for flags whose rules name an experiment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from experimently.db import Database
from experimently.experiments import repository
from experimently.experiments.assign import AssignmentService, Decision
from experimently.experiments.schemas import AssignRequest
from experimently.flags.evaluation import FlagEvaluation


class FlagExperimentBridge:
    def __init__(self, db: Database, flags: FlagEvaluation, assignments: AssignmentService) -> None:
        self.db = db
        self.flags = flags
        self.assignments = assignments

    async def evaluate_flag(
        self,
        environment: str,
        flag_key: str,
        experiment_keys: Sequence[str],
        context: Mapping[str, Any],
        default: Any,
    ) -> dict[str, Any]:
        keys = experiment_keys
        definitions = await self.assignments.definitions()
        async with self.db.transaction() as session:
            candidates: dict[str, Decision] = {}
            for key in keys:
                exp = definitions.get(key)
                if exp is not None:
                    request = AssignRequest(context=dict(context))
                    candidates[key] = (await self.assignments.decide(session, environment, exp, [request]))[0]
            reached: set[str] = set()

            def resolver(key: str, _context: Mapping[str, Any]) -> str | None:
                decision = candidates.get(key)
                if decision is None or decision.result.variant is None:
                    return None
                reached.add(key)
                return decision.result.variant

            result = await self.flags.evaluate(environment, flag_key, context, default, resolver)
            for key in reached:
                await self.assignments.persist(session, environment, definitions[key], [candidates[key]])
        return result.to_dict()

    async def evaluate_many(
        self,
        environment: str,
        flag_key: str,
        experiment_keys: Sequence[str],
        contexts: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """One flag for many users: each experiment decides for all units at once (one read of stored
        assignments), and the reached decisions are stored in one transaction — the same answers and
        side effects as ``evaluate_one`` per user."""
        keys = experiment_keys
        definitions = await self.assignments.definitions()
        async with self.db.transaction() as session:
            decided: dict[str, list[Decision]] = {}
            for key in keys:
                exp = definitions.get(key)
                if exp is not None:
                    requests = [AssignRequest(context=dict(c)) for c in contexts]
                    decided[key] = await self.assignments.decide(session, environment, exp, requests)
            reached: dict[str, dict[int, Decision]] = {}
            results: list[dict[str, Any]] = []
            for index, context in enumerate(contexts):

                def resolver(key: str, _context: Mapping[str, Any], index: int = index) -> str | None:
                    decisions = decided.get(key)
                    if decisions is None or decisions[index].result.variant is None:
                        return None
                    reached.setdefault(key, {})[index] = decisions[index]
                    return decisions[index].result.variant

                result = await self.flags.evaluate(environment, flag_key, context, None, resolver)
                results.append(result.to_dict())
            for key, chosen in reached.items():
                await self.assignments.persist(session, environment, definitions[key], list(chosen.values()))
        return results

    async def shipped_flags(self, session: AsyncSession) -> dict[tuple[str, int], dict[str, Any]]:
        found: dict[tuple[str, int], dict[str, Any]] = {}
        for experiment, environment, shipped in await repository.shipped(session):
            for changed in shipped.get("flags") or []:
                found[(str(changed["key"]), int(changed["version"]))] = {
                    "experiment": experiment,
                    "variant": str(shipped["variant"]),
                    "environment": environment,
                    "at": shipped["at"],
                }
        return found

    async def experiment_variants(self, session: AsyncSession) -> dict[str, list[str]]:
        return await repository.variant_keys(session)
