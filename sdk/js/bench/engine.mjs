// The Node engine on the flags of bench/eval_engine.py: SIMPLE (on, 50/50 rollout) and COMPLEX
// (10 rules x 3 conditions; every rule's first two conditions hold, the third only in the last rule:
// 30 conditions and 6 version tests per evaluation, then a 3-way split) over 200,000 distinct
// pre-built contexts, best of 3 runs. The shape is proved first with the engine itself. Run after
// `npm run build`: node bench/engine.mjs
import os from "node:os";

import { Ruleset, evaluate } from "../dist/engine.js";

import { N, complex, contexts, simple } from "./flags.mjs";

const RUNS = 3;

const ruleset = Ruleset.fromPayload({ flags: [simple, complex], segments: [] }, { strict: true });
const last = evaluate(ruleset, "complex", contexts[0]);
if (last.reason !== "SPLIT" || last.ruleIndex !== 9) throw new Error("only the last rule should match");

// The shape, through the engine: for sampled contexts, each rule alone with its first two conditions
// matches, and with all three matches only for rule 9. Then per evaluation: 30 conditions, 6 versions.
function shape() {
  const alone = (rule, conditions) => {
    const flag = { ...complex, rules: [{ ...rule, conditions }] };
    return Ruleset.fromPayload({ flags: [flag], segments: [] }, { strict: true });
  };
  const rulesets = complex.rules.map((rule) => [alone(rule, rule.conditions.slice(0, 2)), alone(rule, rule.conditions)]);
  for (let i = 0; i < contexts.length; i += contexts.length / 50) {
    rulesets.forEach(([two, three], r) => {
      if (evaluate(two, "complex", contexts[i]).ruleIndex !== 0) throw new Error(`rule ${r}: the first two conditions must hold`);
      if ((evaluate(three, "complex", contexts[i]).ruleIndex === 0) !== (r === 9)) throw new Error(`rule ${r}: the third condition`);
    });
  }
  const conditions = complex.rules.flatMap((rule) => rule.conditions);
  return { conditions_per_eval: conditions.length, version_tests_per_eval: conditions.filter((c) => c.operator.startsWith("semver")).length };
}
const proved = shape();
if (proved.conditions_per_eval !== 30 || proved.version_tests_per_eval !== 6) throw new Error(JSON.stringify(proved));

// Rates from the process's CPU time (user + system, process.cpuUsage), which a shared machine
// disturbs far less than wall time; the wall-time rates are in the JSON line too. Best of RUNS.
function rate(flag) {
  let cpu = Infinity;
  let wall = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    const used = process.cpuUsage();
    for (const ctx of contexts) evaluate(ruleset, flag, ctx);
    const { user, system } = process.cpuUsage(used);
    wall = Math.min(wall, Number(process.hrtime.bigint() - start) / 1e9);
    cpu = Math.min(cpu, (user + system) / 1e6);
  }
  return [Math.round(N / cpu), Math.round(N / wall)];
}

const [simpleCpu, simpleWall] = rate("simple");
const [complexCpu, complexWall] = rate("complex");
const figures = {
  node: process.version, contexts: N, ...proved, loadavg: os.loadavg()[0],
  simple_evals_per_s: simpleCpu, complex_evals_per_s: complexCpu, simple_evals_per_s_wall: simpleWall, complex_evals_per_s_wall: complexWall,
};
console.log(`complex flag: ${proved.conditions_per_eval} conditions, ${proved.version_tests_per_eval} version tests per evaluation`);
console.log(`simple:  ${simpleCpu.toLocaleString("en")} evals/s of CPU time (wall ${simpleWall.toLocaleString("en")})`);
console.log(`complex: ${complexCpu.toLocaleString("en")} evals/s of CPU time (wall ${complexWall.toLocaleString("en")})`);
console.log(JSON.stringify(figures));
