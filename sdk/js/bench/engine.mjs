// The Node engine on the flags of bench/eval_engine.py: SIMPLE (on, 50/50 rollout) and COMPLEX
// (10 rules x 3 conditions, only the last matches, 3-way split) over 200,000 distinct pre-built
// contexts, best of 3 runs. Run after `npm run build`: node bench/engine.mjs
import { Ruleset, evaluate } from "../dist/engine.js";

const N = 200_000;
const RUNS = 3;

const simple = {
  key: "simple", type: "boolean", version: 1, salt: "simple", enabled: true, off_variation: "off",
  variations: [{ key: "on", value: true }, { key: "off", value: false }],
  fallthrough: { rollout: { variations: [{ variation: "on", weight: 50 }, { variation: "off", weight: 50 }] } },
};

const rules = [];
for (let r = 0; r < 10; r++) {
  const countries = r < 9
    ? Array.from({ length: 20 }, (_, i) => `C${r}${String(i).padStart(2, "0")}`)
    : ["DE", ...Array.from({ length: 19 }, (_, i) => `X${String(i).padStart(2, "0")}`)];
  const third = r % 2
    ? { attribute: "app_version", operator: "semver_gte", values: ["2.0.0"] }
    : { attribute: "email", operator: "matches", values: ["@example\\.(com|org)$"] };
  rules.push({
    id: `rule-${r}`,
    conditions: [
      { attribute: "country", operator: "in", values: countries },
      { attribute: "age", operator: "gt", values: [17] },
      third,
    ],
    serve: r < 9 ? { variation: "a" } : { rollout: { variations: [["a", 33.34], ["b", 33.33], ["c", 33.33]].map(([variation, weight]) => ({ variation, weight })) } },
  });
}
const complex = {
  key: "complex", type: "string", version: 1, salt: "complex", enabled: true, off_variation: "a",
  variations: ["a", "b", "c"].map((k) => ({ key: k, value: k })), rules, fallthrough: { variation: "a" },
};

const ruleset = Ruleset.fromPayload({ flags: [simple, complex], segments: [] }, { strict: true });
const contexts = Array.from({ length: N }, (_, i) => ({
  user_id: `user-${i}`, country: "DE", age: 18 + (i % 50), app_version: `2.${i % 7}.${i % 3}`, email: `person${i}@example.com`,
}));
const last = evaluate(ruleset, "complex", contexts[0]);
if (last.reason !== "SPLIT" || last.ruleIndex !== 9) throw new Error("only the last rule should match");

function rate(flag) {
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (const ctx of contexts) evaluate(ruleset, flag, ctx);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return N / best;
}

const figures = { node: process.version, contexts: N, simple_evals_per_s: Math.round(rate("simple")), complex_evals_per_s: Math.round(rate("complex")) };
console.log(`simple:  ${figures.simple_evals_per_s.toLocaleString("en")} evals/s`);
console.log(`complex: ${figures.complex_evals_per_s.toLocaleString("en")} evals/s`);
console.log(JSON.stringify(figures));
