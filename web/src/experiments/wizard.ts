// The create wizard's logic, apart from React so it can be tested alone: the draft, weights, the
// checks each step makes before "Next" (the server's validation decides at "Create"), the payload,
// and the power calculator's seed from a metric's recent daily series.
import { toLocalInput, type Condition } from "../flags/operators";

export const KEY_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

export interface VariantDraft {
  key: string;
  name: string;
  weight: number;
  is_control: boolean;
  /** an existing variant's payload, kept as it is by an edit (the wizard does not edit payloads) */
  payload?: unknown;
}

export interface Draft {
  name: string;
  key: string;
  hypothesis: string;
  description: string;
  variants: VariantDraft[];
  traffic_allocation: number;
  environment: string;
  targeting: Condition[];
  bucket_by: string;
  layer: string;
  layer_share: number;
  primary_metric: string;
  secondary_metrics: string[];
  guardrail_metrics: string[];
  guardrail_action: "pause" | "notify";
  planned_start: string;
  planned_end: string;
  min_sample_size: number | null;
}

export function emptyDraft(): Draft {
  return {
    name: "",
    key: "",
    hypothesis: "",
    description: "",
    variants: [
      { key: "control", name: "Control", weight: 50, is_control: true },
      { key: "treatment", name: "Treatment", weight: 50, is_control: false },
    ],
    traffic_allocation: 100,
    environment: "production",
    targeting: [],
    bucket_by: "user_id",
    layer: "",
    layer_share: 100,
    primary_metric: "",
    secondary_metrics: [],
    guardrail_metrics: [],
    guardrail_action: "pause",
    planned_start: "",
    planned_end: "",
    min_sample_size: null,
  };
}

export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100);
}

/** The weights' total, to the cent (weights take at most 2 decimals). */
export function weightTotal(variants: VariantDraft[]): number {
  return Math.round(variants.reduce((sum, v) => sum + Math.round(v.weight * 100), 0)) / 100;
}

/** n weights of at most 2 decimals summing to exactly 100 (the first ones take the leftover cents). */
export function splitEvenly(n: number): number[] {
  if (n <= 0) return [];
  const cents = Math.floor(10_000 / n);
  const leftover = 10_000 - cents * n;
  return Array.from({ length: n }, (_, i) => (cents + (i < leftover ? 1 : 0)) / 100);
}

const letter = (i: number) => String.fromCharCode(65 + (i % 26));

/** A new treatment, named by its place among the treatments: Control, Treatment A, Treatment B... (a
 * lone default "Treatment" becomes "Treatment A" once it has a sibling; its key stays). */
export function addVariant(variants: VariantDraft[]): VariantDraft[] {
  const used = new Set(variants.map((v) => v.key));
  const treatments = variants.filter((v) => !v.is_control).length;
  let i = treatments;
  while (used.has(`treatment-${letter(i).toLowerCase()}`)) i += 1;
  const named = variants.map((v) => (!v.is_control && treatments === 1 && v.name === "Treatment" ? { ...v, name: "Treatment A" } : v));
  const next = [...named, { key: `treatment-${letter(i).toLowerCase()}`, name: `Treatment ${letter(i)}`, weight: 0, is_control: false }];
  const weights = splitEvenly(next.length);
  return next.map((v, index) => ({ ...v, weight: weights[index] ?? 0 }));
}

/** Without the variant at `index`, the weights split evenly again (as adding one does), and the first
 * variant the control when the control was the one removed. */
export function removeVariant(variants: VariantDraft[], index: number): VariantDraft[] {
  const next = variants.filter((_, i) => i !== index);
  if (next.length && !next.some((v) => v.is_control)) next[0] = { ...next[0]!, is_control: true };
  const weights = splitEvenly(next.length);
  return next.map((v, i) => ({ ...v, weight: weights[i] ?? 0 }));
}

/** The review's lines for the variants: `Control (control), 50%, the control`. */
export function variantLines(variants: VariantDraft[]): string[] {
  return variants.map((v) => `${v.name.trim() ? `${v.name.trim()} (${v.key})` : v.key}, ${v.weight}%${v.is_control ? ", the control" : ""}`);
}

/** A metric as the review names it: `Purchase conversion (purchase-conversion)`, or its key when the
 * list does not have it. */
export function metricLabel(key: string, metrics: { key: string; name: string }[]): string {
  const name = metrics.find((m) => m.key === key)?.name;
  return name && name !== key ? `${name} (${key})` : key;
}

