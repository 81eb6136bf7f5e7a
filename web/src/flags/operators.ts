// The 27 targeting operators of the engine, each with the editor that fits its values.
// Semantics: docs/targeting.md (the engine in sdk/python is the reference).

export type Editor = "scalars" | "number" | "texts" | "pattern" | "version" | "date" | "none" | "cidrs" | "segments";
export type ScalarType = "text" | "number" | "boolean";

export interface OperatorInfo {
  value: string;
  label: string;
  editor: Editor;
  caseInsensitive: boolean;
  group: string;
}

const op = (value: string, label: string, editor: Editor, group: string, caseInsensitive = false): OperatorInfo => ({
  value,
  label,
  editor,
  group,
  caseInsensitive,
});

export const OPERATORS: OperatorInfo[] = [
  op("eq", "equals", "scalars", "Values", true),
  op("neq", "does not equal", "scalars", "Values", true),
  op("in", "is one of", "scalars", "Values", true),
  op("not_in", "is not one of", "scalars", "Values", true),
  op("contains_any", "list contains any of", "scalars", "Lists", true),
  op("contains_all", "list contains all of", "scalars", "Lists", true),
  op("gt", ">", "number", "Numbers"),
  op("gte", "≥", "number", "Numbers"),
  op("lt", "<", "number", "Numbers"),
  op("lte", "≤", "number", "Numbers"),
  op("contains", "contains", "texts", "Text", true),
  op("not_contains", "does not contain", "texts", "Text", true),
  op("starts_with", "starts with", "texts", "Text", true),
  op("ends_with", "ends with", "texts", "Text", true),
  op("matches", "matches pattern", "pattern", "Text", true),
  op("semver_eq", "version =", "version", "Versions"),
  op("semver_gt", "version >", "version", "Versions"),
  op("semver_gte", "version ≥", "version", "Versions"),
  op("semver_lt", "version <", "version", "Versions"),
  op("semver_lte", "version ≤", "version", "Versions"),
  op("before", "is before", "date", "Dates"),
  op("after", "is after", "date", "Dates"),
  op("exists", "is set", "none", "Presence"),
  op("not_exists", "is not set", "none", "Presence"),
  op("in_cidr", "IP is in network", "cidrs", "Networks"),
  op("in_segment", "is in segment", "segments", "Segments"),
  op("not_in_segment", "is not in segment", "segments", "Segments"),
];

export const OPERATOR_BY_VALUE = new Map(OPERATORS.map((o) => [o.value, o]));

export type ConditionValue = string | number | boolean;

export interface Condition {
  attribute: string;
  operator: string;
  values: ConditionValue[];
  negate?: boolean;
  case_insensitive?: boolean;
}

export function editorFor(operator: string): Editor {
  return OPERATOR_BY_VALUE.get(operator)?.editor ?? "scalars";
}

/** Split "a, b, c" into trimmed, non-empty tokens. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

export function parseScalar(token: string, type: ScalarType): ConditionValue {
  if (type === "number") {
    const n = Number(token);
    return Number.isFinite(n) && token.trim() !== "" ? n : token;
  }
  if (type === "boolean") return token.toLowerCase() === "true";
  return token;
}

export function scalarTypeOf(values: ConditionValue[]): ScalarType {
  if (values.length > 0 && values.every((v) => typeof v === "number")) return "number";
  if (values.length > 0 && values.every((v) => typeof v === "boolean")) return "boolean";
  return "text";
}

const SEMVER = /^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(\d{1,2}))?$/;

function cidrProblem(value: string): string | null {
  const v4 = IPV4.exec(value);
  if (v4) {
    if (v4.slice(1, 5).some((part) => Number(part) > 255)) return `${value} is not an IPv4 address`;
    if (v4[6] !== undefined && Number(v4[6]) > 32) return `${value}: prefix must be 0-32`;
    return null;
  }
  if (value.includes(":")) {
    const [address, prefix] = value.split("/");
    if (!/^[0-9a-fA-F:.]+$/.test(address ?? "")) return `${value} is not an IPv6 address`;
    if (prefix !== undefined && !(Number(prefix) >= 0 && Number(prefix) <= 128)) return `${value}: prefix must be 0-128`;
    return null;
  }
  return `${value} is not an IP address or network`;
}

/** A problem the console can see before saving (the server's validation still decides). */
export function valueProblem(condition: Condition): string | null {
  const editor = editorFor(condition.operator);
  const values = condition.values;
  if (editor === "none") return values.length ? "takes no values" : null;
  if (values.length === 0) return "add at least one value";
  for (const value of values) {
    if (editor === "number" && (typeof value !== "number" || !Number.isFinite(value))) return `${String(value)} is not a number`;
    if (editor === "version" && !SEMVER.test(String(value))) return `${String(value)} is not a version (1.2.3)`;
    if (editor === "date" && Number.isNaN(Date.parse(String(value)))) return `${String(value)} is not a date`;
    if (editor === "cidrs") {
      const problem = cidrProblem(String(value));
      if (problem) return problem;
    }
    if (editor === "pattern") {
      try {
        new RegExp(String(value));
      } catch {
        return `${String(value)} is not a valid pattern`;
      }
    }
  }
  return null;
}

/** Switching operator keeps the values that still fit and drops flags that no longer apply. */
export function changeOperator(condition: Condition, operator: string): Condition {
  const before = editorFor(condition.operator);
  const after = editorFor(operator);
  const info = OPERATOR_BY_VALUE.get(operator);
  const next: Condition = { ...condition, operator };
  if (!info?.caseInsensitive) delete next.case_insensitive;
  if (after === "none") next.values = [];
  else if (before !== after) {
    if (after === "number") next.values = condition.values.map(Number).filter(Number.isFinite);
    else if (after === "segments" || before === "segments" || before === "none") next.values = [];
    else next.values = condition.values.map(String);
  }
  if (after === "segments") next.attribute = "";
  return next;
}

export function blankCondition(): Condition {
  return { attribute: "", operator: "eq", values: [] };
}

/** datetime-local text <-> ISO-8601 (UTC) */
export function toIso(local: string): string {
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? local : date.toISOString();
}

export function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
