// The cumulative lift over time, turned into uPlot's aligned columns: x (day, unix seconds), then per
// treatment variant three series — the lift, the interval's lower and upper end (in percent) — which
// the chart joins into a band. Pure (unit-tested).
import type { TimeseriesComparison, TimeseriesPoint } from "./types";

export function intervalEnds(c: TimeseriesComparison): [number | null, number | null] {
  const interval = c.relative_interval;
  if (!interval) return [null, null];
  if (Array.isArray(interval)) return [interval[0] ?? null, interval[1] ?? null];
  return [interval.lower ?? null, interval.upper ?? null];
}

export interface LiftSeries {
  variants: string[];
  /** [x, lift₁, lower₁, upper₁, lift₂, ...]; lifts in percent */
  data: (number | null)[][];
}

const pct = (value: number | null | undefined) =>
  value === null || value === undefined || !Number.isFinite(value) ? null : value * 100;

export function liftSeries(points: TimeseriesPoint[]): LiftSeries {
  const variants: string[] = [];
  for (const point of points) for (const c of point.comparisons) if (!variants.includes(c.variant)) variants.push(c.variant);
  const x = points.map((p) => Date.parse(`${p.day}T00:00:00Z`) / 1000);
  const data: (number | null)[][] = [x];
  for (const variant of variants) {
    const lift: (number | null)[] = [];
    const lower: (number | null)[] = [];
    const upper: (number | null)[] = [];
    for (const point of points) {
      const c = point.comparisons.find((item) => item.variant === variant);
      const [lo, hi] = c ? intervalEnds(c) : [null, null];
      lift.push(pct(c?.relative_lift));
      lower.push(pct(lo));
      upper.push(pct(hi));
    }
    data.push(lift, lower, upper);
  }
  return { variants, data };
}
