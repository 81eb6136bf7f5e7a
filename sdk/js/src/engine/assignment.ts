/**
 * Experiment assignment (port of `assignment.py`). Order: unit attribute present -> targeting
 * conditions -> layer range -> traffic -> variant, with the seeds `layer:{layer salt}`,
 * `{salt}:traffic` and `{salt}:variant`.
 */

import { type Context, type Errors, type Matcher, type Segments, compileConditions, isObject, parseConditions } from "./conditions.js";
import { RuleValidationError } from "./flags.js";
import { BUCKETS, bucket, cumulativeBoundaries, pick } from "./murmur.js";
import { unitText } from "./values.js";

export type AssignmentReason = "ASSIGNED" | "NOT_TARGETED" | "TRAFFIC_EXCLUDED" | "LAYER_EXCLUDED" | "MISSING_UNIT";

export interface Assignment {
  variant: string | null;
  reason: AssignmentReason;
  bucket: number | null;
}

/** An experiment of the SDK payload (`experiments[]`), compiled. */
export interface CompiledExperiment {
  key: string;
  status: string;
  bucketBy: string;
  serverSticky: boolean; // "assignment": "server": stored assignments may differ from the buckets
  overrides: ReadonlyMap<string, string>;
  payloads: ReadonlyMap<string, unknown>;
  variants: string[];
  matchers: Matcher[];
  boundaries: number[];
  trafficThreshold: number;
  trafficSeed: string;
  variantSeed: string;
  layer: { seed: string; start: number; end: number } | null;
  document: Record<string, unknown>;
}

function points(value: unknown, path: string, errors: Errors): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 100)) {
    errors.push([path, "must be a number from 0 to 100"]);
    return 0;
  }
  const p = Math.round(value * 100);
  if (Math.abs(value * 100 - p) > 1e-6) errors.push([path, "at most 2 decimals"]);
  return p;
}

/** Compile one `experiments[]` document of the payload; throws RuleValidationError when refused. */
export function compileExperiment(doc: unknown): CompiledExperiment {
  if (!isObject(doc) || typeof doc.key !== "string" || typeof doc.salt !== "string" || !Array.isArray(doc.variants)) {
    throw new RuleValidationError([["", "experiment needs key, salt and variants"]]);
  }
  const errors: Errors = [];
  const conditions = parseConditions(doc.targeting ?? [], "targeting", errors, () => undefined);
  const variants = doc.variants.filter(isObject);
  if (!variants.length) errors.push(["variants", "must not be empty"]);
  const keys = variants.map((v) => String(v.key));
  if (new Set(keys).size !== keys.length) errors.push(["variants", "duplicate variant key"]);
  const weights = variants.map((v, i) => points(v.weight, `variants[${i}].weight`, errors));
  if (variants.length && weights.reduce((a, b) => a + b, 0) !== BUCKETS) errors.push(["variants", "weights must sum to exactly 100"]);
  const traffic = points(doc.traffic_allocation ?? 100, "traffic_allocation", errors);
  let layer: CompiledExperiment["layer"] = null;
  if (isObject(doc.layer)) {
    const start = Number(doc.layer.range_start);
    const end = Number(doc.layer.range_end);
    if (!(start >= 0 && start < end && end <= BUCKETS)) errors.push(["layer", "range must satisfy 0 <= range_start < range_end <= 10000"]);
    layer = { seed: `layer:${String(doc.layer.salt)}`, start, end };
  }
  if (errors.length) throw new RuleValidationError(errors);
  const overrides = isObject(doc.overrides) ? doc.overrides : {};
  return {
    key: doc.key,
    status: String(doc.status),
    bucketBy: typeof doc.bucket_by === "string" && doc.bucket_by ? doc.bucket_by : "user_id",
    serverSticky: doc.assignment === "server",
    overrides: new Map(Object.entries(overrides).map(([k, v]) => [k, String(v)])),
    payloads: new Map(variants.map((v) => [String(v.key), v.payload ?? null])),
    variants: keys,
    matchers: compileConditions(conditions),
    boundaries: cumulativeBoundaries(weights),
    trafficThreshold: traffic,
    trafficSeed: `${doc.salt}:traffic`,
    variantSeed: `${doc.salt}:variant`,
    layer,
    document: doc,
  };
}

const NO_SEGMENTS: Segments = new Map();

/** The assignment of `context` by the buckets alone (the server persists assignments; see docs). */
export function assign(exp: CompiledExperiment, context: Context, segments: Segments = NO_SEGMENTS): Assignment {
  const unit = unitText(context[exp.bucketBy]);
  if (unit === null) return { variant: null, reason: "MISSING_UNIT", bucket: null };
  for (const m of exp.matchers) if (!m(context, segments)) return { variant: null, reason: "NOT_TARGETED", bucket: null };
  if (exp.layer !== null) {
    const b = bucket(exp.layer.seed, unit);
    if (!(exp.layer.start <= b && b < exp.layer.end)) return { variant: null, reason: "LAYER_EXCLUDED", bucket: b };
  }
  const t = bucket(exp.trafficSeed, unit);
  if (t >= exp.trafficThreshold) return { variant: null, reason: "TRAFFIC_EXCLUDED", bucket: t };
  const v = bucket(exp.variantSeed, unit);
  return { variant: exp.variants[pick(exp.boundaries, v)]!, reason: "ASSIGNED", bucket: v };
}
