// Pure helpers of the guarded-rollout view: its state in words, the time to its next step, and the
// guardrail chart's series from the rollout's history (one point per monitor check).
import type { GuardedRollout } from "./api";

export type StateKey = "running" | "held" | "paused" | "rolled_back" | "released" | "cancelled";
export type Tone = "gray" | "green" | "red" | "amber" | "indigo";

export interface MetricPoint {
  relative_lift: number | null;
  relative_interval: [number | null, number | null] | null;
  absolute_lift: number | null;
  absolute_interval: [number | null, number | null] | null;
  p_value: number | null;
  verdict: string | null;
}
export interface HistoryPoint {
  at: string;
  step: number;
  percentage: number;
  status: string;
  units: Record<string, number>;
  srm_p_value: number | null;
  metrics: Record<string, MetricPoint>;
}
export interface Breach {
  kind: "metric" | "srm" | "no_traffic" | string;
  metric: string | null;
  relative_lift: number | null;
  relative_interval: [number | null, number | null] | null;
  p_value: number | null;
  step: number;
  action: string;
  detected_at: string;
  reason: string;
}

export function rolloutState(r: Pick<GuardedRollout, "status" | "hold">): { key: StateKey; label: string; tone: Tone } {
  if (r.status === "running" && r.hold === "waiting_for_traffic") return { key: "held", label: "held for traffic", tone: "amber" };
  switch (r.status) {
    case "running":
      return { key: "running", label: "running", tone: "indigo" };
    case "paused":
      return { key: "paused", label: "paused", tone: "amber" };
    case "rolled_back":
      return { key: "rolled_back", label: "rolled back", tone: "red" };
    case "released":
      return { key: "released", label: "released", tone: "green" };
    default:
      return { key: "cancelled", label: r.status, tone: "gray" };
  }
}

/** "2 h 5 min", "45 s": a duration for people. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Units of each group in the current step at the monitor's last check. */
export function stepUnits(r: GuardedRollout): { old: number; new: number } {
  const last = (r.last_check ?? {}) as { step?: number; units?: Record<string, number> };
  if (last.step !== r.step || !last.units) return { old: 0, new: 0 };
  return { old: last.units[r.control] ?? 0, new: last.units[r.variation] ?? 0 };
}

/** What comes next, in words: the next step and when, or why it waits. */
export function nextStep(r: GuardedRollout, now: number): string {
  if (r.status !== "running") return "";
  const steps = r.steps ?? null;
  const next = steps?.find((s) => !s.applied_at);
  if (r.hold === "waiting_for_traffic") {
    const units = stepUnits(r);
    const since = r.waiting_since ? ` for ${formatDuration(now - Date.parse(r.waiting_since))}` : "";
    const limit = r.max_wait_seconds ? `; pauses after ${formatDuration(r.max_wait_seconds * 1000)}` : "";
    return `Held for traffic${since}: the step to ${next?.percentage ?? "?"}% waits until each group has ${r.min_units} units (now ${units.old} on ${r.control}, ${units.new} on ${r.variation})${limit}.`;
  }
  if (!steps) return `Manual rollout at ${r.percentage}%: raised by hand.`;
  if (!next) return `Last step applied: watched until someone raises or cancels it.`;
  const due = Date.parse(next.at) - now;
  return due > 0
    ? `Next step: ${next.percentage}% in ${formatDuration(due)} (if each group has ${r.min_units} units by then).`
    : `Next step: ${next.percentage}% is due (applied at the scheduler's next run once each group has ${r.min_units} units).`;
}

export type ChartMode = "relative" | "absolute";

type Series = (number | null)[];

/** The guardrail chart's data for one metric: [times (s), lift, lower, upper, threshold, breach (the
 * lift where the check found the new variation worse, else null)]. A gap (nulls) separates steps: each
 * step is a comparison of its own, started afresh. Relative values in %. */
export function guardrailSeries(history: HistoryPoint[], metric: string, mode: ChartMode): [number[], Series, Series, Series, Series, Series] {
  const xs: number[] = [];
  const lift: Series = [];
  const lower: Series = [];
  const upper: Series = [];
  const zero: Series = [];
  const breach: Series = [];
  const scale = mode === "relative" ? 100 : 1;
  const num = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v * scale);
  let previous: HistoryPoint | null = null;
  for (const point of history) {
    const x = Date.parse(point.at) / 1000;
    if (previous && previous.step !== point.step) {
      xs.push((Date.parse(previous.at) / 1000 + x) / 2);
      lift.push(null);
      lower.push(null);
      upper.push(null);
      zero.push(0);
      breach.push(null);
    }
    const m = point.metrics[metric];
    const interval = mode === "relative" ? m?.relative_interval : m?.absolute_interval;
    const value = num(mode === "relative" ? m?.relative_lift : m?.absolute_lift);
    xs.push(x);
    lift.push(value);
    lower.push(num(interval?.[0]));
    upper.push(num(interval?.[1]));
    zero.push(0);
    breach.push(m?.verdict === "loser" ? value : null);
    previous = point;
  }
  return [xs, lift, lower, upper, zero, breach];
}

/** Breaches as sentences for the page (the server's reason, with when and at which step). */
export function breachLabel(b: Breach): string {
  const what = b.kind === "srm" ? "Sample ratio mismatch" : b.kind === "no_traffic" ? "No traffic" : `Guardrail ${b.metric ?? ""}`;
  return `${what} at step ${b.step}: ${b.action.replace("_", " ")}`;
}
