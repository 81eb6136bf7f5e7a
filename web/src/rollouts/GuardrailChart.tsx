import { useMemo } from "react";
import { Chart, type ChartOptions } from "../ui";
import { guardrailSeries, type ChartMode, type HistoryPoint } from "./progress";

const INDIGO = "#4338ca";
const RED = "#b91c1c";
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

/** A tick of the time axis: the time of day (seconds when they are not :00), the date at midnight. */
function timeLabel(seconds: number): string {
  const d = new Date(seconds * 1000);
  if (d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", ...(d.getSeconds() ? { second: "2-digit" } : {}) });
}

/** One guardrail metric over the rollout's checks: the new variation's lift over the old one with its
 * always-valid interval (the band) and the threshold of harm (0: no difference). */
export function GuardrailChart({ metric, history, mode }: { metric: string; history: HistoryPoint[]; mode: ChartMode }) {
  const data = useMemo(() => guardrailSeries(history, metric, mode), [history, metric, mode]);
  const unit = mode === "relative" ? "%" : "";
  const options = useMemo<ChartOptions>(
    () => ({
      cursor: { drag: { x: true, y: false } },
      legend: { show: true },
      // a little room on both sides, so the first and the last check (often the breach) show whole
      scales: { x: { time: true, range: (_u, min, max) => [min - Math.max((max - min) * 0.03, 1), max + Math.max((max - min) * 0.03, 1)] } },
      axes: [
        // whole seconds at least (checks come every aggregation interval, 10 s or more in production)
        { stroke: "#475569", grid: { stroke: "#e2e8f0" }, space: 90, incrs: TIME_STEPS, values: (_u, ticks) => ticks.map(timeLabel) },
        {
          stroke: "#475569",
          grid: { stroke: "#e2e8f0" },
          size: 64,
          label: mode === "relative" ? "lift (%)" : "difference per unit",
          values: (_u, ticks) => ticks.map((t) => `${t > 0 ? "+" : ""}${+t.toPrecision(3)}${unit}`),
        },
      ],
      series: [
        {},
        { label: "lift", stroke: INDIGO, width: 2, points: { show: true, size: 5 }, value: (_u, v) => fmt(v, unit) },
        { label: "lower", stroke: "rgba(67,56,202,0.35)", width: 1, value: (_u, v) => fmt(v, unit) },
        { label: "upper", stroke: "rgba(67,56,202,0.35)", width: 1, value: (_u, v) => fmt(v, unit) },
        { label: "threshold", stroke: RED, width: 1.5, dash: [6, 4], points: { show: false }, value: (_u, v) => fmt(v, unit) },
        { label: "breach", stroke: RED, fill: RED, width: 0, paths: () => null, points: { show: true, size: 9, fill: RED, stroke: RED }, value: (_u, v) => fmt(v, unit) },
      ],
      bands: [{ series: [3, 2], fill: "rgba(99,102,241,0.16)" }],
    }),
    [mode, unit],
  );
  const last = [...history].reverse().find((p) => p.metrics[metric]);
  const m = last?.metrics[metric];
  const summary = m
    ? mode === "relative"
      ? `latest lift ${fmt(m.relative_lift === null ? null : m.relative_lift * 100, "%")}, interval [${fmt(m.relative_interval?.[0] == null ? null : m.relative_interval[0] * 100, "%")}, ${fmt(m.relative_interval?.[1] == null ? null : m.relative_interval[1] * 100, "%")}]`
      : `latest difference ${fmt(m.absolute_lift, "")} per unit, interval [${fmt(m.absolute_interval?.[0] ?? null, "")}, ${fmt(m.absolute_interval?.[1] ?? null, "")}]`
    : "no comparison yet";
  return (
    <figure data-testid={`guardrail-chart-${metric}`} className="rounded-md ring-1 ring-slate-200">
      <figcaption className="flex flex-wrap items-baseline justify-between gap-2 border-b border-slate-100 px-3 py-2 text-sm">
        <span className="font-medium">
          Guardrail <span className="font-mono">{metric}</span>
        </span>
        <span className="text-xs text-slate-600">
          {summary}
          {m ? `, ${m.p_value === null ? "p n/a" : m.p_value < 1e-4 ? "p<0.0001" : `p=${m.p_value.toPrecision(2)}`}, ${m.verdict ?? ""}` : ""}
        </span>
      </figcaption>
      {history.length ? (
        <div className="px-1 pb-1">
          <Chart options={options} data={data} height={200} label={`Guardrail ${metric}: ${mode === "relative" ? "relative lift" : "difference per unit"} of the new variation over time, with its always-valid interval, the threshold at 0 and breaches marked; ${summary}`} />
        </div>
      ) : (
        <p className="px-3 py-4 text-sm text-slate-500">No check yet: the monitor compares after each aggregation run.</p>
      )}
    </figure>
  );
}

function fmt(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return `${v > 0 ? "+" : ""}${+v.toPrecision(3)}${unit}`;
}
