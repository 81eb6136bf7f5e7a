// Geometry of the interval bars: each comparison's relative-lift interval drawn on one axis shared by
// the rows of a metric, symmetric around zero so that "does it cross zero" reads at a glance.
// Pure (unit-tested); the component only turns these percentages into positioned elements.
import type { Interval } from "./types";

export interface IntervalGeometry {
  /** left edge of the bar, percent of the track */
  left: number;
  /** width of the bar, percent of the track */
  width: number;
  /** the point estimate, percent of the track (null when there is none) */
  point: number | null;
  /** where zero is on the track (always 50: the axis is symmetric) */
  zero: number;
  /** the interval runs past the axis on that side (or is open, for one-sided tests) */
  clippedLeft: boolean;
  clippedRight: boolean;
  /** where the interval lies against zero ("unknown": there is no interval) */
  side: "above" | "below" | "across" | "unknown";
}

const NICE = [1, 2, 2.5, 5, 10];

/** The next "nice" number at or above `value` (1, 2, 2.5, 5 times a power of ten). */
export function niceCeil(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 0;
  const power = 10 ** Math.floor(Math.log10(value));
  const scaled = value / power;
  const step = NICE.find((n) => scaled <= n + 1e-9) ?? 10;
  return step * power;
}

/** Half-width of the shared axis: the largest finite end or estimate of every row, rounded up to a
 * nice number, at least `minimum` (a bar never fills a zero-width axis). */
export function axisExtent(
  rows: { lower: number | null | undefined; upper: number | null | undefined; point?: number | null }[],
  minimum = 0.01,
): number {
  let largest = 0;
  for (const row of rows) {
    for (const value of [row.lower, row.upper, row.point]) {
      if (value !== null && value !== undefined && Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
    }
  }
  return Math.max(niceCeil(largest * 1.05), minimum);
}

function position(value: number, extent: number): number {
  return ((value + extent) / (2 * extent)) * 100;
}

const clamp = (value: number) => Math.min(100, Math.max(0, value));

/** Where the bar of `interval` with estimate `point` goes on an axis from `-extent` to `+extent`.
 * A missing end of a one-sided interval runs to the edge of the track. No interval (`null`: not
 * computed, or one without any end) has no bar and no side, rather than a bar across the whole axis. */
export function intervalGeometry(
  interval: Interval | null | undefined,
  point: number | null | undefined,
  extent: number,
): IntervalGeometry {
  const safeExtent = extent > 0 && Number.isFinite(extent) ? extent : 1;
  const finite = (value: number | null | undefined) => (value === null || value === undefined || !Number.isFinite(value) ? null : value);
  const lo = finite(interval?.lower);
  const hi = finite(interval?.upper);
  const at = finite(point);
  const pointAt = at === null ? null : clamp(position(at, safeExtent));
  if (lo === null && hi === null) {
    return { left: 0, width: 0, point: pointAt, zero: 50, clippedLeft: false, clippedRight: false, side: "unknown" };
  }
  const rawLeft = lo === null ? 0 : position(lo, safeExtent);
  const rawRight = hi === null ? 100 : position(hi, safeExtent);
  const left = clamp(Math.min(rawLeft, rawRight));
  const right = clamp(Math.max(rawLeft, rawRight));
  let side: IntervalGeometry["side"] = "across";
  if (lo !== null && lo > 0) side = "above";
  else if (hi !== null && hi < 0) side = "below";
  return {
    left,
    width: right - left,
    point: pointAt,
    zero: 50,
    clippedLeft: lo === null || rawLeft < 0,
    clippedRight: hi === null || rawRight > 100,
    side,
  };
}
