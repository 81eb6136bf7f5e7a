import { describe, expect, it } from "vitest";
import { CSV_COLUMNS, csvField, toCsv } from "./csv";
import { liftSeries } from "./series";
import type { Results } from "./types";

const results: Results = {
  experiment: { id: "e1", key: "checkout", status: "running", control: "control", started_at: null },
  engine: "frequentist",
  cuped: false,
  correction: "holm",
  aggregated_at: "2026-12-02T08:00:00+00:00",
  units: { control: 1000, treatment: 1010 },
  srm: { p_value: 0.8, flagged: false, expected: {}, observed: {}, threshold: 0.001 },
  warnings: [],
  family_size: 1,
  intervals_adjusted: false,
  metrics: [
    {
      metric_key: "purchase",
      role: "goal",
      kind: "binomial",
      engine: "frequentist",
      control_key: "control",
      alpha: 0.05,
      alternative: "two-sided",
      lower_is_better: false,
      cuped: false,
      messages: [],
      metric: { key: "purchase", name: 'Purchase, "checkout"', kind: "binomial", direction: "higher", format: { type: "percent" } },
      comparisons: [
        {
          variant_key: "treatment",
          control: { key: "control", units: 1000, mean: 0.101, std_dev: 0.3013 },
          treatment: { key: "treatment", units: 1010, mean: 0.11683168316831684, std_dev: 0.3213 },
          absolute_lift: 0.015831683168316835,
          absolute_interval: { lower: -0.011, upper: 0.0426 },
          relative_lift: 0.1585928489042676,
          relative_interval: { lower: -0.1, upper: 0.41718 },
          p_value: 0.2461,
          p_value_adjusted: 0.2461,
          chance_to_win: null,
          risk: null,
          verdict: "inconclusive",
          messages: [],
          interval_level: 0.95,
        },
      ],
    },
  ],
  timeseries: {},
};

function parse(csv: string): string[][] {
  // a small RFC 4180 reader, enough to read back what toCsv wrote
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const ch = csv[i];
    if (quoted) {
      if (ch === '"' && csv[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\r" && csv[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += ch;
  }
  return rows;
}

describe("CSV export", () => {
  it("writes one row per metric and variant with every column", () => {
    const rows = parse(toCsv(results));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toHaveLength(CSV_COLUMNS.length);
    const control = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, rows[1]![i]]));
    expect(control).toMatchObject({ variant: "control", is_control: "true", units: "1000", mean: "0.101", relative_lift: "" });
    expect(control.aggregated_at).toBe("2026-12-02T08:00:00+00:00");
  });

  it("keeps the API's exact numbers (no rounding) and quotes what needs quoting", () => {
    const rows = parse(toCsv(results));
    const treatment = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, rows[2]![i]]));
    expect(Number(treatment.relative_lift)).toBe(0.1585928489042676);
    expect(Number(treatment.mean)).toBe(0.11683168316831684);
    expect(treatment.relative_upper).toBe("0.41718");
    expect(treatment.metric_name).toBe('Purchase, "checkout"');
    expect(treatment.interval_level).toBe("0.95");
    expect(treatment.chance_to_win).toBe("");
    expect(toCsv(results)).toContain('"Purchase, ""checkout"""');
    expect(toCsv(results).endsWith("\r\n")).toBe(true);
  });

  it("defuses text a spreadsheet would run as a formula", () => {
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("-2")).toBe("'-2");
    expect(csvField(-2)).toBe("-2");
    expect(csvField(null)).toBe("");
    expect(csvField(Number.NaN)).toBe("");
  });
});

describe("lift-over-time series", () => {
  it("lays out days, lift and interval ends in percent per variant, from either interval shape", () => {
    const series = liftSeries([
      { day: "2026-11-30", comparisons: [{ variant: "treatment", relative_lift: 0.1, relative_interval: [-0.05, 0.25], absolute_lift: 0.01, units: 10, control_units: 9 }] },
      { day: "2026-12-01", comparisons: [{ variant: "treatment", relative_lift: 0.12, relative_interval: { lower: 0.02, upper: 0.22 }, absolute_lift: 0.012, units: 20, control_units: 19 }] },
    ]);
    expect(series.variants).toEqual(["treatment"]);
    expect(series.data[0]).toEqual([Date.UTC(2026, 10, 30) / 1000, Date.UTC(2026, 11, 1) / 1000]);
    expect(series.data[1]![0]).toBeCloseTo(10, 10);
    expect(series.data[2]![0]).toBeCloseTo(-5, 10);
    expect(series.data[3]![1]).toBeCloseTo(22, 10);
  });
});
