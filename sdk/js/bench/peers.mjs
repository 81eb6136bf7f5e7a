// Our Node engine (and client) side by side with the Node SDKs of GrowthBook, LaunchDarkly and Unleash,
// each evaluating the same two flags locally and offline (bench/flags.mjs: SIMPLE, a 50/50 rollout;
// COMPLEX, 10 rules x 3 conditions, every rule's first two hold, only the last matches, 3-way split)
// over the same 200,000 distinct users, in one process, best of RUNS passes each. The peers are development dependencies used through
// their public APIs; their flags are written in each one's own format:
//
// - GrowthBook (`GrowthBookClient`, payload given to `initSync`): force rules with a `condition`
//   (`$in`, `$gt`, `$regex`, `$vgte`); the split is an experiment rule with three weights.
// - LaunchDarkly (server SDK, `FileDataSource` over a JSON file, events off): rules of clauses (`in`,
//   `greaterThan`, `matches`, `semVerLessThan` negated for >=); percentage rollouts.
// - Unleash (bootstrap data, no server, metrics off): one `flexibleRollout` strategy per rule with
//   constraints (`IN`, `NUM_GT`, `SEMVER_LT` inverted for >=) and strategy variants. Unleash has no
//   regular-expression operator: `@example<r>\.(net|io)$` becomes `STR_ENDS_WITH` of both suffixes
//   (the same test).
//
// Each SDK's answers are checked for equivalence (the distributions: 50% on for SIMPLE; every user hits
// the last rule of COMPLEX, split ~1/3 each) before anything is timed.
//
// Run (from sdk/js, after `npm ci && npm run build`): node bench/peers.mjs   (RUNS=1 for a quick look)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { GrowthBookClient } from "@growthbook/growthbook";
import { init as ldInit, integrations as ldIntegrations } from "@launchdarkly/node-server-sdk";
import { InMemStorageProvider, Unleash } from "unleash-client";

import { ExperimentationClient } from "../dist/index.js";
import { Ruleset, evaluate } from "../dist/engine.js";
import { N, complex, contexts, simple } from "./flags.mjs";

const RUNS = Number(process.env.RUNS ?? 3);
const SPLIT = [["a", 33.34], ["b", 33.33], ["c", 33.33]];

// ------------------------------------------------------------------------------------------------
// The flags in each peer's format, built from the same definition

const rules = complex.rules.map((rule) => {
  const [country, age, third] = rule.conditions;
  return { id: rule.id, countries: country.values, minAge: age.values[0], third, serve: rule.serve };
});

function growthbookPayload() {
  const gbRules = rules.map((r) => {
    const condition = { country: { $in: r.countries }, age: { $gt: r.minAge } };
    if (r.third.operator === "matches") condition.email = { $regex: r.third.values[0] };
    else condition.app_version = { $vgte: r.third.values[0] };
    if (r.serve.variation) return { id: r.id, condition, force: r.serve.variation };
    return { id: r.id, condition, key: "complex", variations: SPLIT.map(([v]) => v), weights: SPLIT.map(([, w]) => w / 100), hashAttribute: "id", seed: "complex", hashVersion: 2 };
  });
  return {
    features: {
      simple: { defaultValue: false, rules: [{ id: "rollout", force: true, coverage: 0.5, hashAttribute: "id", seed: "simple", hashVersion: 2 }] },
      complex: { defaultValue: "a", rules: gbRules },
    },
  };
}

function launchdarklyFlags() {
  const ldFlag = (key, variations, fallthrough, ldRules, offVariation) => ({
    key, version: 1, on: true, salt: key, variations, fallthrough, offVariation, targets: [], contextTargets: [], rules: ldRules, prerequisites: [], trackEvents: false, trackEventsFallthrough: false, deleted: false,
  });
  const ldRules = rules.map((r) => {
    const clauses = [
      { attribute: "country", op: "in", values: r.countries, negate: false },
      { attribute: "age", op: "greaterThan", values: [r.minAge], negate: false },
      r.third.operator === "matches"
        ? { attribute: "email", op: "matches", values: r.third.values, negate: false }
        : { attribute: "app_version", op: "semVerLessThan", values: r.third.values, negate: true },
    ];
    const serve = r.serve.variation
      ? { variation: 0 }
      : { rollout: { variations: SPLIT.map(([, w], i) => ({ variation: i, weight: Math.round(w * 1000) })) } };
    return { id: r.id, clauses, trackEvents: false, ...serve };
  });
  return {
    flags: {
      simple: ldFlag("simple", [true, false], { rollout: { variations: [{ variation: 0, weight: 50000 }, { variation: 1, weight: 50000 }] } }, [], 1),
      complex: ldFlag("complex", ["a", "b", "c"], { variation: 0 }, ldRules, 0),
    },
    segments: {},
  };
}

