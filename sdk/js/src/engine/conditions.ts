/**
 * Conditions: parsing/validation (port of `conditions.py`) and compilation into matchers (port of
 * `operators.py`). A matcher is `(context, segments) => boolean`.
 */

import { checkPattern, compilePatterns } from "./patterns.js";
import {
  MAX_INSTANT_LENGTH,
  MAX_VERSION_LENGTH,
  type Address,
  type Decimal,
  type SemVer,
  casefold,
  compareDecimal,
  compareSemver,
  isScalar,
  parseAddress,
  parseInstant,
  parseNetwork,
  parseNumber,
  parseSemver,
  valueText,
} from "./values.js";

export type Context = Record<string, unknown>;
export type Matcher = (ctx: Context, segments: Segments) => boolean;
export type Segments = ReadonlyMap<string, Matcher>;

export const OPERATORS = [
  "eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "not_contains", "starts_with",
  "ends_with", "matches", "semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte", "before",
  "after", "exists", "not_exists", "contains_any", "contains_all", "in_cidr", "in_segment", "not_in_segment",
] as const;
export type Operator = (typeof OPERATORS)[number];

const NEGATIVE_TWINS: Partial<Record<Operator, Operator>> = {
  neq: "eq",
  not_in: "in",
  not_contains: "contains",
  not_in_segment: "in_segment",
  not_exists: "exists",
};
const CASE_INSENSITIVE = new Set<Operator>([
  "eq", "neq", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "matches",
  "contains_any", "contains_all",
]);
const SEGMENT_OPS = new Set<Operator>(["in_segment", "not_in_segment"]);
const NO_VALUE_OPS = new Set<Operator>(["exists", "not_exists"]);
const SCALAR_OPS = new Set<Operator>(["eq", "neq", "in", "not_in", "contains_any", "contains_all"]);
const NUMERIC_OPS = new Set<Operator>(["gt", "gte", "lt", "lte"]);
const TEXT_OPS = new Set<Operator>(["contains", "not_contains", "starts_with", "ends_with"]);
const SEMVER_OPS = new Set<Operator>(["semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"]);
const CONDITION_KEYS = new Set(["attribute", "operator", "values", "negate", "case_insensitive"]);

export interface Condition {
  attribute: string;
  operator: Operator;
  values: unknown[];
  negate: boolean;
  caseInsensitive: boolean;
}

