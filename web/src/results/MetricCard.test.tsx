import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MetricCard } from "./MetricCard";

// jsdom draws no canvas: the chart itself is uPlot's; what these tests read is the card around it
vi.mock("../ui", async (importOriginal) => ({ ...(await importOriginal<typeof import("../ui")>()), Chart: () => null }));
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

function goal(comparisons: Comparison[], summary?: string): MetricResult {
  return { ...guardrail(comparisons), metric_key: "purchase", role: "goal", kind: "binomial", lower_is_better: false, summary };
}

const renderGoal = (metric: MetricResult, weights?: ReadonlyMap<string, number>) =>
  render(<MetricCard metric={metric} role="primary" engine="frequentist" series={undefined} levelFallback={0.95} breached={false} correctionLabel={null} weights={weights} />);

describe("intervals the API did not compute", () => {
  it("read — and draw no bar, never −∞ to +∞", () => {
    const flat = comparison({
      control: { key: "control", units: 500, mean: 0.1, std_dev: 0 },
      treatment: { key: "treatment", units: 500, mean: 0.1, std_dev: 0 },
      absolute_lift: 0,
      relative_lift: 0,
      messages: ["ZERO_VARIANCE"],
    });
    const { container } = renderGoal(goal([flat]));
    expect(container.textContent).not.toContain("∞");
    expect(screen.getAllByTestId("no-interval")).toHaveLength(2);
    const bar = screen.getByTestId("interval-bar");
    expect(bar.getAttribute("data-side")).toBe("unknown");
    expect(bar.getAttribute("aria-label")).toMatch(/interval of the lift: not computed/);
  });

  it("show an open end only for a one-sided interval", () => {
    const oneSided = comparison({
      control: { key: "control", units: 500, mean: 0.1, std_dev: 0.3 },
      treatment: { key: "treatment", units: 500, mean: 0.12, std_dev: 0.32 },
      absolute_lift: 0.02,
      absolute_interval: { lower: 0.001, upper: null },
      relative_lift: 0.2,
      relative_interval: { lower: 0.01, upper: null },
      p_value: 0.03,
      verdict: "winner",
      messages: [],
    });
    const { container } = renderGoal(goal([oneSided]));
    expect(container.querySelector("[data-field=relative_upper]")?.textContent).toBe("+∞");
    expect(container.querySelector("[data-field=relative_lower]")?.textContent).toBe("+1.0%");
    expect(container.querySelector("[data-field=absolute_upper]")?.textContent).toBe("+∞");
    expect(screen.queryByTestId("no-interval")).toBeNull();
  });
});

describe("a verdict's reason", () => {
  it("invalid input says what is wrong, with the server's sentence in the tooltip, not 'Not enough data'", () => {
    const invalid = comparison({
      control: { key: "control", units: 50, mean: null, std_dev: null },
      treatment: { key: "treatment", units: 40, mean: null, std_dev: null },
      messages: ["INVALID_INPUT"],
    });
    const { container } = renderGoal(goal([invalid], "treatment vs control on Purchase: the aggregated statistics are inconsistent."));
    expect(screen.queryByText("Not enough data")).toBeNull();
    const badge = screen.getByText("Invalid data");
    expect(badge.getAttribute("title")).toMatch(/treatment vs control on Purchase: the aggregated statistics are inconsistent\./);
    expect(container.querySelector("[data-field=verdict]")?.getAttribute("data-reason")).toBe("INVALID_INPUT");
  });

  it("a control mean of 0 keeps the verdict and says why there is no relative lift", () => {
    const zero = comparison({
      control: { key: "control", units: 500, mean: 0, std_dev: 0.1 },
      treatment: { key: "treatment", units: 500, mean: 0.05, std_dev: 0.2 },
      absolute_lift: 0.05,
      absolute_interval: { lower: 0.03, upper: 0.07 },
      p_value: 0.001,
      verdict: "winner",
      messages: ["CONTROL_MEAN_ZERO"],
    });
    const { container } = renderGoal(goal([zero]));
    expect(screen.getByText("Winner")).toBeTruthy();
    expect(container.querySelector("[data-note=CONTROL_MEAN_ZERO]")?.textContent).toMatch(/^Control mean is 0/);
  });

  it("a variant weighted 0 reads 'No traffic (weight 0)'", () => {
    const dormant = comparison({ variant_key: "dormant", treatment: { key: "dormant", units: 0, mean: null, std_dev: null } });
    renderGoal(goal([dormant]), new Map([["control", 100], ["dormant", 0]]));
    expect(screen.getByText("No traffic (weight 0)")).toBeTruthy();
    expect(screen.queryByText("Not enough data")).toBeNull();
  });

  it("a guardrail whose only treatment gets no traffic is not 'not enough data yet'", () => {
    const dormant = comparison({ variant_key: "dormant", treatment: { key: "dormant", units: 0, mean: null, std_dev: null } });
    render(<MetricCard metric={guardrail([dormant])} role="guardrail" engine="frequentist" series={undefined} levelFallback={0.95} breached={false} correctionLabel={null} weights={new Map([["dormant", 0]])} />);
    expect(screen.getByTestId("guardrail-status").textContent).toBe("no traffic");
  });
});

describe("the lift over time", () => {
  const measured = (over: Partial<Comparison>) =>
    comparison({
      control: { key: "control", units: 500, mean: 10, std_dev: 3 },
      treatment: { key: "treatment", units: 500, mean: 10.5, std_dev: 3 },
      absolute_lift: 0.5,
      relative_lift: 0.05,
      relative_interval: { lower: 0.01, upper: 0.09 },
      p_value: 0.01,
      verdict: "winner",
      messages: [],
      ...over,
    });
  const series = [
    { day: "2026-12-01", comparisons: [{ variant: "treatment", relative_lift: 0.04, relative_interval: { lower: -0.02, upper: 0.1 }, absolute_lift: 0.4, units: 200, control_units: 200 }] },
    { day: "2026-12-02", comparisons: [{ variant: "treatment", relative_lift: 0.05, relative_interval: { lower: 0.01, upper: 0.09 }, absolute_lift: 0.5, units: 500, control_units: 500 }] },
  ];
  const goal = (c: Comparison): MetricResult => ({ ...guardrail([c]), metric_key: "revenue", role: "goal", lower_is_better: false });

  it("says it is CUPED-adjusted when the table's comparisons are", () => {
    render(<MetricCard metric={goal(measured({ cuped_variance_reduction: 0.6, cuped_theta: 1.1 }))} role="primary" engine="frequentist" series={series} levelFallback={0.95} breached={false} correctionLabel={null} />);
    expect(screen.getByTestId("lift-chart").textContent).toContain("CUPED-adjusted like the table");
  });

  it("says nothing of CUPED when nothing was adjusted", () => {
    render(<MetricCard metric={goal(measured({ cuped_variance_reduction: null }))} role="primary" engine="frequentist" series={series} levelFallback={0.95} breached={false} correctionLabel={null} />);
    expect(screen.getByTestId("lift-chart").textContent).not.toContain("CUPED");
  });
});