export type StepId = "basics" | "variants" | "targeting" | "metrics" | "schedule" | "review";

export const STEPS: { id: StepId; label: string }[] = [
  { id: "basics", label: "Hypothesis" },
  { id: "variants", label: "Variants and traffic" },
  { id: "targeting", label: "Targeting and layer" },
  { id: "metrics", label: "Metrics" },
  { id: "schedule", label: "Schedule and sample size" },
  { id: "review", label: "Review" },
];

const STEP_OF_FIELD: Record<string, StepId> = {
  key: "basics",
  name: "basics",
  hypothesis: "basics",
  description: "basics",
  tags: "basics",
  variants: "variants",
  traffic_allocation: "variants",
  environment: "variants",
  targeting: "targeting",
  bucket_by: "targeting",
  layer: "targeting",
  layer_share: "targeting",
  primary_metric: "metrics",
  secondary_metrics: "metrics",
  guardrail_metrics: "metrics",
  guardrail_action: "metrics",
  planned_start: "schedule",
  planned_end: "schedule",
  min_sample_size: "schedule",
};

/** The step that holds a field the server named (`variants[1].weight` -> variants); review otherwise. */
export function stepOfPath(path: string): StepId {
  const root = path.split(/[.[]/)[0] ?? "";
  return STEP_OF_FIELD[root] ?? "review";
}

/** Problems a step can see before the server does, as path -> message (empty: the step is complete). */
export function validateStep(step: StepId, draft: Draft): Map<string, string> {
  const problems = new Map<string, string>();
  if (step === "basics") {
    if (!draft.name.trim()) problems.set("name", "a name is required");
    if (!KEY_PATTERN.test(draft.key))
      problems.set("key", "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
  if (step === "variants") {
    const { variants } = draft;
    if (variants.length < 2) problems.set("variants", "at least 2 variants are required");
    const keys = variants.map((v) => v.key);
    variants.forEach((v, i) => {
      if (!KEY_PATTERN.test(v.key)) problems.set(`variants[${i}].key`, "lower-case letters, digits, '.', '_' or '-'");
      else if (keys.indexOf(v.key) !== i) problems.set(`variants[${i}].key`, `"${v.key}" is used twice`);
      if (!Number.isFinite(v.weight) || v.weight < 0 || v.weight > 100)
        problems.set(`variants[${i}].weight`, "a weight between 0 and 100");
      else if (Math.round(v.weight * 100) / 100 !== v.weight) problems.set(`variants[${i}].weight`, "at most 2 decimals");
    });
    const controls = variants.filter((v) => v.is_control).length;
    if (controls !== 1 && !problems.has("variants")) problems.set("variants", "exactly one variant must be the control");
    const total = weightTotal(variants);
    if (total !== 100 && !problems.has("variants")) problems.set("variants", `weights must sum to 100 (now ${total})`);
    if (!Number.isFinite(draft.traffic_allocation) || draft.traffic_allocation < 0 || draft.traffic_allocation > 100)
      problems.set("traffic_allocation", "a percentage between 0 and 100");
  }
  if (step === "targeting" && draft.layer && !(draft.layer_share > 0 && draft.layer_share <= 100)) {
    problems.set("layer_share", "a share of the layer above 0 and up to 100");
  }
  if (step === "metrics") {
    const roles = [draft.primary_metric, ...draft.secondary_metrics].filter(Boolean);
    if (new Set(roles).size !== roles.length) problems.set("secondary_metrics", "the primary metric is already measured");
  }
  if (step === "schedule") {
    if (draft.planned_start && draft.planned_end && new Date(draft.planned_end) <= new Date(draft.planned_start))
      problems.set("planned_end", "the planned end must be after the planned start");
    if (draft.min_sample_size !== null && !(Number.isInteger(draft.min_sample_size) && draft.min_sample_size >= 1))
      problems.set("min_sample_size", "a whole number of units per variant, at least 1");
  }
  return problems;
}

/** The first step with a problem, or null when every step is complete. */
export function firstIncompleteStep(draft: Draft): StepId | null {
  for (const { id } of STEPS) if (validateStep(id, draft).size) return id;
  return null;
}

/** `datetime-local` text to ISO 8601 in UTC (empty stays absent). */
function iso(local: string): string | null {
  return local ? new Date(local).toISOString() : null;
}

/** The body of `POST /api/v1/experiments`. */
export function toPayload(draft: Draft): Record<string, unknown> {
  return {
    key: draft.key,
    name: draft.name.trim(),
    hypothesis: draft.hypothesis,
    description: draft.description,
    variants: draft.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, is_control: v.is_control })),
    traffic_allocation: draft.traffic_allocation,
    environment: draft.environment,
    targeting: draft.targeting,
    bucket_by: draft.bucket_by || "user_id",
    layer: draft.layer || null,
    layer_share: draft.layer ? draft.layer_share : null,
    primary_metric: draft.primary_metric || null,
    secondary_metrics: draft.secondary_metrics,
    guardrail_metrics: draft.guardrail_metrics,
    guardrail_action: draft.guardrail_action,
    planned_start: iso(draft.planned_start),
    planned_end: iso(draft.planned_end),
    min_sample_size: draft.min_sample_size,
  };
}

