/**
 * Flags: validation (port of `validate.py`), compilation (`compile.py`), the ruleset (`ruleset.py`) and
 * the evaluator (`evaluate.py`). Evaluation never throws on bad input.
 */

import {
  type Condition,
  type Context,
  type Errors,
  type Matcher,
  SegmentGraph,
  compileConditions,
  compileSegment,
  isObject,
  parseConditions,
  repr,
  segmentReferences,
} from "./conditions.js";
import { BUCKETS, cumulativeBoundaries, murmurText, pick } from "./murmur.js";
import { unitText } from "./values.js";

export type FlagType = "boolean" | "string" | "number" | "json";
export type Reason = "STATIC" | "DEFAULT" | "TARGETING_MATCH" | "SPLIT" | "DISABLED" | "ERROR";
export type ErrorCode = "FLAG_NOT_FOUND" | "INVALID_CONTEXT" | "TYPE_MISMATCH" | "PARSE_ERROR" | "GENERAL";

/** The outcome of one evaluation. Results may be shared between calls: treat as read-only. */
export interface EvaluationResult {
  readonly flagKey: string;
  readonly value: unknown;
  readonly variation: string | null;
  readonly reason: Reason;
  readonly ruleId: string | null;
  readonly ruleIndex: number | null;
  readonly errorCode: ErrorCode | null;
  readonly bucket: number | null;
  readonly experimentKey: string | null;
  readonly experimentVariant: string | null;
  readonly prerequisiteFailed: string | null;
}

/** Decides the variant of an experiment a flag serves (null: the flag goes on to its next rule). */
export type ExperimentResolver = (experimentKey: string, context: Context) => string | null;

export class RuleValidationError extends Error {
  constructor(readonly errors: Errors) {
    super(errors.map(([p, m]) => (p ? `${p}: ${m}` : m)).join("; "));
  }
}

function result(flagKey: string, value: unknown, variation: string | null, reason: Reason, extra: Partial<EvaluationResult> = {}): EvaluationResult {
  return {
    flagKey, value, variation, reason, ruleId: null, ruleIndex: null, errorCode: null, bucket: null,
    experimentKey: null, experimentVariant: null, prerequisiteFailed: null, ...extra,
  };
}

export function errorResult(flagKey: string, value: unknown, code: ErrorCode, extra: Partial<EvaluationResult> = {}): EvaluationResult {
  return result(flagKey, value, null, "ERROR", { ...extra, errorCode: code });
}

// -------------------------------------------------------------------------------------------------
// validated configuration

interface Variation { key: string; value: unknown }
interface Rollout { variations: Array<{ variation: string; basisPoints: number }>; bucketBy: string | null }
interface Serve { variation?: string; rollout?: Rollout; experiment?: { key: string; variations: Array<[string, string]> } }
interface Rule { id: string; conditions: Condition[]; serve: Serve }

export interface FlagConfig {
  key: string;
  type: FlagType;
  version: number;
  salt: string;
  variations: Variation[];
  enabled: boolean;
  offVariation: string;
  targets: Array<{ variation: string; values: string[] }>;
  rules: Rule[];
  fallthrough: Serve;
  prerequisites: Array<{ flag: string; variation: string }>;
  bucketBy: string;
}

const FLAG_KEYS = new Set([
  "key", "type", "version", "salt", "variations", "enabled", "off_variation", "targets", "rules",
  "fallthrough", "prerequisites", "bucket_by",
]);
const TYPES: FlagType[] = ["boolean", "string", "number", "json"];
export const MAX_PREREQUISITE_DEPTH = 32;

function unknownFields(data: Record<string, unknown>, allowed: Set<string>, path: string, errors: Errors): void {
  for (const field of Object.keys(data)) if (!allowed.has(field)) errors.push([path ? `${path}.${field}` : field, "unknown field"]);
}

function requiredStr(data: Record<string, unknown>, field: string, path: string, errors: Errors): string {
  const value = data[field];
  if (typeof value !== "string" || !value) {
    errors.push([path, "must be a non-empty string"]);
    return "";
  }
  return value;
}

function isJson(value: unknown): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (isObject(value)) return Object.values(value).every(isJson);
  return false;
}

