import { useMemo } from "react";
import { Chart, type ChartOptions, uPlot } from "../ui";
import { liftSeries } from "./series";
import type { TimeseriesPoint } from "./types";
import "./chart.css";

const COLOURS = ["#4f46e5", "#d97706", "#db2777", "#059669"];
const BANDS = ["rgba(79,70,229,0.16)", "rgba(217,119,6,0.16)", "rgba(219,39,119,0.16)", "rgba(5,150,105,0.16)"];

/** The dashed line at zero lift ("no effect"), drawn under the series. */
function zeroLine(u: uPlot) {
  const y = u.valToPos(0, "y", true);
  if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = "#64748b";
  ctx.lineWidth = 1 * uPlot.pxRatio;
  ctx.setLineDash([4 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
  ctx.beginPath();
  ctx.moveTo(u.bbox.left, y);
  ctx.lineTo(u.bbox.left + u.bbox.width, y);
  ctx.stroke();
  ctx.restore();
}

const DAY = 86_400;
const dayLabel = (t: number) => new Date(t * 1000).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });

const percent = (value: number | null | undefined) =>
  value === null || value === undefined ? "—" : `${value > 0 ? "+" : ""}${value.toFixed(1)}%`;

/** The cumulative relative lift per day with its interval as a band (fixed-horizon intervals on the
 * data up to each day, as the API computes them: a guide to the trend, not a test to re-read daily). */
export function LiftChart({
  points,
  metricName,
  level,
  cuped = false,
}: {
  points: TimeseriesPoint[];
  metricName: string;
  level: number;
  /** the points are CUPED-adjusted (as the table above them) */
  cuped?: boolean;
}) {
  const series = useMemo(() => liftSeries(points), [points]);
  const options = useMemo<ChartOptions>(() => {
    const s: uPlot.Series[] = [{ label: "Day", value: (_u, v) => (v === null ? "—" : dayLabel(v)) }];
    const bands: uPlot.Band[] = [];
    series.variants.forEach((variant, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const base = 1 + i * 3;
      s.push(
        {
          label: `${variant} lift`,
          stroke: colour,
          width: 2,
          points: { show: true, size: 5 },
          value: (u, v, _s, idx) =>
            idx === null ? "—" : `${percent(v)} (${percent(u.data[base + 1]?.[idx])} to ${percent(u.data[base + 2]?.[idx])})`,
        },
        { label: `${variant} lower`, stroke: colour, width: 0, points: { show: false }, class: "results-band-edge" },
        { label: `${variant} upper`, stroke: colour, width: 0, points: { show: false }, class: "results-band-edge" },
      );
      bands.push({ series: [base + 2, base + 1], fill: BANDS[i % BANDS.length] });
    });
    return {
      series: s,
      bands,
      scales: {
        x: { time: true },
        y: {
          range: (_u, min, max) => {
            const lo = Math.min(min ?? 0, 0);
            const hi = Math.max(max ?? 0, 0);
            const pad = Math.max((hi - lo) * 0.1, 1);
            return [lo - pad, hi + pad];
          },
        },
      },
      // days are UTC days: ticks on whole days, labelled "Nov 26"
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      axes: [
        {
          space: 70,
          incrs: [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY],
          values: (_u, ticks) => ticks.map((t) => dayLabel(t)),
        },
        { values: (_u, ticks) => ticks.map((t) => `${t > 0 ? "+" : ""}${t}%`), size: 64 },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { drawClear: [zeroLine] },
    };
  }, [series.variants]);
  const data = useMemo(() => series.data as uPlot.AlignedData, [series.data]);
  if (points.length === 0) return <p className="text-sm text-slate-600">No data per day yet.</p>;
  return (
    <figure data-testid="lift-chart" data-points={points.length}>
      <Chart
        options={options}
        data={data}
        height={220}
        label={`Cumulative relative lift of ${metricName} per day, with its ${Math.round(level * 100)}% interval as a band`}
      />
      <figcaption className="mt-1 text-xs text-slate-600">
        Cumulative lift by day of first exposure, with its fixed-horizon {Math.round(level * 100)}% interval (shaded)
        {cuped ? ", CUPED-adjusted like the table," : ","} whatever the engine chosen above: it shows how the estimate settled, it is not a test to re-read every day. Drag across the
        chart to zoom, double-click to zoom out.
        {points.length === 1 ? " One day of data so far: the line starts with the second day." : ""}
      </figcaption>
    </figure>
  );
}
