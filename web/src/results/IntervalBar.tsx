import { formatLift, formatLiftInterval } from "./format";
import { intervalGeometry } from "./interval";
import type { Interval } from "./types";

/** A relative-lift interval as a bar on an axis symmetric around zero (the dashed line). Green when
 * the whole interval is on the good side of zero, red when on the bad side, grey when it crosses; no
 * bar when the interval was not computed. */
export function IntervalBar({
  interval,
  point,
  extent,
  lowerIsBetter,
  level,
}: {
  interval: Interval | null | undefined;
  point: number | null | undefined;
  extent: number;
  lowerIsBetter: boolean;
  level: number;
}) {
  const g = intervalGeometry(interval, point, extent);
  const good = lowerIsBetter ? "below" : "above";
  const tone = g.side === "across" || g.side === "unknown" ? "bg-slate-400" : g.side === good ? "bg-emerald-600" : "bg-red-600";
  const range = formatLiftInterval(interval);
  const label = `${Math.round(level * 100)}% interval of the lift: ${range === "—" ? "not computed" : range}, estimate ${formatLift(point)}`;
  return (
    <div
      className="relative h-5 w-full min-w-24 rounded bg-slate-100"
      role="img"
      aria-label={label}
      title={label}
      data-testid="interval-bar"
      data-left={g.left}
      data-width={g.width}
      data-side={g.side}
    >
      <span className="absolute inset-y-0 border-l border-dashed border-slate-500" style={{ left: `${g.zero}%` }} />
      {g.side !== "unknown" ? (
        <span
          className={`absolute top-1.5 h-2 ${tone} ${g.clippedLeft ? "rounded-l-none" : "rounded-l"} ${g.clippedRight ? "rounded-r-none" : "rounded-r"}`}
          style={{ left: `${g.left}%`, width: `${Math.max(g.width, 0.5)}%` }}
        />
      ) : null}
      {g.point !== null ? (
        <span className="absolute top-0.5 h-4 w-0.5 -translate-x-1/2 bg-slate-900" style={{ left: `${g.point}%` }} />
      ) : null}
    </div>
  );
}