export type Errors = Array<[string, string]>;
export type SegmentCheck = (key: string, path: string, errors: Errors) => void;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function repr(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

// -------------------------------------------------------------------------------------------------
// parsing

export function parseConditions(raw: unknown, path: string, errors: Errors, check: SegmentCheck): Condition[] {
  if (!Array.isArray(raw)) {
    errors.push([path, "must be a list of conditions"]);
    return [];
  }
  const out: Condition[] = [];
  raw.forEach((item, i) => {
    const c = parseCondition(item, `${path}[${i}]`, errors, check);
    if (c !== null) out.push(c);
  });
  return out;
}

function parseCondition(raw: unknown, path: string, errors: Errors, check: SegmentCheck): Condition | null {
  if (!isObject(raw)) {
    errors.push([path, "must be an object"]);
    return null;
  }
  const before = errors.length;
  for (const key of Object.keys(raw)) if (!CONDITION_KEYS.has(key)) errors.push([`${path}.${key}`, "unknown field"]);
  let operator: Operator | null = null;
  if (raw.operator === undefined || raw.operator === null) errors.push([`${path}.operator`, "required"]);
  else if ((OPERATORS as readonly unknown[]).includes(raw.operator)) operator = raw.operator as Operator;
  else errors.push([`${path}.operator`, `unknown operator ${repr(raw.operator)}`]);
  let attribute = "";
  const attr = raw.attribute;
  if (!(operator !== null && SEGMENT_OPS.has(operator) && (attr === undefined || attr === null || attr === ""))) {
    if (typeof attr !== "string" || attr === "") errors.push([`${path}.attribute`, "must be a non-empty string"]);
    else attribute = attr;
  }
  const negate = flag(raw, "negate", path, errors);
  const ci = flag(raw, "case_insensitive", path, errors);
  if (operator !== null && ci && !CASE_INSENSITIVE.has(operator)) {
    errors.push([`${path}.case_insensitive`, `case_insensitive does not apply to ${operator}`]);
  }
  const values = parseValues(raw, operator, `${path}.values`, errors, check, ci);
  if (errors.length !== before || operator === null) return null;
  return { attribute, operator, values, negate, caseInsensitive: ci };
}

function flag(raw: Record<string, unknown>, field: string, path: string, errors: Errors): boolean {
  const value = raw[field] ?? false;
  if (typeof value !== "boolean") {
    errors.push([`${path}.${field}`, "must be a boolean"]);
    return false;
  }
  return value;
}

function parseValues(
  raw: Record<string, unknown>, op: Operator | null, path: string, errors: Errors, check: SegmentCheck, ci: boolean,
): unknown[] {
  const noValue = op !== null && NO_VALUE_OPS.has(op);
  const values = raw.values === undefined ? (noValue ? [] : null) : raw.values;
  if (!Array.isArray(values)) {
    errors.push([path, "must be a list"]);
    return [];
  }
  if (noValue) {
    if (values.length) errors.push([path, `${op} takes no values`]);
    return [];
  }
  if (!values.length) {
    errors.push([path, "must not be empty"]);
    return [];
  }
  if (values.some((v) => v === null)) {
    errors.push([path, "must not contain null"]);
    return [];
  }
  if (op !== null) {
    values.forEach((value, i) => {
      const problem = valueProblem(op, value, `${path}[${i}]`, errors, check, ci);
      if (problem !== null) errors.push([path, `values[${i}]: ${problem}`]);
    });
  }
  return values;
}

function valueProblem(
  op: Operator, value: unknown, path: string, errors: Errors, check: SegmentCheck, ci: boolean,
): string | null {
  if (SCALAR_OPS.has(op)) return isScalar(value) ? null : `${repr(value)} is not a string, finite number or boolean`;
  if (NUMERIC_OPS.has(op)) {
    const n = typeof value === "boolean" ? null : parseNumber(value);
    return n !== null && !Number.isNaN(n) ? null : `${repr(value)} is not a number`;
  }
  if (typeof value !== "string" && op !== "before" && op !== "after") return `${repr(value)} must be a string`;
  if (TEXT_OPS.has(op)) return null;
  if (op === "matches") return checkPattern(value as string, ci);
  if (SEMVER_OPS.has(op)) {
    if ((value as string).length > MAX_VERSION_LENGTH) return `a version is at most ${MAX_VERSION_LENGTH} characters`;
    return parseSemver(value) !== null ? null : `${repr(value)} is not a version`;
  }
  if (op === "before" || op === "after") {
    if (typeof value === "string" && value.length > MAX_INSTANT_LENGTH) {
      return `a date is at most ${MAX_INSTANT_LENGTH} characters`;
    }
    return typeof value !== "boolean" && parseInstant(value) !== null
      ? null
      : `${repr(value)} is not a date, date-time or epoch seconds`;
  }
  if (op === "in_cidr") {
    const network = parseNetwork(value);
    return typeof network === "string" ? network : null;
  }
  check(value as string, path.slice(0, path.lastIndexOf("[")), errors);
  return null;
}

export function segmentReferences(raw: unknown): string[] {
  const refs: string[] = [];
  const conditions = isObject(raw) ? raw.conditions : undefined;
  if (!Array.isArray(conditions)) return refs;
  for (const c of conditions) {
    if (isObject(c) && SEGMENT_OPS.has(c.operator as Operator) && Array.isArray(c.values)) {
      for (const v of c.values) if (typeof v === "string") refs.push(v);
    }
  }
  return refs;
}

/** Segment references taken from raw segment documents, for unknown-key and cycle checks. */
export class SegmentGraph {
  readonly edges = new Map<string, string[]>();

  constructor(segments: ReadonlyMap<string, unknown>, readonly replacing: string | null = null) {
    for (const [key, raw] of segments) this.edges.set(key, segmentReferences(raw));
  }

  readonly check: SegmentCheck = (key, path, errors) => {
    if (key !== this.replacing && !this.edges.has(key)) {
      errors.push([path, `unknown segment '${key}'`]);
      return;
    }
    const cycle = this.findCycle(key);
    if (cycle !== null) errors.push([path, "segment reference cycle: " + cycle.join(" -> ")]);
  };

  findCycle(start: string): string[] | null {
    const trail: string[] = [];
    const done = new Set<string>();
    const visit = (key: string): string[] | null => {
      const at = trail.indexOf(key);
      if (at >= 0) return [...trail.slice(at), key];
      if (done.has(key)) return null;
      trail.push(key);
      for (const ref of this.edges.get(key) ?? []) {
        const found = visit(ref);
        if (found !== null) return found;
      }
      trail.pop();
      done.add(key);
      return null;
    };
    return visit(start);
  }
}

// -------------------------------------------------------------------------------------------------
// compiling

type StrTest = (a: string) => boolean;
type ScalarTest = (a: unknown) => boolean;
const never: ScalarTest = () => false;

export function compileConditions(conditions: readonly Condition[]): Matcher[] {
  return conditions.map(compileCondition);
}

export function compileSegment(conditions: readonly Condition[]): Matcher {
  const matchers = compileConditions(conditions);
  return (ctx, segments) => {
    for (const m of matchers) if (!m(ctx, segments)) return false;
    return true;
  };
}

export function compileCondition(cond: Condition): Matcher {
  const op = cond.operator;
  const positive = NEGATIVE_TWINS[op] ?? op;
  const invert = cond.negate !== (positive !== op);
  const attribute = cond.attribute;
  if (positive === "exists") return (ctx) => (ctx[attribute] != null) !== invert;
  if (positive === "in_segment") {
    const keys = cond.values as string[];
    return (ctx, segments) => {
      for (const key of keys) {
        const segment = segments.get(key);
        if (segment !== undefined && segment(ctx, segments)) return !invert;
      }
      return invert;
    };
  }
  if (positive === "contains_all") return containsAll(cond, invert);
  const [strTest, scalarTest] = TESTS[positive]!(cond);
  return (ctx) => {
    const value = ctx[attribute];
    if (value === undefined || value === null) return false;
    if (typeof value === "string") return strTest(value) !== invert;
    if (Array.isArray(value)) {
      for (const e of value) {
        if (e !== null && e !== undefined && (typeof e === "string" ? strTest(e) : scalarTest(e))) return !invert;
      }
      return invert;
    }
    return scalarTest(value) !== invert;
  };
}

function equality(values: readonly unknown[], ci: boolean): [StrTest, ScalarTest] {
  const texts = new Set<string>();
  const numbers = new Set<number>(); // number values: equal to numbers and numeric strings
  const allNumbers = new Set<number>(); // number values and numeric-string values: equal to numbers
  const booleans = new Set<boolean>();
  for (const value of values) {
    if (typeof value === "boolean") {
      booleans.add(value);
      texts.add(value ? "true" : "false");
      continue;
    }
    const n = parseNumber(value);
    if (typeof value === "string") {
      const key = ci ? casefold(value) : value;
      texts.add(key);
      if (key === "true" || key === "false") booleans.add(key === "true");
    } else if (n !== null) {
      numbers.add(n);
    }
    if (n !== null) allNumbers.add(n);
  }
  const hasNumbers = numbers.size > 0;
  const strTest: StrTest = (a) => {
    if (texts.has(ci ? casefold(a) : a)) return true;
    if (!hasNumbers) return false;
    const n = parseNumber(a);
    return n !== null && numbers.has(n);
  };
  const scalarTest: ScalarTest = (a) => {
    if (typeof a === "boolean") return booleans.has(a);
    if (typeof a === "number") return allNumbers.has(a);
    return false;
  };
  return [strTest, scalarTest];
}

function containsAll(cond: Condition, invert: boolean): Matcher {
  const tests = cond.values.map((v) => equality([v], cond.caseInsensitive));
  const attribute = cond.attribute;
  return (ctx) => {
    const value = ctx[attribute];
    if (value === undefined || value === null) return false;
    const elements = Array.isArray(value) ? value.filter((e) => e !== null && e !== undefined) : [value];
    const all = tests.every(([s, o]) => elements.some((e) => (typeof e === "string" ? s(e) : o(e))));
    return all !== invert;
  };
}

function numericTests(cond: Condition): [StrTest, ScalarTest] {
  const numbers = cond.values.map(parseNumber).filter((n): n is number => n !== null);
  const op = cond.operator;
  let compare: (n: number) => boolean;
  if (op === "gt" || op === "gte") {
    const t = Math.min(...numbers);
    compare = op === "gt" ? (n) => n > t : (n) => n >= t;
  } else {
    const t = Math.max(...numbers);
    compare = op === "lt" ? (n) => n < t : (n) => n <= t;
  }
  return [
    (a) => {
      const n = parseNumber(a);
      return n !== null && compare(n);
    },
    (a) => typeof a === "number" && compare(a),
  ];
}

function viaText(strTest: StrTest): ScalarTest {
  return (value) => {
    const text = valueText(value);
    return text !== null && strTest(text);
  };
}

function textTests(cond: Condition): [StrTest, ScalarTest] {
  const ci = cond.caseInsensitive;
  const needles = (cond.values as string[]).map((v) => (ci ? casefold(v) : v));
  const op = cond.operator;
  let base: StrTest;
  if (op === "starts_with") base = (a) => needles.some((n) => a.startsWith(n));
  else if (op === "ends_with") base = (a) => needles.some((n) => a.endsWith(n));
  else base = (a) => needles.some((n) => a.includes(n));
  const strTest: StrTest = ci ? (a) => base(casefold(a)) : base;
  return [strTest, viaText(strTest)];
}

function matchesTests(cond: Condition): [StrTest, ScalarTest] {
  const ci = cond.caseInsensitive;
  const strTest: StrTest = compilePatterns(cond.values as string[], ci);
  return [strTest, viaText(strTest)];
}

function semverTests(cond: Condition): [StrTest, ScalarTest] {
  const keys = cond.values.map(parseSemver).filter((k): k is SemVer => k !== null);
  const op = cond.operator;
  if (op === "semver_eq") {
    return [
      (a) => {
        const k = parseSemver(a);
        return k !== null && keys.some((x) => compareSemver(k, x) === 0);
      },
      never,
    ];
  }
  const sorted = [...keys].sort(compareSemver);
  const low = sorted[0]!;
  const high = sorted[sorted.length - 1]!;
  const compare: (k: SemVer) => boolean =
    op === "semver_gt" ? (k) => compareSemver(k, low) > 0
    : op === "semver_gte" ? (k) => compareSemver(k, low) >= 0
    : op === "semver_lt" ? (k) => compareSemver(k, high) < 0
    : (k) => compareSemver(k, high) <= 0;
  return [
    (a) => {
      const k = parseSemver(a);
      return k !== null && compare(k);
    },
    never,
  ];
}

function dateTests(cond: Condition): [StrTest, ScalarTest] {
  const instants = cond.values.map(parseInstant).filter((i): i is Decimal => i !== null);
  const sorted = [...instants].sort(compareDecimal);
  const after = cond.operator === "after";
  const bound = after ? sorted[0]! : sorted[sorted.length - 1]!;
  const test = (a: unknown): boolean => {
    if (typeof a === "boolean") return false;
    const i = parseInstant(a);
    if (i === null) return false;
    const c = compareDecimal(i, bound);
    return after ? c > 0 : c < 0;
  };
  return [test, test];
}

function cidrTests(cond: Condition): [StrTest, ScalarTest] {
  const nets = cond.values.map(parseNetwork).filter((n) => typeof n !== "string") as Array<{
    v: 4 | 6; net: bigint; mask: bigint;
  }>;
  const contains = (a: Address): boolean => nets.some((n) => n.v === a.v && (a.n & n.mask) === n.net);
  return [
    (a) => {
      const address = parseAddress(a);
      if (address === null) return false;
      if (contains(address)) return true;
      if (address.v === 6 && address.n >> 32n === 0xffffn) return contains({ v: 4, n: address.n & 0xffffffffn });
      return false;
    },
    never,
  ];
}

const eqTests = (cond: Condition): [StrTest, ScalarTest] => equality(cond.values, cond.caseInsensitive);

const TESTS: Partial<Record<Operator, (cond: Condition) => [StrTest, ScalarTest]>> = {
  eq: eqTests,
  in: eqTests,
  contains_any: eqTests,
  gt: numericTests,
  gte: numericTests,
  lt: numericTests,
  lte: numericTests,
  contains: textTests,
  starts_with: textTests,
  ends_with: textTests,
  matches: matchesTests,
  semver_eq: semverTests,
  semver_gt: semverTests,
  semver_gte: semverTests,
  semver_lt: semverTests,
  semver_lte: semverTests,
  before: dateTests,
  after: dateTests,
  in_cidr: cidrTests,
};
