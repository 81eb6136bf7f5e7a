// What the history shows for the ids in audit records: the known resource types (for the filter), and
// a readable label for the people, environments, API keys and webhooks its records name by UUID.

/** The resource types the server records (the `resource_type` argument of `audit.record(...)` in
 * src/experimently), with a name for the filter. */
export const RESOURCE_TYPES: { value: string; label: string }[] = [
  { value: "flag", label: "Flag" },
  { value: "segment", label: "Segment" },
  { value: "experiment", label: "Experiment" },
  { value: "metric", label: "Metric" },
  { value: "layer", label: "Layer" },
  { value: "environment", label: "Environment" },
  { value: "safety_settings", label: "Safety settings" },
  { value: "api_key", label: "API key" },
  { value: "webhook", label: "Webhook" },
  { value: "user", label: "Person (account, sign-in)" },
  { value: "privacy_subject", label: "Privacy request" },
];

/** `retention.deleted` records name what the retention job deleted as their resource type. */
export const RETENTION_TYPES: { value: string; label: string }[] = [
  { value: "events", label: "Raw events" },
  { value: "experiment_statistics", label: "Experiment statistics" },
  { value: "domain_events", label: "Webhook events" },
  { value: "audit_logs", label: "History records" },
];

export interface LabelledRow {
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  resource_type: string;
  resource_id?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface KnownLists {
  users?: { id: string; email: string }[] | undefined;
  environments?: { id: string; key: string }[] | undefined;
  keys?: { id: string; name: string }[] | undefined;
  webhooks?: { id: string; url: string }[] | undefined;
}

/** The resource types whose records name the resource by a UUID, and the field of its snapshot that
 * reads well. */
const SNAPSHOT_FIELD: Record<string, string> = { user: "email", environment: "key", api_key: "name", webhook: "url" };

export const labelKey = (type: string, id: string) => `${type}:${id}`;

/** `type:id` -> a label, for the records' resources named by UUID: from the lists the viewer may read,
 * else from a record's own snapshot, else (for a person) from any record they made. */
export function resourceLabels(rows: LabelledRow[], known: KnownLists = {}): Map<string, string> {
  const labels = new Map<string, string>();
  const put = (type: string, id: string, label: unknown) => {
    if (typeof label === "string" && label && !labels.has(labelKey(type, id))) labels.set(labelKey(type, id), label);
  };
  known.users?.forEach((u) => put("user", u.id, u.email));
  known.environments?.forEach((e) => put("environment", e.id, e.key));
  known.keys?.forEach((k) => put("api_key", k.id, k.name));
  known.webhooks?.forEach((w) => put("webhook", w.id, w.url));
  for (const row of rows) {
    const field = SNAPSHOT_FIELD[row.resource_type];
    if (!field || !row.resource_id) continue;
    for (const snapshot of [row.after, row.before]) {
      if (snapshot && typeof snapshot === "object") put(row.resource_type, row.resource_id, (snapshot as Record<string, unknown>)[field]);
    }
  }
  // a person's own records (sign-in, MFA, password change) name them as the resource and as the actor;
  // an API key that made a change is its actor ("name (prefix...)")
  for (const row of rows) {
    if (row.actor_id && row.actor_label && (row.actor_type === "user" || row.actor_type === "api_key")) put(row.actor_type, row.actor_id, row.actor_label);
  }
  return labels;
}

/** Whether these records name a resource of `type` that has no label yet (worth fetching its list). */
export function needsList(rows: LabelledRow[], type: string, labels: Map<string, string>): boolean {
  return rows.some((r) => r.resource_type === type && r.resource_id && !labels.has(labelKey(type, r.resource_id)));
}