// ---- the power calculator's seed ----

export type MetricKind = "binomial" | "count" | "sum" | "mean" | "ratio";

export interface SeriesPoint {
  day: string;
  events: number;
  units: number;
  value_sum: number;
}

export interface Seed {
  /** full days the seed was computed from (today, still filling, is left out) */
  days: number;
  /** mean distinct units a day that sent the metric's event */
  unitsPerDay: number;
  baselineMean: number | null;
  baselineVariance: number | null;
  /** units entering the experiment a day, all variants (eligible x traffic share) */
  dailyUnits: number | null;
  note: string;
}

const round = (x: number, digits = 6) => Number(x.toPrecision(digits));

/**
 * The baseline from the last days of the metric's event (`GET /metrics/{key}/series`):
 *
 * - binomial: the rate is the users who convert a day over the users eligible a day; the series
 *   counts only the former, so the rate needs `eligiblePerDay` (how many users a day could enter);
 * - count: events per active unit, variance = mean (a Poisson count);
 * - sum, mean, ratio: value per active unit (events per unit for ratio), variance = mean² (a
 *   coefficient of variation of 1; the series holds no sum of squares).
 *
 * Seeds are starting points to edit, not measurements of the experiment's population.
 */
export function seedBaseline(
  kind: MetricKind,
  series: SeriesPoint[],
  options: { eligiblePerDay?: number | null; trafficPercent?: number; today?: string } = {},
): Seed {
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  const full = series.filter((p) => p.day !== today);
  const days = full.length;
  const sum = (f: (p: SeriesPoint) => number) => full.reduce((total, p) => total + f(p), 0);
  const units = sum((p) => p.units);
  const events = sum((p) => p.events);
  const values = sum((p) => p.value_sum);
  const unitsPerDay = days ? units / days : 0;
  const share = (options.trafficPercent ?? 100) / 100;
  const eligible = options.eligiblePerDay && options.eligiblePerDay > 0 ? options.eligiblePerDay : null;
  if (!days || units === 0) {
    return {
      days,
      unitsPerDay: 0,
      baselineMean: null,
      baselineVariance: null,
      dailyUnits: eligible ? round(eligible * share) : null,
      note: series.length
        ? "No full day of this metric's events yet (today's, still filling, do not count): enter the baseline yourself."
        : "No events of this metric in the last days: enter the baseline yourself.",
    };
  }
  if (kind === "binomial") {
    if (!eligible) {
      return {
        days,
        unitsPerDay: round(unitsPerDay),
        baselineMean: null,
        baselineVariance: null,
        dailyUnits: null,
        note: `${round(unitsPerDay, 4)} users a day converted over the last ${days} days: enter how many users a day are eligible to seed the rate.`,
      };
    }
    const rate = unitsPerDay / eligible;
    const usable = rate > 0 && rate < 1;
    return {
      days,
      unitsPerDay: round(unitsPerDay),
      baselineMean: usable ? round(rate) : null,
      baselineVariance: null,
      dailyUnits: round(eligible * share),
      note: usable
        ? `${round(unitsPerDay, 4)} converting users a day over ${round(eligible, 4)} eligible (last ${days} days).`
        : `${round(unitsPerDay, 4)} users a day converted, not fewer than the ${round(eligible, 4)} eligible: check the eligible users.`,
    };
  }
  const perUnit = kind === "count" || kind === "ratio" ? events / units : values / units;
  const variance = kind === "count" ? perUnit : perUnit * perUnit;
  return {
    days,
    unitsPerDay: round(unitsPerDay),
    baselineMean: round(perUnit),
    baselineVariance: round(variance),
    dailyUnits: round((eligible ?? unitsPerDay) * share),
    note:
      kind === "count"
        ? `${round(perUnit, 4)} events per active user over the last ${days} days; variance taken equal to the mean (Poisson).`
        : `${round(perUnit, 4)} per active user over the last ${days} days; variance assumed to be the mean squared (the series has no spread).`,
  };
}

