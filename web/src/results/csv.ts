// Export to CSV, in the browser, from the very payload the page shows: one row per metric and
// variant, every number exactly as the API sent it (no rounding), so a spreadsheet recomputes the
// same figures. RFC 4180: comma-separated, CRLF line ends, fields with a comma, quote or line break
// quoted, quotes doubled.
import type { Results } from "./types";

export const CSV_COLUMNS = [
  "experiment",
  "engine",
  "cuped",
  "correction",
  "metric",
  "metric_name",
  "role",
  "variant",
  "is_control",
  "units",
  "mean",
  "std_dev",
  "absolute_lift",
  "absolute_lower",
  "absolute_upper",
  "relative_lift",
  "relative_lower",
  "relative_upper",
  "interval_level",
  "p_value",
  "p_value_adjusted",
  "chance_to_win",
  "risk_treatment",
  "risk_control",
  "verdict",
  "aggregated_at",
] as const;

type Cell = string | number | boolean | null | undefined;

/** One field, quoted when it must be. Numbers keep JavaScript's shortest exact representation
 * (the same digits as the JSON), and a text cell that a spreadsheet would run as a formula
 * (`=`, `+`, `-`, `@` first) is prefixed with a quote. */
export function csvField(value: Cell): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean") return value ? "true" : "false";
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(results: Results): string {
  const lines: Cell[][] = [[...CSV_COLUMNS]];
  const base = (metricKey: string, name: string, role: string) => [
    results.experiment.key,
    results.engine,
    results.cuped,
    results.correction,
    metricKey,
    name,
    role,
  ];
  for (const metric of results.metrics) {
    const name = metric.metric?.name ?? metric.metric_key;
    const first = metric.comparisons[0];
    if (first) {
      const control = first.control;
      lines.push([
        ...base(metric.metric_key, name, metric.role),
        control.key,
        true,
        control.units,
        control.mean,
        control.std_dev,
        ...Array<Cell>(CSV_COLUMNS.length - 12 - 1).fill(null),
        results.aggregated_at,
      ]);
    }
    for (const c of metric.comparisons) {
      lines.push([
        ...base(metric.metric_key, name, metric.role),
        c.variant_key,
        false,
        c.treatment.units,
        c.treatment.mean,
        c.treatment.std_dev,
        c.absolute_lift,
        c.absolute_interval?.lower,
        c.absolute_interval?.upper,
        c.relative_lift,
        c.relative_interval?.lower,
        c.relative_interval?.upper,
        c.interval_level ?? results.interval_level ?? 1 - metric.alpha,
        c.p_value,
        c.p_value_adjusted,
        c.chance_to_win,
        c.risk?.treatment,
        c.risk?.control,
        c.verdict,
        results.aggregated_at,
      ]);
    }
  }
  return lines.map((line) => line.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** Hand the CSV to the browser as a download. */
export function downloadCsv(results: Results): void {
  const blob = new Blob([toCsv(results)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${results.experiment.key}-results-${results.engine}.csv`;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
