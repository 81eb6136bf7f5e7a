// The Node engine on the flags of bench/eval_engine.py: SIMPLE (on, 50/50 rollout) and COMPLEX
// (10 rules x 3 conditions, only the last matches, 3-way split) over 200,000 distinct pre-built
// contexts, best of 3 runs. Run after `npm run build`: node bench/engine.mjs
import { Ruleset, evaluate } from "../dist/engine.js";

import { N, complex, contexts, simple } from "./flags.mjs";

const RUNS = 3;

const ruleset = Ruleset.fromPayload({ flags: [simple, complex], segments: [] }, { strict: true });
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