// ---- the power calculator's request and answer ----

export interface PowerInputs {
  kind: MetricKind;
  baseline: number | null;
  variance: number | null;
  mdePercent: number | null;
  alpha: number | null;
  power: number | null;
  dailyUnits: number | null;
  /** the wizard's variants, control included: they share the users entering a day evenly */
  arms: number;
}

/** The body of `POST /api/v1/analysis/power`: the days it answers count every arm, not two. */
export function powerRequest(inputs: PowerInputs) {
  return {
    // a sum per user is planned as a mean of that per-user value (the server says so and accepts "sum")
    kind: inputs.kind,
    baseline_mean: inputs.baseline ?? NaN,
    baseline_variance: inputs.kind === "binomial" ? null : inputs.variance,
    relative_mde: (inputs.mdePercent ?? NaN) / 100,
    alpha: inputs.alpha ?? 0.05,
    power: inputs.power ?? 0.8,
    daily_units: inputs.dailyUnits,
    arms: Math.min(26, Math.max(2, Math.round(inputs.arms))),
  };
}

/** "12,345 users per variant (37,035 for all 3 variants) · about 19 days for all 3 variants". */
export function powerSentence(arms: number, unitsPerArm: number, totalUnits: number | null, days: number | null): string {
  const total = totalUnits ?? unitsPerArm * arms;
  const all = arms === 2 ? "both variants" : `all ${arms} variants`;
  const each = `${unitsPerArm.toLocaleString("en-US")} users per variant (${total.toLocaleString("en-US")} for ${all})`;
  return days ? `${each} · about ${days.toLocaleString("en-US")} days to reach it in ${all}` : each;
}

// ---- the step in the address ----

/** The step an address names (`?step=metrics`), or the first whose checks fail before it: an address
 * (a reload, Forward after leaving) cannot open a step the draft has not reached. */
export function reachableStep(requested: string | null, draft: Draft): StepId {
  const wanted = STEPS.findIndex((s) => s.id === requested);
  if (wanted <= 0) return "basics";
  for (let i = 0; i < wanted; i++) {
    if (validateStep(STEPS[i]!.id, draft).size) return STEPS[i]!.id;
  }
  return STEPS[wanted]!.id;
}

/** Anything typed that leaving the wizard would lose. */
export function isDirty(draft: Draft): boolean {
  return JSON.stringify(draft) !== JSON.stringify(emptyDraft());
}

// ---- editing an experiment ----

export type ExperimentStatus = "draft" | "scheduled" | "running" | "paused" | "completed" | "archived";

/** The fields of the server's `ExperimentUpdate` that the wizard edits (it does not edit tags). */
export type EditableField =
  | "name"
  | "hypothesis"
  | "description"
  | "variants"
  | "traffic_allocation"
  | "environment"
  | "targeting"
  | "bucket_by"
  | "layer"
  | "layer_share"
  | "primary_metric"
  | "secondary_metrics"
  | "guardrail_metrics"
  | "guardrail_action"
  | "planned_start"
  | "planned_end"
  | "min_sample_size";

const DESCRIPTIVE: EditableField[] = ["name", "hypothesis", "description"];
const WHILE_LIVE: EditableField[] = [...DESCRIPTIVE, "traffic_allocation", "secondary_metrics", "guardrail_metrics", "guardrail_action", "planned_end", "min_sample_size"];
const ALL: EditableField[] = [...WHILE_LIVE, "variants", "targeting", "bucket_by", "environment", "layer", "layer_share", "primary_metric", "planned_start"];

/** What may change in each status: src/experimently/experiments/lifecycle.py `EDITABLE` (docs/experiments.md,
 * "What may change when"). While paused, `variants` means their weights only (same keys, same control). */
export const EDITABLE: Record<ExperimentStatus, ReadonlySet<EditableField>> = {
  draft: new Set(ALL),
  scheduled: new Set(ALL),
  running: new Set(WHILE_LIVE),
  paused: new Set([...WHILE_LIVE, "variants"]),
  completed: new Set(DESCRIPTIVE),
  archived: new Set(),
};

/** Statuses the console offers **Edit** in (archived: nothing may change). */
export function canEdit(status: ExperimentStatus): boolean {
  return EDITABLE[status].size > 0;
}

