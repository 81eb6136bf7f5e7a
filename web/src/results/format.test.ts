import { describe, expect, it } from "vitest";
import {
  defaultFormat,
  formatAggregated,
  formatPEquals,
  formatCount,
  formatCurrency,
  formatDifference,
  formatDuration,
  formatIntervalEnds,
  formatLift,
  formatLiftInterval,
  formatPercent,
  formatProbability,
  formatPValue,
  formatValue,
  formatWait,
} from "./format";

describe("formatting of results", () => {
  it("percent: a rate shown in percent, differences in percentage points", () => {
    expect(formatPercent(0.1012)).toBe("10.1%");
    expect(formatPercent(0.1015, 2)).toBe("10.15%");
    expect(formatValue(0.116, { type: "percent" })).toBe("11.6%");
    expect(formatValue(0.116, { type: "percent", decimals: 2 })).toBe("11.60%");
    expect(formatDifference(0.015, { type: "percent" })).toBe("+1.50 pp");
    expect(formatDifference(-0.0042, { type: "percent" })).toBe("\u22120.42 pp");
    expect(formatPercent(null)).toBe("—");
  });

  it("currency: the metric's ISO code, two decimals unless told", () => {
    expect(formatCurrency(1234.5, "EUR")).toBe("€1,234.50");
    expect(formatValue(3.456, { type: "currency", currency: "USD" })).toBe("$3.46");
    expect(formatValue(3.456, { type: "currency", currency: "JPY", decimals: 0 })).toBe("¥3");
    expect(formatDifference(-0.5, { type: "currency", currency: "EUR" })).toBe("\u2212€0.50");
    // an unknown code still shows the number and the code rather than throwing
    expect(formatCurrency(2, "XXQ")).toMatch(/2\.00 XXQ|XXQ\s?2\.00/);
  });

  it("duration: the largest fitting unit, from ms or s", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(4.256)).toBe("4.26 ms");
    expect(formatDuration(1250)).toBe("1.25 s");
    expect(formatDuration(12.5, "s")).toBe("12.5 s");
    expect(formatDuration(125, "s")).toBe("2 min 5 s");
    expect(formatDuration(120, "s")).toBe("2 min");
    expect(formatDuration(3780, "s")).toBe("1 h 3 min");
    expect(formatDuration(-300)).toBe("\u2212300 ms");
    expect(formatValue(1500, { type: "duration", duration_unit: "ms" })).toBe("1.50 s");
    expect(formatDifference(-120, { type: "duration", duration_unit: "ms" })).toBe("\u2212120 ms");
  });

  it("count: whole units grouped, per-unit means keep their decimals", () => {
    expect(formatCount(12345)).toBe("12,345");
    expect(formatCount(0)).toBe("0");
    expect(formatCount(undefined)).toBe("—");
    expect(formatValue(2.3456, { type: "count" })).toBe("2.35");
    expect(formatValue(0.01234, { type: "count" })).toBe("0.0123");
    expect(formatValue(1534.2, { type: "number" })).toBe("1,534");
    expect(formatValue(2.3456, { type: "number", decimals: 1 })).toBe("2.3");
  });

  it("defaults per kind follow the contract", () => {
    expect(defaultFormat("binomial")).toEqual({ type: "percent" });
    expect(defaultFormat("count")).toEqual({ type: "count" });
    expect(defaultFormat("sum")).toEqual({ type: "number" });
    expect(defaultFormat("ratio")).toEqual({ type: "number" });
  });

  it("lifts are signed percentages, zero without a sign, open ends as infinity", () => {
    expect(formatLift(0.1585928489042676)).toBe("+15.9%");
    expect(formatLift(-0.032)).toBe("\u22123.2%");
    expect(formatLift(0.00001)).toBe("0.0%");
    expect(formatLiftInterval({ lower: -0.012, upper: 0.084 })).toBe("\u22121.2% to +8.4%");
    // one-sided: one end, the other explicitly unbounded
    expect(formatLiftInterval({ lower: 0.02, upper: null })).toBe("+2.0% to +∞");
    expect(formatLiftInterval({ lower: null, upper: -0.01 })).toBe("\u2212∞ to \u22121.0%");
  });

  it("an interval the API did not compute reads —, never −∞ to +∞", () => {
    expect(formatLiftInterval(null)).toBe("—");
    expect(formatLiftInterval(undefined)).toBe("—");
    // no end at all is no interval either
    expect(formatLiftInterval({ lower: null, upper: null })).toBe("—");
    expect(formatIntervalEnds(null, String)).toBeNull();
    expect(formatIntervalEnds({ lower: null, upper: null }, String)).toBeNull();
    // the absolute interval in the metric's unit, with an open end
    const pp = (value: number) => formatDifference(value, { type: "percent" });
    expect(formatIntervalEnds({ lower: 0.004, upper: null }, pp)).toEqual(["+0.40 pp", "+∞"]);
    expect(formatIntervalEnds({ lower: -0.01, upper: 0.02 }, pp)).toEqual(["\u22121.00 pp", "+2.00 pp"]);
  });

  it("p-values and chances", () => {
    expect(formatPValue(0.01234)).toBe("0.012");
    expect(formatPValue(0.0004)).toBe("< 0.001");
    expect(formatPValue(1)).toBe("1.000");
    expect(formatProbability(0.973)).toBe("97.3%");
    expect(formatProbability(0.99995)).toBe("> 99.9%");
    expect(formatProbability(0.0001)).toBe("< 0.1%");
  });

  it("waits until the next run", () => {
    expect(formatWait(-3)).toBe("due now");
    expect(formatWait(45)).toBe("in 45 s");
    expect(formatWait(600)).toBe("in 10 min");
    expect(formatWait(86_400)).toBe("in 24 h");
  });
});

describe("prose from the server, read the page's way", () => {
  it("a p-value below the floor reads p < 0.001, never p = < 0.001", () => {
    expect(formatPEquals(0.0000012)).toBe("p < 0.001");
    expect(formatPEquals(0.042)).toBe("p = 0.042");
  });
});

describe("formatAggregated", () => {
  it("says how long, and what the queue still held", () => {
    expect(formatAggregated({ duration_ms: 41.6, events_waiting: 0 })).toBe(" · aggregated now, in 42 ms");
    expect(formatAggregated({ duration_ms: 5012, events_waiting: 1 })).toBe(
      " · aggregated now, in 5012 ms; 1 event was still waiting to be written: it counts in the next run",
    );
    expect(formatAggregated({ duration_ms: 5012, events_waiting: 3500 })).toContain("3,500 events were still waiting");
    expect(formatAggregated({ duration_ms: 9, events_waiting: null })).toContain("the event queue could not be read");
  });
});