// `@example3\.(net|io)$` -> ["@example3.net", "@example3.io"]: the same test as a suffix list
function suffixes(pattern) {
  const m = /^(.*)\\\.\((\w+)\|(\w+)\)\$$/.exec(pattern);
  if (!m) throw new Error(`no suffix form for ${pattern}`);
  return [`${m[1]}.${m[2]}`, `${m[1]}.${m[3]}`];
}

function unleashFeatures() {
  const strategy = (groupId, constraints, variants, rollout = "100") => ({
    name: "flexibleRollout", parameters: { rollout, stickiness: "userId", groupId }, constraints, variants, segments: [],
  });
  const variant = (name, weight) => ({ name, weight, weightType: "variable", stickiness: "userId", payload: { type: "string", value: name } });
  const strategies = rules.map((r) => {
    const constraints = [
      { contextName: "country", operator: "IN", values: r.countries, caseInsensitive: false, inverted: false },
      { contextName: "age", operator: "NUM_GT", value: String(r.minAge), caseInsensitive: false, inverted: false },
      r.third.operator === "matches"
        ? { contextName: "email", operator: "STR_ENDS_WITH", values: suffixes(r.third.values[0]), caseInsensitive: false, inverted: false }
        : { contextName: "app_version", operator: "SEMVER_LT", value: r.third.values[0], caseInsensitive: false, inverted: true },
    ];
    const variants = r.serve.variation ? [variant("a", 1000)] : SPLIT.map(([v, w]) => variant(v, Math.round(w * 10)));
    return strategy("complex", constraints, variants);
  });
  return [
    { name: "simple", enabled: true, type: "release", project: "default", stale: false, impressionData: false, variants: [], strategies: [strategy("simple", [], [], "50")] },
    { name: "complex", enabled: true, type: "release", project: "default", stale: false, impressionData: false, variants: [], strategies },
  ];
}

// ------------------------------------------------------------------------------------------------
// The contestants: prepare(users) -> per-user argument; simple(arg) -> boolean; complex(arg) -> "a" | "b" | "c"