function valueFits(type: FlagType, value: unknown): boolean {
  if (type === "boolean") return typeof value === "boolean";
  if (type === "string") return typeof value === "string";
  if (type === "number") return typeof value === "number" && Number.isFinite(value);
  return isJson(value);
}

function variationRef(raw: unknown, path: string, known: Set<string>, errors: Errors): string {
  if (typeof raw !== "string" || !raw) {
    errors.push([path, "must be a variation key"]);
    return "";
  }
  if (!known.has(raw)) errors.push([path, `unknown variation '${raw}'`]);
  return raw;
}

function basisPoints(weight: unknown): number | null {
  if (typeof weight !== "number" || !(weight >= 0 && weight <= 100)) return null;
  const points = Math.round(weight * 100);
  return Math.abs(weight * 100 - points) > 1e-6 ? null : points;
}

function parseServe(raw: unknown, path: string, known: Set<string>, errors: Errors): Serve | null {
  if (!isObject(raw) || Object.keys(raw).length !== 1) {
    errors.push([path, "must have exactly one of variation, rollout, experiment"]);
    return null;
  }
  const [kind, body] = Object.entries(raw)[0]!;
  if (kind === "variation") return { variation: variationRef(body, `${path}.variation`, known, errors) };
  if (kind === "rollout") {
    const p = `${path}.rollout`;
    if (!isObject(body)) {
      errors.push([p, "must be an object"]);
      return null;
    }
    unknownFields(body, new Set(["bucket_by", "variations"]), p, errors);
    const bucketBy = body.bucket_by ?? null;
    if (bucketBy !== null && (typeof bucketBy !== "string" || !bucketBy)) errors.push([`${p}.bucket_by`, "must be a non-empty string"]);
    const items = body.variations;
    if (!Array.isArray(items) || !items.length) {
      errors.push([`${p}.variations`, "must be a non-empty list"]);
      return null;
    }
    const weighted: Rollout["variations"] = [];
    items.forEach((item, i) => {
      const ip = `${p}.variations[${i}]`;
      if (!isObject(item)) {
        errors.push([ip, "must be an object"]);
        return;
      }
      unknownFields(item, new Set(["variation", "weight"]), ip, errors);
      const variation = variationRef(item.variation, `${ip}.variation`, known, errors);
      const points = basisPoints(item.weight);
      if (points === null) {
        errors.push([`${ip}.weight`, "must be a number from 0 to 100 with at most 2 decimals"]);
        return;
      }
      if (weighted.some((w) => w.variation === variation)) errors.push([`${ip}.variation`, `'${variation}' listed twice`]);
      weighted.push({ variation, basisPoints: points });
    });
    const total = weighted.reduce((s, w) => s + w.basisPoints, 0);
    if (weighted.length === items.length && total !== BUCKETS) {
      errors.push([`${p}.variations`, `weights must sum to exactly 100 (got ${total / 100})`]);
    }
    return { rollout: { variations: weighted, bucketBy: typeof bucketBy === "string" ? bucketBy : null } };
  }
  if (kind === "experiment") {
    const p = `${path}.experiment`;
    if (!isObject(body)) {
      errors.push([p, "must be an object"]);
      return null;
    }
    unknownFields(body, new Set(["key", "variations"]), p, errors);
    const key = requiredStr(body, "key", `${p}.key`, errors);
    const mapping = body.variations;
    if (!isObject(mapping) || !Object.keys(mapping).length) {
      errors.push([`${p}.variations`, "must be a non-empty object of variant -> variation"]);
      return null;
    }
    const pairs: Array<[string, string]> = Object.entries(mapping).map(([variant, v]) => [
      variant, variationRef(v, `${p}.variations.${variant}`, known, errors),
    ]);
    return { experiment: { key, variations: pairs } };
  }
  errors.push([`${path}.${kind}`, "unknown serve kind (use variation, rollout or experiment)"]);
  return null;
}

