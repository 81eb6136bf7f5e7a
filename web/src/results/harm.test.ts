import { describe, expect, it } from "vitest";
import { guardrailHarms, shipCandidate } from "./harm";
import type { Breach, Comparison, MetricResult } from "./types";

function comparison(variant: string, verdict: Comparison["verdict"], lift: number | null = 0.1): Comparison {
  return {
    variant_key: variant,
    control: { key: "control", units: 1000, mean: 1, std_dev: 1 },
    treatment: { key: variant, units: 1000, mean: 1, std_dev: 1 },
    absolute_lift: lift,
    absolute_interval: null,
    relative_lift: lift,
    relative_interval: null,
    p_value: 0.01,
    p_value_adjusted: null,
    chance_to_win: null,
    risk: null,
    verdict,
    messages: lift === null ? ["NOT_ENOUGH_DATA"] : [],
  };
}

function metric(key: string, role: MetricResult["role"], comparisons: Comparison[], name?: string): MetricResult {
  return {
    metric_key: key,
    role,
    kind: "mean",
    engine: "frequentist",
    control_key: "control",
    alpha: 0.05,
    alternative: "two-sided",
    lower_is_better: role === "guardrail",
    cuped: false,
    comparisons,
    messages: [],
    ...(name ? { metric: { key, name, kind: "mean" as const, direction: "lower" as const, format: { type: "number" as const } } } : {}),
  };
}

const breach = (metric_key: string, variant: string, relative_lift: number): Breach => ({
  metric_key,
  variant,
  action: "paused",
  relative_lift,
  p_value: 0.0001,
  details: {},
  detected_at: "2026-12-06T18:58:00Z",
});

describe("guardrailHarms", () => {
  it("takes the monitor's breaches and the results' harmed guardrails, once per metric and variant", () => {
    const metrics = [
      metric("page-load", "guardrail", [comparison("treatment", "loser", 0.5)], "Page load time"),
      metric("errors", "guardrail", [comparison("treatment", "loser", 0.2), comparison("b", "inconclusive")]),
      metric("purchase", "goal", [comparison("treatment", "loser", -0.1)]),
    ];
    const harms = guardrailHarms([breach("page-load", "treatment", 0.462)], metrics);
    expect(harms.get("treatment")).toEqual([
      { metric: "page-load", name: "Page load time", relativeLift: 0.462, source: "breach" },
      { metric: "errors", name: "errors", relativeLift: 0.2, source: "results" },
    ]);
    expect(harms.has("b")).toBe(false);
  });

  it("a loser verdict without an estimate is not harm", () => {
    expect(guardrailHarms([], [metric("errors", "guardrail", [comparison("treatment", "loser", null)])]).size).toBe(0);
  });
});

describe("shipCandidate", () => {
  const metrics = [metric("purchase", "goal", [comparison("treatment", "winner")])];

  it("offers the primary metric's one winner", () => {
    expect(shipCandidate(metrics, "purchase", new Map())).toBe("treatment");
  });

  it("never offers a winner that harmed a guardrail", () => {
    expect(shipCandidate(metrics, "purchase", guardrailHarms([breach("page-load", "treatment", 0.46)]))).toBeNull();
  });

  it("offers none with two winners or none", () => {
    expect(shipCandidate([metric("purchase", "goal", [comparison("a", "winner"), comparison("b", "winner")])], "purchase", new Map())).toBeNull();
    expect(shipCandidate([metric("purchase", "goal", [comparison("a", "inconclusive")])], "purchase", new Map())).toBeNull();
  });
});
