"""sdk/js/test/pattern-cases.json holds the Python engine's answers for the `matches` pattern cases
(accepted or refused, the RE2 text of accepted ones); the JS engine's test compares itself with the
file. This test keeps the file true to the Python engine, so a change to either engine that is not
made in both fails one of the two tests."""

from __future__ import annotations

import json
from pathlib import Path

from experimently_sdk import patterns

CASES = Path(__file__).resolve().parents[2] / "sdk" / "js" / "test" / "pattern-cases.json"


def test_the_js_pattern_cases_are_the_python_engines_answers() -> None:
    doc = json.loads(CASES.read_text(encoding="utf-8"))
    assert len(doc["cases"]) >= 50
    for case in doc["cases"]:
        for ci, ok_key, text_key in ((False, "ok", "re2"), (True, "ok_ci", "re2_ci")):
            accepted = patterns.check_pattern(case["pattern"], case_insensitive=ci) is None
            assert accepted is case[ok_key], (case["pattern"], ci)
            if accepted:
                assert patterns._translate(case["pattern"], ci) == case[text_key], (case["pattern"], ci)
    for pattern in doc["refused_for_program_size"]:
        reason = patterns.check_pattern(pattern)
        assert reason is not None and "too large" in reason, pattern