function prerequisiteCycle(start: string, key: string, flags: ReadonlyMap<string, unknown>): string[] | null {
  const stack: Array<[string, string[]]> = [[start, [start]]];
  const seen = new Set<string>();
  while (stack.length) {
    const [current, chain] = stack.pop()!;
    if (current === key) return chain;
    if (seen.has(current) || chain.length > MAX_PREREQUISITE_DEPTH * 4) continue;
    seen.add(current);
    const raw = flags.get(current);
    const prereqs = isObject(raw) ? raw.prerequisites : undefined;
    for (const item of Array.isArray(prereqs) ? prereqs : []) {
      if (isObject(item) && typeof item.flag === "string") stack.push([item.flag, [...chain, item.flag]]);
    }
  }
  return null;
}

/** Parse one environment's flag document; `flags` are the environment's other flags (raw). */
export function validateFlag(
  data: unknown, segments: ReadonlyMap<string, unknown>, flags: ReadonlyMap<string, unknown> = new Map(),
): FlagConfig {
  if (!isObject(data)) throw new RuleValidationError([["", "flag must be an object"]]);
  const errors: Errors = [];
  unknownFields(data, FLAG_KEYS, "", errors);
  const key = requiredStr(data, "key", "key", errors);
  const type = TYPES.includes(data.type as FlagType) ? (data.type as FlagType) : null;
  if (type === null) errors.push(["type", `must be one of ${TYPES.join(", ")}`]);
  const version = data.version ?? 0;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0) errors.push(["version", "must be a non-negative integer"]);
  const salt = "salt" in data ? requiredStr(data, "salt", "salt", errors) : key;
  const bucketBy = "bucket_by" in data ? requiredStr(data, "bucket_by", "bucket_by", errors) : "user_id";
  const variations: Variation[] = [];
  if (!Array.isArray(data.variations) || !data.variations.length) {
    errors.push(["variations", "must be a non-empty list"]);
  } else {
    const seen = new Set<string>();
    data.variations.forEach((item, i) => {
      const path = `variations[${i}]`;
      if (!isObject(item)) {
        errors.push([path, "must be an object"]);
        return;
      }
      unknownFields(item, new Set(["key", "value"]), path, errors);
      const vk = requiredStr(item, "key", `${path}.key`, errors);
      if (seen.has(vk)) errors.push([`${path}.key`, `duplicate variation key '${vk}'`]);
      seen.add(vk);
      if (!("value" in item)) errors.push([`${path}.value`, "required"]);
      else if (type !== null && !valueFits(type, item.value)) errors.push([`${path}.value`, `does not match the flag type ${type}`]);
      variations.push({ key: vk, value: item.value });
    });
  }
  const known = new Set(variations.map((v) => v.key));
  if (typeof data.enabled !== "boolean") errors.push(["enabled", "must be a boolean"]);
  const offVariation = variationRef(data.off_variation, "off_variation", known, errors);
  const targets: FlagConfig["targets"] = [];
  const rawTargets = data.targets ?? [];
  if (!Array.isArray(rawTargets)) errors.push(["targets", "must be a list"]);
  else {
    const owner = new Map<string, number>();
    rawTargets.forEach((item, i) => {
      const path = `targets[${i}]`;
      if (!isObject(item)) {
        errors.push([path, "must be an object"]);
        return;
      }
      unknownFields(item, new Set(["variation", "values"]), path, errors);
      const variation = variationRef(item.variation, `${path}.variation`, known, errors);
      const values = item.values;
      if (!Array.isArray(values) || !values.length || !values.every((v) => typeof v === "string")) {
        errors.push([`${path}.values`, "must be a non-empty list of strings"]);
        return;
      }
      for (const v of values as string[]) {
        if (!owner.has(v)) owner.set(v, i);
        else if (owner.get(v) !== i) errors.push([`${path}.values`, `'${v}' is already targeted by targets[${owner.get(v)}]`]);
      }
      targets.push({ variation, values: values as string[] });
    });
  }
  const graph = new SegmentGraph(segments);
  const rules: Rule[] = [];
  const rawRules = data.rules ?? [];
  if (!Array.isArray(rawRules)) errors.push(["rules", "must be a list"]);
  else {
    const ids = new Set<string>();
    rawRules.forEach((item, i) => {
      const path = `rules[${i}]`;
      if (!isObject(item)) {
        errors.push([path, "must be an object"]);
        return;
      }
      unknownFields(item, new Set(["id", "conditions", "serve"]), path, errors);
      const id = requiredStr(item, "id", `${path}.id`, errors);
      if (ids.has(id)) errors.push([`${path}.id`, `duplicate rule id '${id}'`]);
      ids.add(id);
      const conditions = parseConditions(item.conditions ?? [], `${path}.conditions`, errors, graph.check);
      const serve = parseServe(item.serve, `${path}.serve`, known, errors);
      if (serve !== null) rules.push({ id, conditions, serve });
    });
  }
  const fallthrough = parseServe(data.fallthrough, "fallthrough", known, errors);
  const prerequisites: FlagConfig["prerequisites"] = [];
  const rawPrereqs = data.prerequisites ?? [];
  if (!Array.isArray(rawPrereqs)) errors.push(["prerequisites", "must be a list"]);
  else {
    rawPrereqs.forEach((item, i) => {
      const path = `prerequisites[${i}]`;
      if (!isObject(item)) {
        errors.push([path, "must be an object"]);
        return;
      }
      unknownFields(item, new Set(["flag", "variation"]), path, errors);
      const flag = requiredStr(item, "flag", `${path}.flag`, errors);
      const variation = requiredStr(item, "variation", `${path}.variation`, errors);
      if (!flag) return;
      if (flag === key) {
        errors.push([`${path}.flag`, "a flag cannot be its own prerequisite"]);
        return;
      }
      const other = flags.get(flag);
      if (!isObject(other)) {
        errors.push([`${path}.flag`, `unknown flag '${flag}'`]);
        return;
      }
      const keys = new Set(Array.isArray(other.variations) ? other.variations.filter(isObject).map((v) => v.key) : []);
      if (variation && !keys.has(variation)) {
        errors.push([`${path}.variation`, `flag '${flag}' has no variation '${variation}'`]);
        return;
      }
      const cycle = prerequisiteCycle(flag, key, flags);
      if (cycle !== null) {
        errors.push([`${path}.flag`, "prerequisite cycle: " + [key, ...cycle].join(" -> ")]);
        return;
      }
      prerequisites.push({ flag, variation });
    });
  }
  if (errors.length) throw new RuleValidationError(errors);
  return {
    key, type: type!, version: version as number, salt, variations, enabled: data.enabled as boolean,
    offVariation, targets, rules, fallthrough: fallthrough!, prerequisites, bucketBy,
  };
}

