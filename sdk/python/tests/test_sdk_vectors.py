"""Run every cross-SDK vector of spec/evaluation-vectors.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from experimently_sdk import Evaluator, Ruleset, bucket

# the nearest spec/ above this file: the repository's, also from a mutation-testing copy (mutants/)
SPEC = next(p / "spec" for p in Path(__file__).resolve().parents if (p / "spec").is_dir())
VECTORS = json.loads((SPEC / "evaluation-vectors.json").read_text("utf-8"))
EVALUATOR = Evaluator(
    Ruleset.from_payload({"flags": VECTORS["flags"], "segments": VECTORS["segments"]}, strict=True)
)


def test_vectors__enough_cases() -> None:
    assert VECTORS["version"] == 1
    assert len(VECTORS["cases"]) >= 80


@pytest.mark.parametrize("vector", VECTORS["bucketing"], ids=lambda v: f"{v['seed']}|{v['unit']}")
def test_bucketing_vector(vector: dict[str, Any]) -> None:
    assert bucket(vector["seed"], vector["unit"]) == vector["bucket"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_evaluation_vector(case: dict[str, Any]) -> None:
    result = EVALUATOR.evaluate(case["flag"], case["context"])
    expected = case["expected"]
    assert result.variation == expected["variation"]
    assert result.value == expected["value"]
    assert result.reason == expected["reason"]
    if "bucket" in expected:
        assert result.bucket == expected["bucket"]
