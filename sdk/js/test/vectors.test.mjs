// Every cross-SDK vector of spec/evaluation-vectors.json, through the built package.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Ruleset, bucket, evaluate } from "../dist/engine.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../spec/evaluation-vectors.json", import.meta.url), "utf-8"));
const RULESET = Ruleset.fromPayload({ flags: VECTORS.flags, segments: VECTORS.segments }, { strict: true });

test("the vector file has cases", () => {
  assert.equal(VECTORS.version, 1);
  assert.ok(VECTORS.cases.length >= 80);
  assert.equal(RULESET.compiled.size, VECTORS.flags.length);
});

test("bucketing vectors", () => {
  for (const v of VECTORS.bucketing) assert.equal(bucket(v.seed, v.unit), v.bucket, `${v.seed}|${v.unit}`);
});

// Known gaps of this engine against the vectors (docs/sdk-js.md, "Known gaps"): the Python engine
// now runs patterns on RE2 (linear time) and bounds version and date parsing; this port still uses
// JavaScript's backtracking RegExp and plain number parsing. The two pattern cases are not run at
// all (they backtrack for minutes); the others must fail exactly as listed, so closing a gap or
// opening a new one both fail this test until the list is updated.
const NOT_RUN = new Set(["matches nested quantifier linear", "matches word groups"]);
const KNOWN_DIVERGENT = [
  "semver over 256 chars",
  "after tiny exponent",
  "before tiny exponent",
  "after text over 64 chars",
];

test("evaluation vectors: all but the known gaps", () => {
  const failures = [];
  for (const c of VECTORS.cases) {
    if (NOT_RUN.has(c.name)) continue;
    const r = evaluate(RULESET, c.flag, c.context);
    const e = c.expected;
    const ok =
      r.variation === e.variation &&
      JSON.stringify(r.value) === JSON.stringify(e.value) &&
      r.reason === e.reason &&
      (!("bucket" in e) || r.bucket === e.bucket);
    if (!ok) failures.push({ name: c.name, got: [r.variation, r.value, r.reason, r.bucket], expected: e });
  }
  assert.deepEqual(
    failures.map((f) => f.name),
    KNOWN_DIVERGENT,
    JSON.stringify(failures.filter((f) => !KNOWN_DIVERGENT.includes(f.name))),
  );
});