// -------------------------------------------------------------------------------------------------
// compiling

export interface FlagTable {
  readonly compiled: ReadonlyMap<string, CompiledFlag>;
  readonly segmentMatchers: ReadonlyMap<string, Matcher>;
}

type RunFn = (ctx: Context, fallback: unknown, resolver: ExperimentResolver | null, table: FlagTable, depth: number) => EvaluationResult;
type ServeFn = (ctx: Context, fallback: unknown, resolver: ExperimentResolver | null) => EvaluationResult | null;

export interface CompiledFlag {
  readonly config: FlagConfig;
  readonly run: RunFn;
}

function fixed(flag: FlagConfig, variation: string, reason: Reason, extra: Partial<EvaluationResult> = {}): EvaluationResult {
  const v = flag.variations.find((x) => x.key === variation)!;
  return result(flag.key, v.value, variation, reason, extra);
}

function compileServe(flag: FlagConfig, serve: Serve, ruleId: string | null, index: number | null, reason: Reason): ServeFn {
  if (serve.rollout !== undefined) {
    const rollout = serve.rollout;
    const attribute = rollout.bucketBy ?? flag.bucketBy;
    const prefix = flag.salt + ":";
    const bounds = cumulativeBoundaries(rollout.variations.map((w) => w.basisPoints));
    const variations = rollout.variations.map((w) => flag.variations.find((v) => v.key === w.variation)!);
    const cache = new Map<number, EvaluationResult>();
    return (ctx, fallback) => {
      const unit = unitText(ctx[attribute]);
      if (unit === null) return errorResult(flag.key, fallback, "INVALID_CONTEXT", { ruleId, ruleIndex: index });
      const b = murmurText(prefix + unit) % BUCKETS;
      let r = cache.get(b);
      if (r === undefined) {
        const v = variations[pick(bounds, b)]!;
        r = result(flag.key, v.value, v.key, "SPLIT", { ruleId, ruleIndex: index, bucket: b });
        cache.set(b, r);
      }
      return r;
    };
  }
  if (serve.experiment !== undefined) {
    const key = serve.experiment.key;
    const results = new Map(
      serve.experiment.variations.map(([variant, variation]) => [
        variant,
        fixed(flag, variation, "TARGETING_MATCH", { ruleId, ruleIndex: index, experimentKey: key, experimentVariant: variant }),
      ]),
    );
    return (ctx, _fallback, resolver) => {
      if (resolver === null) return null;
      const variant = resolver(key, ctx);
      return variant === null ? null : results.get(variant) ?? null;
    };
  }
  const r = fixed(flag, serve.variation!, reason, { ruleId, ruleIndex: index });
  return () => r;
}

