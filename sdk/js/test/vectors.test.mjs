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

test("evaluation vectors: every case", () => {
  const failures = [];
  for (const c of VECTORS.cases) {
    const r = evaluate(RULESET, c.flag, c.context);
    const e = c.expected;
    const ok =
      r.variation === e.variation &&
      JSON.stringify(r.value) === JSON.stringify(e.value) &&
      r.reason === e.reason &&
      (!("bucket" in e) || r.bucket === e.bucket);
    if (!ok) failures.push({ name: c.name, got: [r.variation, r.value, r.reason, r.bucket], expected: e });
  }
  assert.deepEqual(failures, []);
});
