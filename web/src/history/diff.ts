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

/** Fields whose value is a person's id: read by the person's label when the page knows it. */
const PERSON_FIELDS = new Set(["owner_id", "created_by"]);

/** The label of a person's id held in `field` (the last part of a path: `owner_id`,
 * `rules[0].owner_id`), when `people` knows it; null otherwise. */
export function personLabel(field: string, value: unknown, people: ReadonlyMap<string, string>): string | null {
  const name = field.split(/[.[\]]/).filter(Boolean).pop() ?? field;
  if (!PERSON_FIELDS.has(name) || typeof value !== "string") return null;
  return people.get(value) ?? null;
}

/** A value as the table shows it: a person's id by their label when known. */
export function showField(field: string, value: unknown, people: ReadonlyMap<string, string> = new Map()): string {
  return personLabel(field, value, people) ?? show(value);
}

/** Who the records on the page name: the people acting (`actor_id` → `actor_label`) and the people a
 * record is about (`resource_type` user: `resource_id` → `resource_label`). API keys and the system
 * act too, but their ids are not people's. */
export function peopleLabels(
  rows: readonly { actor_type: string; actor_id: string | null; actor_label: string | null; resource_type: string; resource_id: string | null; resource_label?: string | null }[],
): Map<string, string> {
  const people = new Map<string, string>();
  for (const row of rows) {
    if (row.actor_type === "user" && row.actor_id && row.actor_label) people.set(row.actor_id, row.actor_label);
    if (row.resource_type === "user" && row.resource_id && row.resource_label && row.resource_label !== row.resource_id) {
      people.set(row.resource_id, row.resource_label);
    }
  }
  return people;
}

/** What a created (or deleted) resource was, by its kind: the fields an auditor asks about. Others get
 * their first few plain fields, the names first. */
const MEANINGFUL: Record<string, string[]> = {
  api_key: ["name", "scopes", "environment", "expires_at"],
  user: ["email", "role"],
  webhook: ["url", "description", "event_types"],
  environment: ["key", "name", "is_production"],
  // not the salt or the archived flag: every new flag has them
  flag: ["key", "name", "type", "tags", "description"],
};
const FIRST = ["key", "name", "email"];
const MAX_FIELDS = 6;

function isTimestamp(key: string): boolean {
  return key.endsWith("_at");
}

function isId(key: string): boolean {
  return key === "id" || key.endsWith("_id");
}

function isScalar(value: unknown): boolean {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

function formatWhen(value: string): string {
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? value : at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** One field of a created or deleted resource as a line, or null when it says nothing. */
function fieldLine(key: string, value: unknown, people: ReadonlyMap<string, string>): string | null {
  // an expiry left empty is a key that never expires: worth saying, not skipping
  if (key === "expires_at" && value === null) return "expires_at: never";
  // a webhook subscribed to no type in particular receives every type
  if (key === "event_types" && Array.isArray(value) && value.length === 0) return "event_types: all";
  if (value === null || value === undefined || value === "") return null;
  if (Array.isArray(value)) return value.every(isScalar) && value.length ? `${key}: ${value.join(", ")}` : null;
  if (!isScalar(value)) return null;
  if (isTimestamp(key) && typeof value === "string") return `${key}: ${formatWhen(value)}`;
  return `${key}: ${showField(key, value, people)}`;
}

/** The lines that describe a created or deleted resource of kind `kind` from its snapshot. */
export function describeResource(kind: string, snapshot: Record<string, unknown>, people: ReadonlyMap<string, string> = new Map()): string[] {
  const chosen = MEANINGFUL[kind];
  if (chosen) return chosen.flatMap((key) => (key in snapshot ? [fieldLine(key, snapshot[key], people)] : [])).filter((l): l is string => l !== null);
  const keys = Object.keys(snapshot).filter((key) => !isId(key) && !isTimestamp(key));
  const ordered = [...FIRST.filter((key) => keys.includes(key)), ...keys.filter((key) => !FIRST.includes(key))];
  return ordered
    .map((key) => fieldLine(key, snapshot[key], people))
    .filter((l): l is string => l !== null)
    .slice(0, MAX_FIELDS);
}

/** What a record without a before/after pair carries, as short phrases: a creation says "created" and
 * what was created (an API key's scopes, environment and expiry; a person's email and role), a deletion
 * "deleted" and what was deleted; an event record (`experiment.aggregated`, `guardrail.breached`...)
 * lists its fields. People's ids read by their labels when `people` knows them. */
export function summarize(action: string, before: unknown, after: unknown, people: ReadonlyMap<string, string> = new Map()): string[] {
  if (before && after) return [];
  const kind = action.split(".")[0] ?? "";
  if (action.endsWith(".deleted") && isObject(before)) return ["deleted", ...describeResource(kind, before, people)];
  if (!after) return [];
  if (action.endsWith(".created")) return ["created", ...(isObject(after) ? describeResource(kind, after, people) : [])];
  if (!isObject(after)) return [show(after)];
  if (action === "experiment.aggregated") {
    const parts = [`aggregated in ${show(after.duration_ms)} ms`];
    if (after.full) parts.push("recomputed from scratch");
    if (typeof after.aggregated_at === "string") parts.push(`data up to ${formatWhen(after.aggregated_at)}`);
    if (typeof after.events_waiting === "number" && after.events_waiting > 0) {
      parts.push(`${show(after.events_waiting)} accepted events not yet written (counted next run)`);
    }
    return parts;
  }
  return Object.entries(after)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key}: ${showField(key, value, people)}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(text: string): boolean {
  return UUID.test(text);
}
