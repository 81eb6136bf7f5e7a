import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { MetricCard } from "./MetricCard";
import type { Comparison, MetricResult } from "./types";

function comparison(over: Partial<Comparison>): Comparison {
  return {
    variant_key: "treatment",
    control: { key: "control", units: 0, mean: null, std_dev: null },
    treatment: { key: "treatment", units: 0, mean: null, std_dev: null },
    absolute_lift: null,
    absolute_interval: null,
    relative_lift: null,
    relative_interval: null,
    p_value: null,
    p_value_adjusted: null,
    chance_to_win: null,
    risk: null,
    verdict: "inconclusive",
    messages: ["NOT_ENOUGH_DATA"],
    ...over,
  };
}

function guardrail(comparisons: Comparison[]): MetricResult {
  return {
    metric_key: "errors",
    role: "guardrail",
    kind: "count",
    engine: "frequentist",
    control_key: "control",
    alpha: 0.05,
    alternative: "two-sided",
    lower_is_better: true,
    cuped: false,
    comparisons,
    messages: [],
  };
}

afterEach(cleanup);

describe("a guardrail's status", () => {
  it("with no units yet: not enough data, never 'within bounds' or 'No harm found'", () => {
    render(<MetricCard metric={guardrail([comparison({})])} role="guardrail" engine="frequentist" series={undefined} levelFallback={0.95} breached={false} correctionLabel={null} />);
    expect(screen.getByTestId("guardrail-status").textContent).toBe("not enough data yet");
    expect(screen.queryByText("within bounds")).toBeNull();
    expect(screen.queryByText("No harm found")).toBeNull();
    expect(screen.getByText("Not enough data")).toBeTruthy();
  });

  it("with an estimate and no breach: within bounds, no harm found", () => {
    const measured = comparison({
      control: { key: "control", units: 500, mean: 0.1, std_dev: 0.3 },
      treatment: { key: "treatment", units: 500, mean: 0.1, std_dev: 0.3 },
      absolute_lift: 0.001,
      relative_lift: 0.01,
      p_value: 0.8,
      messages: [],
    });
    render(<MetricCard metric={guardrail([measured])} role="guardrail" engine="frequentist" series={undefined} levelFallback={0.95} breached={false} correctionLabel={null} />);
    expect(screen.getByTestId("guardrail-status").textContent).toBe("within bounds");
    expect(screen.getByText("No harm found")).toBeTruthy();
  });
});