export function compileFlag(flag: FlagConfig): CompiledFlag {
  const off = fixed(flag, flag.offVariation, "DISABLED");
  if (!flag.enabled) return { config: flag, run: () => off };
  const hasTargeting = flag.targets.length > 0 || flag.rules.length > 0;
  const fallthrough = compileServe(flag, flag.fallthrough, null, null, hasTargeting ? "DEFAULT" : "STATIC");
  const fallthroughOff = fixed(flag, flag.offVariation, "DEFAULT");
  const targets = new Map<string, EvaluationResult>();
  for (const t of flag.targets) {
    const r = fixed(flag, t.variation, "TARGETING_MATCH");
    for (const v of t.values) if (!targets.has(v)) targets.set(v, r);
  }
  const rules = flag.rules.map((rule, i) => ({
    matchers: compileConditions(rule.conditions),
    serve: compileServe(flag, rule.serve, rule.id, i, "TARGETING_MATCH"),
  }));
  const unmet = new Map(flag.prerequisites.map((p) => [p.flag, fixed(flag, flag.offVariation, "DISABLED", { prerequisiteFailed: p.flag })]));
  const run: RunFn = (ctx, fallback, resolver, table, depth) => {
    for (const p of flag.prerequisites) {
      const other = table.compiled.get(p.flag);
      let met = false;
      if (other !== undefined && depth < MAX_PREREQUISITE_DEPTH) {
        const r = other.run(ctx, null, resolver, table, depth + 1);
        met = r.variation === p.variation && r.reason !== "DISABLED" && r.reason !== "ERROR";
      }
      if (!met) return unmet.get(p.flag)!;
    }
    if (targets.size) {
      const user = unitText(ctx.user_id);
      const target = user === null ? undefined : targets.get(user);
      if (target !== undefined) return target;
    }
    const segments = table.segmentMatchers;
    rules: for (const rule of rules) {
      for (const m of rule.matchers) if (!m(ctx, segments)) continue rules;
      const r = rule.serve(ctx, fallback, resolver);
      if (r !== null) return r;
    }
    return fallthrough(ctx, fallback, resolver) ?? fallthroughOff;
  };
  return { config: flag, run };
}

// -------------------------------------------------------------------------------------------------
// ruleset and evaluator

export interface RulesetPayload {
  flags?: unknown;
  segments?: unknown;
}

function keyed(items: unknown, name: string, refused: Errors): Map<string, [number, Record<string, unknown>]> {
  const out = new Map<string, [number, Record<string, unknown>]>();
  if (!Array.isArray(items)) {
    refused.push([name, "must be a list"]);
    return out;
  }
  items.forEach((item, i) => {
    const key = isObject(item) ? item.key : undefined;
    if (typeof key !== "string" || !key) refused.push([`${name}[${i}].key`, "must be a non-empty string"]);
    else if (out.has(key)) refused.push([`${name}[${i}].key`, `duplicate key ${repr(key)}`]);
    else out.set(key, [i, item as Record<string, unknown>]);
  });
  return out;
}

