"""Metric property conditions: a subset of the targeting language evaluated IN SQL over the event's
JSON ``properties``, with the same text on SQLite and PostgreSQL.

Supported operators: ``eq neq in not_in gt gte lt lte exists not_exists`` (with ``negate``).
Semantics (documented in docs/events.md):

- an absent or ``null`` property makes every condition false (``negate`` included), except
  ``exists`` / ``not_exists``;
- ``neq`` / ``not_in`` are exactly ``not eq`` / ``not in`` on a present property;
- equality is typed: a string value matches a JSON string, a number a JSON number (numerically), a
  boolean a JSON boolean; numeric operators match JSON numbers only; list/object properties never
  match a scalar operator. (The engine's loose equality, ``42 == "42"``, is not reproduced in SQL.)

Other operators and ``case_insensitive`` are refused at save time with the condition's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from experimently_sdk import RuleValidationError, validate_experiment_targeting

SUPPORTED = frozenset({"eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "not_exists"})
_NUMERIC = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def validate(conditions: Any) -> list[dict[str, str]]:
    """Problems as ``[{"path", "message"}]`` (empty when the conditions can be evaluated in SQL)."""
    try:
        validate_experiment_targeting(conditions, {})
    except RuleValidationError as exc:
        return [{"path": path, "message": message} for path, message in exc.errors]
    problems: list[dict[str, str]] = []
    for index, condition in enumerate(conditions or []):
        path = f"conditions[{index}]"
        if condition.get("operator") not in SUPPORTED:
            problems.append({"path": f"{path}.operator", "message": "not supported in metric conditions"})
        if condition.get("case_insensitive"):
            problems.append({"path": f"{path}.case_insensitive", "message": "not supported for metrics"})
        if '"' in str(condition.get("attribute", "")):
            problems.append({"path": f"{path}.attribute", "message": 'must not contain "'})
    return problems


class _Sql:
    """Dialect-specific fragments over the ``properties`` column of alias ``alias``."""

    def __init__(self, dialect: str, alias: str, params: dict[str, Any], prefix: str) -> None:
        self.pg = dialect == "postgresql"
        self.col = f"{alias}.properties"
        self.params = params
        self.prefix = prefix

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def kind(self, key: str) -> str:
        """'string' | 'number' | 'boolean' | 'null' | other | NULL when absent."""
        if self.pg:
            return f"jsonb_typeof({self.col} -> {self.bind(key)})"
        path = self.bind(f'$."{key}"')
        return (
            f"(CASE json_type({self.col}, {path}) WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number' "
            f"WHEN 'real' THEN 'number' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
            f"ELSE json_type({self.col}, {path}) END)"
        )

    def text(self, key: str) -> str:
        if self.pg:
            return f"({self.col} ->> {self.bind(key)})"
        return f"CAST(json_extract({self.col}, {self.bind(f'$.{chr(34)}{key}{chr(34)}')}) AS TEXT)"

    def number(self, key: str) -> str:
        """The property as a double, NULL unless it is a JSON number (PostgreSQL does not promise to
        evaluate ``AND`` left to right, so the type guard sits inside a CASE)."""
        if self.pg:
            cast = f"CAST({self.col} ->> {self.bind(key)} AS DOUBLE PRECISION)"
        else:
            cast = f"CAST(json_extract({self.col}, {self.bind(f'$.{chr(34)}{key}{chr(34)}')}) AS REAL)"
        return f"(CASE WHEN {self.kind(key)} = 'number' THEN {cast} END)"

    def boolean(self, key: str) -> str:
        if self.pg:
            return f"({self.col} ->> {self.bind(key)})"
        path = self.bind(f'$."{key}"')
        return f"json_type({self.col}, {path})"


def _sure(expr: str) -> str:
    """NULL (a failed type guard) counts as false, so ``NOT`` of it is true, never NULL."""
    return f"COALESCE(({expr}), 1=0)"


def _equals(sql: _Sql, key: str, value: Any) -> str:
    if isinstance(value, bool):
        literal = sql.bind("true" if value else "false")
        return _sure(f"{sql.kind(key)} = 'boolean' AND {sql.boolean(key)} = {literal}")
    if isinstance(value, int | float):
        return _sure(f"{sql.number(key)} = {sql.bind(float(value))}")
    return _sure(f"{sql.kind(key)} = 'string' AND {sql.text(key)} = {sql.bind(str(value))}")


def _one(sql: _Sql, condition: Mapping[str, Any]) -> str:
    key, op = condition["attribute"], condition["operator"]
    values: Sequence[Any] = condition.get("values") or []
    present = f"({sql.kind(key)} IS NOT NULL AND {sql.kind(key)} <> 'null')"
    if op in ("exists", "not_exists"):
        test = present if op == "exists" else f"NOT {present}"
        return f"NOT {test}" if condition.get("negate") else test
    if op in _NUMERIC:
        numbers = [float(v) for v in values]
        test = " OR ".join(_sure(f"{sql.number(key)} {_NUMERIC[op]} {sql.bind(v)}") for v in numbers)
    else:
        test = " OR ".join(_equals(sql, key, v) for v in values)
        if op in ("neq", "not_in"):
            test = f"NOT ({test})"
    if condition.get("negate"):
        test = f"NOT ({test})"
    return f"({present} AND ({test}))"


def compile_conditions(
    conditions: Sequence[Mapping[str, Any]], dialect: str, alias: str, params: dict[str, Any], prefix: str
) -> str:
    """One SQL boolean expression (``1=1`` for no conditions); binds go into ``params``."""
    if not conditions:
        return "1=1"
    sql = _Sql(dialect, alias, params, prefix)
    return " AND ".join(_one(sql, c) for c in conditions)