async function contestants() {
  const ruleset = Ruleset.fromPayload({ flags: [simple, complex], segments: [] }, { strict: true });

  const client = new ExperimentationClient({ apiKey: "bench", offline: true, sendEvents: false, bootstrap: { flags: [simple, complex], segments: [], experiments: [] } });
  await client.waitForInitialization();

  const gb = new GrowthBookClient({ enableDevMode: false }).initSync({ payload: growthbookPayload() });

  const dir = mkdtempSync(join(tmpdir(), "experimently-bench-"));
  const file = join(dir, "ld-flags.json");
  writeFileSync(file, JSON.stringify(launchdarklyFlags()));
  const fileSource = new ldIntegrations.FileDataSourceFactory({ paths: [file], autoUpdate: false });
  const quiet = { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) };
  const ld = ldInit("sdk-bench-offline", { updateProcessor: fileSource.getFactory(), sendEvents: false, diagnosticOptOut: true, logger: quiet });
  await ld.waitForInitialization({ timeout: 10 });

  const unleash = new Unleash({
    appName: "bench", url: "http://127.0.0.1:9/api/", disableMetrics: true, refreshInterval: 0, disableAutoStart: true,
    storageProvider: new InMemStorageProvider(), bootstrap: { data: unleashFeatures() }, skipInstanceCountWarning: true,
  });
  unleash.on("error", () => {}); // no server: the bootstrap data is all there is
  unleash.on("warn", () => {});
  const unleashReady = new Promise((resolve) => unleash.once("ready", resolve));
  await unleash.start();
  await unleashReady;

  return {
    close: async () => {
      await client.close();
      gb.destroy();
      ld.close();
      unleash.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
    list: [
      { name: "experimently (engine evaluate)", sync: true, prepare: (c) => c, simple: (c) => evaluate(ruleset, "simple", c).value, complex: (c) => evaluate(ruleset, "complex", c).value },
      { name: "experimently (client variation)", sync: false, prepare: (c) => { const { user_id, ...attrs } = c; return [user_id, attrs]; }, simple: ([u, a]) => client.variation("simple", u, a, false), complex: ([u, a]) => client.variation("complex", u, a, "a") },
      { name: "@growthbook/growthbook", sync: true, prepare: (c) => ({ attributes: { id: c.user_id, country: c.country, age: c.age, app_version: c.app_version, email: c.email } }), simple: (u) => gb.isOn("simple", u), complex: (u) => gb.getFeatureValue("complex", "a", u) },
      { name: "@launchdarkly/node-server-sdk", sync: false, prepare: (c) => ({ kind: "user", key: c.user_id, country: c.country, age: c.age, app_version: c.app_version, email: c.email }), simple: (u) => ld.variation("simple", u, false), complex: (u) => ld.variation("complex", u, "a") },
      { name: "unleash-client", sync: true, prepare: (c) => ({ userId: c.user_id, properties: { country: c.country, age: String(c.age), app_version: c.app_version, email: c.email } }), simple: (u) => unleash.isEnabled("simple", u), complex: (u) => unleash.getVariant("complex", u).name },
    ],
  };
}

// ------------------------------------------------------------------------------------------------

async function answers(c, flag, users) {
  const out = new Map();
  for (const u of users) {
    const v = await c[flag](u);
    out.set(v, (out.get(v) ?? 0) + 1);
  }
  return out;
}

async function checkEquivalent(c, users) {
  const s = await answers(c, "simple", users);
  const share = (s.get(true) ?? 0) / users.length;
  if (s.size > 2 || Math.abs(share - 0.5) > 0.01) throw new Error(`${c.name}: SIMPLE gives ${JSON.stringify([...s])}`);
  const x = await answers(c, "complex", users);
  const ok = x.size === 3 && ["a", "b", "c"].every((v) => Math.abs((x.get(v) ?? 0) / users.length - 1 / 3) < 0.01);
  if (!ok) throw new Error(`${c.name}: COMPLEX gives ${JSON.stringify([...x])}`);
}

async function rate(c, flag, users) {
  const fn = c[flag];
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    if (c.sync) for (const u of users) fn(u);
    else for (const u of users) await fn(u);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return Math.round(users.length / best);
}

const { list, close } = await contestants();
const results = {};
for (const c of list) {
  const users = contexts.map(c.prepare);
  await checkEquivalent(c, users);
  results[c.name] = { simple: await rate(c, "simple", users), complex: await rate(c, "complex", users) };
  console.log(`${c.name.padEnd(34)} simple ${results[c.name].simple.toLocaleString("en").padStart(11)} /s   complex ${results[c.name].complex.toLocaleString("en").padStart(11)} /s`);
}
await close();

const peers = Object.entries(results).filter(([name]) => !name.startsWith("experimently"));
const bestPeer = (flag) => peers.reduce((best, [name, r]) => (r[flag] > best[1] ? [name, r[flag]] : best), ["", 0]);
const ours = results["experimently (engine evaluate)"];
const summary = { bench: "js_peers", node: process.version, users: N, runs: RUNS, ops_per_s: results };
for (const flag of ["simple", "complex"]) {
  const [name, ops] = bestPeer(flag);
  summary[`${flag}_best_peer`] = name;
  summary[`${flag}_ratio_to_best_peer`] = Math.round((ours[flag] / ops) * 100) / 100;
  console.log(`${flag}: ours / best peer (${name}) = ${summary[`${flag}_ratio_to_best_peer`]}`);
}
console.log(JSON.stringify(summary));
