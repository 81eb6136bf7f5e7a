// The pattern language: the same refusals and the same RE2 text as the Python engine
// (test/pattern-cases.json, whose answers tests/sdk/test_js_pattern_cases.py checks against Python),
// and linear-time matching.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Ruleset, checkPattern, evaluate, translatePattern } from "../dist/engine.js";

const CASES = JSON.parse(readFileSync(new URL("./pattern-cases.json", import.meta.url), "utf-8"));

test("accepted and refused patterns agree with the Python engine", () => {
  assert.ok(CASES.cases.length >= 50);
  const disagree = [];
  for (const c of CASES.cases) {
    if ((checkPattern(c.pattern) === null) !== c.ok) disagree.push([c.pattern, false, checkPattern(c.pattern)]);
    if ((checkPattern(c.pattern, true) === null) !== c.ok_ci) disagree.push([c.pattern, true]);
  }
  assert.deepEqual(disagree, []);
});

test("accepted patterns translate to the Python engine's RE2 text", () => {
  const differ = [];
  for (const c of CASES.cases) {
    if (c.ok && translatePattern(c.pattern, false) !== c.re2) differ.push([c.pattern, translatePattern(c.pattern, false), c.re2]);
    if (c.ok_ci && translatePattern(c.pattern, true) !== c.re2_ci) differ.push([c.pattern, "ci", translatePattern(c.pattern, true), c.re2_ci]);
  }
  assert.deepEqual(differ, []);
});

test("a pattern refused only for its C++ RE2 program size is left to the server", () => {
  // the server refuses it at save time; RE2JS counts other instructions, so this engine runs it
  for (const p of CASES.refused_for_program_size) assert.equal(checkPattern(p), null, p);
});

function flag(patterns, caseInsensitive = false) {
  return {
    key: "f", type: "boolean", version: 1, salt: "f", enabled: true, off_variation: "off",
    variations: [{ key: "on", value: true }, { key: "off", value: false }], targets: [], prerequisites: [],
    rules: [{ id: "r", conditions: [{ attribute: "a", operator: "matches", values: patterns, case_insensitive: caseInsensitive }], serve: { variation: "on" } }],
    fallthrough: { variation: "off" }, bucket_by: "user_id",
  };
}

function matches(patterns, value, caseInsensitive = false) {
  const rs = Ruleset.fromPayload({ flags: [flag(patterns, caseInsensitive)], segments: [] }, { strict: true });
  return evaluate(rs, "f", { a: value }).value;
}

test("nested quantifiers run in linear time on the longest value", () => {
  // a backtracking engine does not finish these within the test runner's lifetime
  assert.equal(matches(["^(a+)+$"], "a".repeat(4095) + "!"), false);
  assert.equal(matches(["^(\\w+\\s?)+$"], "ab ".repeat(1364) + "!"), false);
  assert.equal(matches(["^(a|aa)+$", "^(a|a?)+b$"], "a".repeat(4096)), true);
});

test("the pinned meaning: $, dot, \\s, case folding, bounds", () => {
  assert.equal(matches(["^a$"], "a\n"), false); // $ is the end of the value
  assert.equal(matches(["^a.b$"], "a\u2028b"), false); // . never matches a line break
  assert.equal(matches(["^a.b$"], "a\u00e9b"), true);
  assert.equal(matches(["^a\\sb$"], "a\u00a0b"), true); // JavaScript's white space
  assert.equal(matches(["^\\d$"], "\u0663"), false); // ASCII digits only
  assert.equal(matches(["^STRASSE$"], "straße", true), true);
  assert.equal(matches(["^x$", "^y$"], "y"), true); // any of several
  assert.equal(matches(["^.$"], "\u{1f600}"), true); // one code point
  assert.equal(matches(["a"], "a\ud800"), false); // a lone surrogate is not text RE2 reads
  assert.equal(matches(["a"], "a".repeat(4096)), true);
  assert.equal(matches(["a"], "a".repeat(4097)), false); // over 4,096 characters: never
  assert.equal(matches(["^42$"], 42), true); // numbers as JavaScript writes them
});