/** One environment's compiled flags and segments, built from the server's payload. */
export class Ruleset implements FlagTable {
  constructor(
    readonly compiled: ReadonlyMap<string, CompiledFlag>,
    readonly segmentMatchers: ReadonlyMap<string, Matcher>,
    readonly errors: ReadonlyMap<string, Errors> = new Map(),
    readonly segmentErrors: ReadonlyMap<string, Errors> = new Map(),
  ) {}

  static empty(): Ruleset {
    return new Ruleset(new Map(), new Map());
  }

  /**
   * Validate and compile `{flags, segments}`. A flag whose (key, version) is compiled in `previous`
   * is reused. Invalid flags and segments are left out and recorded in `errors` (with `strict`, the
   * first problem throws a RuleValidationError listing them all).
   */
  static fromPayload(payload: RulesetPayload, options: { previous?: Ruleset; strict?: boolean } = {}): Ruleset {
    const refused: Errors = [];
    const errors = new Map<string, Errors>();
    const segmentErrors = new Map<string, Errors>();
    const rawSegments = keyed(payload.segments ?? [], "segments", refused);
    const rawFlags = keyed(payload.flags ?? [], "flags", refused);
    const segmentDocs = new Map([...rawSegments].map(([k, [, v]]) => [k, v]));
    const matchers = new Map<string, Matcher>();
    const validSegments = new Map<string, unknown>();
    for (const [key, [index, raw]] of rawSegments) {
      const errs: Errors = [];
      const unknown = Object.keys(raw).filter((f) => f !== "key" && f !== "conditions");
      for (const f of unknown) errs.push([f, "unknown field"]);
      const graph = new SegmentGraph(segmentDocs, key);
      graph.edges.set(key, segmentReferences(raw));
      const conditions = parseConditions(raw.conditions, "conditions", errs, graph.check);
      if (errs.length) {
        segmentErrors.set(key, errs);
        refused.push(...errs.map(([p, m]): [string, string] => [`segments[${index}].${p}`, m]));
        continue;
      }
      validSegments.set(key, raw);
      matchers.set(key, compileSegment(conditions));
    }
    const flagDocs = new Map([...rawFlags].map(([k, [, v]]) => [k, v]));
    const compiled = new Map<string, CompiledFlag>();
    for (const [key, [index, raw]] of rawFlags) {
      const old = options.previous?.compiled.get(key);
      if (old !== undefined && typeof raw.version === "number" && old.config.version === raw.version) {
        compiled.set(key, old);
        continue;
      }
      try {
        compiled.set(key, compileFlag(validateFlag(raw, validSegments, flagDocs)));
      } catch (exc) {
        const errs = exc instanceof RuleValidationError ? exc.errors : [["", String(exc)] as [string, string]];
        errors.set(key, errs);
        refused.push(...errs.map(([p, m]): [string, string] => [`flags[${index}].${p}`.replace(/\.$/, ""), m]));
      }
    }
    if (options.strict && refused.length) throw new RuleValidationError(refused);
    return new Ruleset(compiled, matchers, errors, segmentErrors);
  }
}

const TYPE_OF_DEFAULT: Record<FlagType, ((v: unknown) => boolean) | null> = {
  boolean: (v) => typeof v === "boolean",
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  json: null,
};

/** Evaluate one flag of `ruleset` for `context`; never throws. */
export function evaluate(
  ruleset: Ruleset, flagKey: string, context: unknown, fallback: unknown = null, resolver: ExperimentResolver | null = null,
): EvaluationResult {
  const flag = ruleset.compiled.get(flagKey);
  if (flag === undefined) return errorResult(flagKey, fallback, ruleset.errors.has(flagKey) ? "PARSE_ERROR" : "FLAG_NOT_FOUND");
  const fits = TYPE_OF_DEFAULT[flag.config.type];
  if (fallback !== null && fallback !== undefined && fits !== null && !fits(fallback)) {
    return errorResult(flagKey, fallback, "TYPE_MISMATCH");
  }
  if (!isObject(context)) return errorResult(flagKey, fallback, "INVALID_CONTEXT");
  try {
    return flag.run(context, fallback, resolver, ruleset, 0);
  } catch {
    return errorResult(flagKey, fallback, "GENERAL");
  }
}
