// The results payload as the console reads it. The OpenAPI document describes each metric's analysis
// as a free-form object (the statistics engine serialises its own dataclasses), so the shape is
// written out here from docs/statistics.md and the results contract. Fields added with the results
// API of issue #14 are optional: an older server simply leaves them out.

import type { components } from "../api/schema";

export type Engine = "frequentist" | "sequential" | "bayesian";
export type CorrectionChoice = "holm" | "bh" | "none";
export type Verdict = "winner" | "loser" | "inconclusive";

export type FormatType = "count" | "percent" | "number" | "currency" | "duration";

export interface ValueFormat {
  type: FormatType;
  currency?: string | null;
  duration_unit?: "ms" | "s" | null;
  decimals?: number | null;
}

export interface Interval {
  lower: number | null;
  upper: number | null;
}

export interface ArmSummary {
  key: string;
  units: number;
  mean: number | null;
  std_dev: number | null;
}

export interface Comparison {
  variant_key: string;
  control: ArmSummary;
  treatment: ArmSummary;
  absolute_lift: number | null;
  absolute_interval: Interval | null;
  relative_lift: number | null;
  relative_interval: Interval | null;
  p_value: number | null;
  p_value_adjusted: number | null;
  chance_to_win: number | null;
  risk: { treatment: number; control: number } | null;
  verdict: Verdict;
  cuped_theta?: number | null;
  cuped_variance_reduction?: number | null;
  messages: string[];
  interval_level?: number;
  posterior_sd?: number | null;
  absolute_lift_meaning?: string;
  verdict_note?: string | null;
}

export interface MetricInfo {
  key: string;
  name: string;
  kind: "binomial" | "count" | "sum" | "mean" | "ratio";
  direction: "higher" | "lower";
  format: ValueFormat;
}

export interface MetricResult {
  metric_key: string;
  role: "goal" | "guardrail";
  kind: string;
  engine: Engine;
  control_key: string;
  alpha: number;
  alternative: string;
  lower_is_better: boolean;
  cuped: boolean;
  comparisons: Comparison[];
  messages: string[];
  metric?: MetricInfo;
  summary?: string;
}

export interface Warning {
  code: "SRM" | "MULTIPLE_EXPOSURES" | "NO_DATA" | "LOW_SAMPLE" | "METRIC_NOT_FOUND" | string;
  message: string;
  count?: number;
  next_aggregation_at?: string | null;
}

export interface TimeseriesComparison {
  variant: string;
  relative_lift: number | null;
  /** `[lower, upper]` per the contract; `{lower, upper}` as the engine serialises an interval */
  relative_interval: [number | null, number | null] | Interval | null;
  absolute_lift: number | null;
  units: number;
  control_units: number;
}

export interface TimeseriesPoint {
  day: string;
  comparisons: TimeseriesComparison[];
}

export interface CorrectionDetail {
  method: "holm" | "benjamini-hochberg" | "none";
  adjusts: string[];
  family_size: number;
  intervals_adjusted: boolean;
  explanation: string;
}

export interface Results {
  experiment: { id: string; key: string; status: string; control: string; started_at: string | null };
  engine: Engine;
  cuped: boolean;
  correction: string;
  aggregated_at: string | null;
  units: Record<string, number>;
  srm: {
    p_value: number | null;
    flagged: boolean;
    expected: Record<string, number>;
    observed: Record<string, number>;
    threshold: number;
  };
  warnings: Warning[];
  family_size: number;
  intervals_adjusted: boolean;
  metrics: MetricResult[];
  timeseries: Record<string, TimeseriesPoint[]>;
  interval_level?: number;
  thresholds?: { win: number; lose: number } | null;
  correction_detail?: CorrectionDetail;
}

export interface ResultsMeta {
  intervals_adjusted?: boolean;
  aggregated_at?: string | null;
  next_aggregation_at?: string | null;
  aggregation_interval_seconds?: number;
  /** the scheduled aggregation covers the experiment (running, paused, and completed until final_after) */
  aggregating?: boolean;
  /** a completed experiment's end: nothing after it is counted */
  ended_at?: string | null;
  /** a completed experiment's last scheduled run: late events from before the end count until then */
  final_after?: string | null;
}

export interface Breach {
  metric_key: string;
  variant: string;
  action: string;
  relative_lift: number | null;
  p_value: number | null;
  details: Record<string, unknown>;
  detected_at: string;
}

export interface ResultsSettings {
  engine: Engine;
  cuped: boolean;
  correction: CorrectionChoice;
  win: number;
  lose: number;
}

// Compile-time check: the server's generated types (npm run gen:api) fit what the page reads, so a
// change of the results API that breaks the page fails `tsc`.
type Fits<T extends U, U> = T;
export type ServerResultsFit = Fits<components["schemas"]["ResultsRead"], Results>;