/** The experiment as the server answers it (`ExperimentRead`), the parts the wizard reads. */
export interface ExperimentLike {
  key: string;
  name: string;
  hypothesis: string;
  description: string;
  variants: Record<string, unknown>[];
  traffic_allocation: number;
  environment: string;
  targeting: Record<string, unknown>[];
  bucket_by: string;
  layer_key: string | null;
  layer_range_start: number | null;
  layer_range_end: number | null;
  primary_metric: string | null;
  secondary_metrics: string[];
  guardrail_metrics: string[];
  guardrail_action: string;
  planned_start: string | null;
  planned_end: string | null;
  min_sample_size: number | null;
}

/** The wizard's draft of an existing experiment (the layer's share from its range of the 10,000 buckets). */
export function draftFromExperiment(experiment: ExperimentLike): Draft {
  const buckets = (experiment.layer_range_end ?? 0) - (experiment.layer_range_start ?? 0);
  return {
    name: experiment.name,
    key: experiment.key,
    hypothesis: experiment.hypothesis,
    description: experiment.description,
    variants: experiment.variants.map((v) => ({
      key: String(v.key ?? ""),
      name: typeof v.name === "string" ? v.name : "",
      weight: Number(v.weight),
      is_control: v.is_control === true,
      ...(v.payload !== undefined && v.payload !== null ? { payload: v.payload } : {}),
    })),
    traffic_allocation: experiment.traffic_allocation,
    environment: experiment.environment,
    targeting: experiment.targeting as unknown as Condition[],
    bucket_by: experiment.bucket_by,
    layer: experiment.layer_key ?? "",
    layer_share: experiment.layer_key && buckets > 0 ? buckets / 100 : 100,
    primary_metric: experiment.primary_metric ?? "",
    secondary_metrics: experiment.secondary_metrics,
    guardrail_metrics: experiment.guardrail_metrics,
    guardrail_action: experiment.guardrail_action === "notify" ? "notify" : "pause",
    planned_start: experiment.planned_start ? toLocalInput(experiment.planned_start) : "",
    planned_end: experiment.planned_end ? toLocalInput(experiment.planned_end) : "",
    min_sample_size: experiment.min_sample_size,
  };
}

/** The update's value of each field (the create payload's, variants with their payloads kept). */
function values(draft: Draft): Record<EditableField, unknown> {
  const body = toPayload(draft);
  return {
    ...(body as Record<EditableField, unknown>),
    variants: draft.variants.map((v) => ({ key: v.key, name: v.name, weight: v.weight, is_control: v.is_control, ...(v.payload !== undefined ? { payload: v.payload } : {}) })),
  };
}

/** The fields an edit changed, in the wizard's order. */
export function changedFields(original: Draft, draft: Draft): EditableField[] {
  const before = values(original);
  const after = values(draft);
  return ALL.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
}

/** The body of `PATCH /api/v1/experiments/{ref}`: `version` and only the fields that changed (a layer
 * and its share go together: the server allocates the range from both). */
export function toPatch(original: Draft, draft: Draft, version: number): Record<string, unknown> {
  const after = values(draft);
  const changed = new Set(changedFields(original, draft));
  if (changed.has("layer") || changed.has("layer_share")) {
    changed.add("layer");
    changed.add("layer_share");
  }
  const body: Record<string, unknown> = { version };
  for (const field of ALL) if (changed.has(field)) body[field] = after[field];
  return body;
}

/** What an edit in `status` may not do, as path -> message, before the server says so: change a frozen
 * field, lower the traffic of a live experiment, or re-key a paused one's variants. */
export function editProblems(status: ExperimentStatus, original: Draft, draft: Draft): Map<string, string> {
  const problems = new Map<string, string>();
  const allowed = EDITABLE[status];
  for (const field of changedFields(original, draft)) {
    if (!allowed.has(field)) problems.set(field, `cannot change while the experiment is ${status}`);
  }
  if ((status === "running" || status === "paused") && draft.traffic_allocation < original.traffic_allocation)
    problems.set("traffic_allocation", `may only rise while ${status} (now ${original.traffic_allocation}%): lowering it would drop users already in`);
  if (status === "paused") {
    const shape = (d: Draft) => JSON.stringify(d.variants.map((v) => [v.key, v.is_control]));
    if (shape(original) !== shape(draft)) problems.set("variants", "while paused only the weights may change (same variants, same control)");
  }
  return problems;
}
