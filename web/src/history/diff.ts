export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Field-level changes between two snapshots: nested objects are walked (`environments.production.enabled`),
 * arrays of rules are compared by index (`rules[1].conditions`), anything else is a leaf. */
export function deepDiff(before: unknown, after: unknown, path = ""): Change[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => deepDiff(before[key], after[key], path ? `${path}.${key}` : key));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length && before.every(isObject)) {
    return before.flatMap((item, i) => deepDiff(item, after[i], `${path}[${i}]`));
  }
  return [{ path: path || "(value)", before, after }];
}

export function show(value: unknown): string {
  if (value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What a record without a before/after pair carries, as short phrases: a creation says "created";
 * an event record (`experiment.aggregated`, `guardrail.breached`...) lists its fields. */
export function summarize(action: string, before: unknown, after: unknown): string[] {
  if (before || !after) return [];
  if (action.endsWith(".created")) return ["created"];
  if (!isObject(after)) return [show(after)];
  if (action === "experiment.aggregated") {
    const parts = [`aggregated in ${show(after.duration_ms)} ms`];
    if (after.full) parts.push("recomputed from scratch");
    if (typeof after.aggregated_at === "string") parts.push(`data up to ${new Date(after.aggregated_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`);
    return parts;
  }
  return Object.entries(after)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${show(value)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}
