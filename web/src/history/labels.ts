// The resource types the history's filter offers. Each record's readable name for its resource comes
// from the server (`resource_label`), which names it whatever lists the reader may read.

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
  { value: "audit_log", label: "History (exports)" },
];

/** `retention.deleted` records name what the retention job deleted as their resource type. */
export const RETENTION_TYPES: { value: string; label: string }[] = [
  { value: "events", label: "Raw events" },
  { value: "experiment_statistics", label: "Experiment statistics" },
  { value: "domain_events", label: "Webhook events" },
  { value: "audit_logs", label: "History records" },
];
