// Number formatting of the results page. Pure functions (unit-tested): the page shows these strings
// and keeps the exact number the API sent in a `data-value` attribute beside each of them.
import type { Engine, Interval, MetricResult, ValueFormat } from "./types";

const LOCALE = "en-US";

/** The format a metric gets when the server sends none (the contract's defaults per kind). */
export function defaultFormat(kind: string | undefined): ValueFormat {
  if (kind === "binomial") return { type: "percent" };
  if (kind === "count") return { type: "count" };
  return { type: "number" };
}

export function formatOf(metric: MetricResult): ValueFormat {
  return metric.metric?.format ?? defaultFormat(metric.metric?.kind ?? metric.kind);
}

function fixed(value: number, decimals: number): string {
  return value.toLocaleString(LOCALE, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/** Enough decimals to show three significant digits of small numbers, at most `max`. */
function autoDecimals(value: number, max = 4): number {
  const magnitude = Math.abs(value);
  if (magnitude === 0 || magnitude >= 100) return 0;
  if (magnitude >= 10) return 1;
  if (magnitude >= 1) return 2;
  return Math.min(max, Math.max(2, 2 - Math.floor(Math.log10(magnitude))));
}

const MINUS = "\u2212";

function signed(text: string, value: number): string {
  if (value > 0) return `+${text}`;
  if (value < 0) return `${MINUS}${text}`;
  return text;
}

/** A count of units or events: grouped thousands, no decimals ("12,345"). */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return Math.round(value).toLocaleString(LOCALE);
}

/** A rate (0.1234) as a percentage ("12.3%"). */
export function formatPercent(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${fixed(value * 100, decimals)}%`;
}

/** Money in the metric's ISO 4217 currency ("€1,234.50"). */
export function formatCurrency(value: number | null | undefined, currency: string, decimals = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  try {
    return value.toLocaleString(LOCALE, {
      style: "currency",
      currency,
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
  } catch {
    return `${fixed(value, decimals)} ${currency}`;
  }
}

/** A duration stored in `unit` as the largest fitting unit: "850 ms", "1.25 s", "2 min 5 s", "1 h 3 min". */
export function formatDuration(value: number | null | undefined, unit: "ms" | "s" = "ms", decimals?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const ms = unit === "s" ? value * 1000 : value;
  const magnitude = Math.abs(ms);
  const sign = ms < 0 ? MINUS : "";
  if (magnitude < 1000) return `${sign}${fixed(magnitude, decimals ?? (magnitude < 10 ? 2 : magnitude < 100 ? 1 : 0))} ms`;
  const seconds = magnitude / 1000;
  if (seconds < 60) return `${sign}${fixed(seconds, decimals ?? (seconds < 10 ? 2 : 1))} s`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 3600) {
    const s = totalSeconds % 60;
    return `${sign}${Math.floor(totalSeconds / 60)} min${s ? ` ${s} s` : ""}`;
  }
  const minutes = Math.round(totalSeconds / 60);
  const m = minutes % 60;
  return `${sign}${Math.floor(minutes / 60)} h${m ? ` ${m} min` : ""}`;
}

/** A plain number with sensible decimals ("3.42", "0.0123", "1,250"). */
export function formatNumber(value: number | null | undefined, decimals?: number | null): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return fixed(value, decimals ?? autoDecimals(value));
}

/** A metric value (an arm's mean) in the metric's format. Counts are per unit, so they keep decimals. */
export function formatValue(value: number | null | undefined, format: ValueFormat): string {
  const decimals = format.decimals ?? undefined;
  switch (format.type) {
    case "percent":
      return formatPercent(value, decimals ?? 1);
    case "currency":
      return formatCurrency(value, format.currency ?? "USD", decimals ?? 2);
    case "duration":
      return formatDuration(value, format.duration_unit ?? "ms", decimals);
    case "count":
    case "number":
    default:
      return formatNumber(value, decimals);
  }
}

/** A difference of two values in the metric's unit: percentage points for rates ("+1.5 pp"). */
export function formatDifference(value: number | null | undefined, format: ValueFormat): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const magnitude = Math.abs(value);
  let text: string;
  if (format.type === "percent") text = `${fixed(magnitude * 100, format.decimals ?? 2)} pp`;
  else text = formatValue(magnitude, format);
  return signed(text, value);
}

/** A relative lift (0.149 → "+14.9%"). */
export function formatLift(value: number | null | undefined, decimals = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const text = `${fixed(Math.abs(value) * 100, decimals)}%`;
  // a lift that rounds to zero reads as zero, without a sign
  return Number(fixed(Math.abs(value) * 100, decimals)) === 0 ? text : signed(text, value);
}

/** The two ends of an interval as text, or null when there is no interval to show. The API sends
 * `null` for an interval it did not compute (no data, zero variance, a control mean of 0 for the
 * relative one): that is "—", never an infinite interval. Inside an interval a `null` end is unbounded
 * (a one-sided test) and reads "−∞" / "+∞", but only beside a finite other end: an interval with no
 * end at all says nothing either. */
export function formatIntervalEnds(
  interval: Interval | null | undefined,
  formatEnd: (value: number) => string,
): [string, string] | null {
  if (!interval) return null;
  const finite = (value: number | null | undefined) => (typeof value === "number" && Number.isFinite(value) ? value : null);
  const lower = finite(interval.lower);
  const upper = finite(interval.upper);
  if (lower === null && upper === null) return null;
  return [lower === null ? `${MINUS}∞` : formatEnd(lower), upper === null ? "+∞" : formatEnd(upper)];
}

/** An interval of relative lifts ("−1.2% to +8.4%"); an open end (one-sided test) is "−∞" / "+∞";
 * no interval (not computed) is "—". */
export function formatLiftInterval(interval: Interval | null | undefined): string {
  const ends = formatIntervalEnds(interval, (value) => formatLift(value));
  return ends ? `${ends[0]} to ${ends[1]}` : "—";
}

/** A p-value: three decimals, or "< 0.001". */
export function formatPValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value < 0.001) return "< 0.001";
  return fixed(value, 3);
}

/** A p-value with its relation, for prose: "p < 0.001" or "p = 0.042" (never "p = < 0.001"). */
export function formatPEquals(value: number | null | undefined): string {
  const text = formatPValue(value);
  return text.startsWith("<") ? `p ${text}` : `p = ${text}`;
}

/** A probability (chance to win) as a percentage, with "< 0.1%" / "> 99.9%" at the ends. */
export function formatProbability(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value > 0.999) return "> 99.9%";
  if (value < 0.001) return "< 0.1%";
  return formatPercent(value, 1);
}

/** A wait in seconds as words: "in 45 s", "in 3 min", "in 2 h". */
export function formatWait(seconds: number): string {
  if (seconds <= 0) return "due now";
  if (seconds < 90) return `in ${Math.round(seconds)} s`;
  if (seconds < 5400) return `in ${Math.round(seconds / 60)} min`;
  return `in ${Math.round(seconds / 3600)} h`;
}

/** What "Refresh now" says it did: how long it took and, when the event queue still held events the
 * server had accepted before the click (it waits up to 5 s for them), that they count next run. */
export function formatAggregated(done: { duration_ms: number; events_waiting: number | null }): string {
  const took = ` · aggregated now, in ${Math.round(done.duration_ms)} ms`;
  if (done.events_waiting === null) return `${took}; the event queue could not be read, recent events may be missing`;
  if (done.events_waiting > 0) {
    const n = done.events_waiting;
    const which = n === 1 ? "event was still waiting to be written: it counts" : "events were still waiting to be written: they count";
    return `${took}; ${formatCount(n)} ${which} in the next run`;
  }
  return took;
}

export const ENGINE_NAMES: Record<Engine, string> = {
  frequentist: "Frequentist",
  sequential: "Sequential",
  bayesian: "Bayesian",
};
