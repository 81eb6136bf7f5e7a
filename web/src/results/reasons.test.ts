import { describe, expect, it } from "vitest";
import { blockingReason, comparisonNotes, guardrailState, variantSentence, variantWeights } from "./reasons";
import type { Comparison } from "./types";

function comparison(over: Partial<Comparison>): Comparison {
  return {
    variant_key: "treatment",
    control: { key: "control", units: 500, mean: 0.1, std_dev: 0.3 },
    treatment: { key: "treatment", units: 500, mean: 0.12, std_dev: 0.32 },
    absolute_lift: 0.02,
    absolute_interval: { lower: -0.01, upper: 0.05 },
    relative_lift: 0.2,
    relative_interval: { lower: -0.1, upper: 0.5 },
    p_value: 0.2,
    p_value_adjusted: 0.2,
    chance_to_win: null,
    risk: null,
    verdict: "inconclusive",
    messages: [],
    ...over,
  };
}

const empty = { absolute_lift: null, absolute_interval: null, relative_lift: null, relative_interval: null, p_value: null };

describe("why a comparison has no verdict", () => {
  it("a measured comparison has none: its verdict stands", () => {
    expect(blockingReason(comparison({}))).toBeNull();
  });

  it("not enough data only for NOT_ENOUGH_DATA or no units", () => {
    expect(blockingReason(comparison({ ...empty, messages: ["NOT_ENOUGH_DATA"] }))?.label).toBe("Not enough data");
    const noUnits = comparison({ ...empty, treatment: { key: "treatment", units: 0, mean: null, std_dev: null } });
    expect(blockingReason(noUnits)?.code).toBe("NOT_ENOUGH_DATA");
  });

  it("impossible input and numbers out of range say so, before any lack of data", () => {
    const invalid = blockingReason(comparison({ ...empty, messages: ["INVALID_INPUT"] }));
    expect(invalid).toMatchObject({ code: "INVALID_INPUT", label: "Invalid data", tone: "problem" });
    expect(invalid?.meaning).toMatch(/inconsistent/);
    expect(blockingReason(comparison({ ...empty, messages: ["NUMERIC_RANGE"] }))).toMatchObject({ label: "Out of numeric range", tone: "problem" });
    expect(blockingReason(comparison({ ...empty, messages: ["NOT_ENOUGH_DATA", "INVALID_INPUT"] }))?.code).toBe("INVALID_INPUT");
  });

  it("zero variance: estimates but no test, so no verdict rather than 'inconclusive'", () => {
    const flat = comparison({ p_value: null, absolute_interval: null, relative_interval: null, messages: ["ZERO_VARIANCE"] });
    expect(blockingReason(flat)).toMatchObject({ code: "ZERO_VARIANCE", label: "No variance" });
  });

  it("a control mean of 0 or CUPED without pre-period keep the verdict, as notes", () => {
    const zero = comparison({ relative_lift: null, relative_interval: null, messages: ["CONTROL_MEAN_ZERO", "CUPED_NO_PREPERIOD"] });
    expect(blockingReason(zero)).toBeNull();
    expect(comparisonNotes(zero).map((n) => n.label)).toEqual(["Control mean is 0", "CUPED not applied"]);
    expect(comparisonNotes(comparison({ messages: ["INVALID_INPUT"] }))).toEqual([]);
  });

  it("a variant weighted 0 gets no traffic, it is not waiting for data", () => {
    const weights = variantWeights([
      { key: "control", weight: 50, is_control: true },
      { key: "treatment", weight: 50 },
      { key: "dormant", weight: 0 },
    ]);
    const dormant = comparison({ ...empty, variant_key: "dormant", treatment: { key: "dormant", units: 0, mean: null, std_dev: null }, messages: ["NOT_ENOUGH_DATA"] });
    expect(blockingReason(dormant, weights)).toMatchObject({ code: "NO_TRAFFIC", label: "No traffic (weight 0)" });
    // without the experiment's weights (not loaded yet) it is the plain lack of data
    expect(blockingReason(dormant)?.code).toBe("NOT_ENOUGH_DATA");
    // weighted 0 now but measured before the change: its numbers stand
    expect(blockingReason(comparison({ variant_key: "dormant" }), weights)).toBeNull();
    // broken input still comes first
    expect(blockingReason({ ...dormant, messages: ["INVALID_INPUT"] }, weights)?.code).toBe("INVALID_INPUT");
  });

  it("a missing estimate with no known reason is 'No result', not 'Not enough data'", () => {
    expect(blockingReason(comparison({ ...empty }))).toMatchObject({ code: "NO_RESULT", label: "No result" });
    expect(blockingReason(comparison({ ...empty, messages: ["SOMETHING_NEW"] }))).toMatchObject({ code: "SOMETHING_NEW", tone: "problem" });
  });

  it("reads weights only from well-formed variants", () => {
    expect([...variantWeights([{ key: "a", weight: 0 }, { key: "b" }, { weight: 3 }])]).toEqual([["a", 0]]);
    expect(variantWeights(undefined).size).toBe(0);
  });
});

describe("the server's sentence for one variant", () => {
  const summary =
    "treatment vs control on Purchase: the aggregated statistics are inconsistent. " +
    "Green raised Purchase from 10.1% to 11.6% (+14.9%, 95% interval +3.2% to +26.5%); the difference is statistically significant (p = 0.012, Holm-adjusted) — an improvement. " +
    "blue-v2 vs control on Purchase: not enough data yet (each arm needs at least 2 units).";
  const variants = ["treatment", "green", "blue-v2"];

  it("finds each variant's sentence by its opening, full stops inside numbers and all", () => {
    expect(variantSentence(summary, variants, "treatment")).toBe("treatment vs control on Purchase: the aggregated statistics are inconsistent.");
    expect(variantSentence(summary, variants, "green")).toMatch(/^Green raised Purchase from 10\.1% .* an improvement\.$/);
    expect(variantSentence(summary, variants, "blue-v2")).toBe("blue-v2 vs control on Purchase: not enough data yet (each arm needs at least 2 units).");
  });

  it("gives nothing when the summary does not read that way", () => {
    expect(variantSentence(undefined, variants, "green")).toBeNull();
    expect(variantSentence("Purchase: no result yet (no data for the variants).", variants, "green")).toBeNull();
    expect(variantSentence(summary, variants, "missing")).toBeNull();
  });
});

describe("a guardrail's badge", () => {
  const notEnough = { code: "NOT_ENOUGH_DATA", label: "", meaning: "", tone: "quiet" as const };
  const noTraffic = { ...notEnough, code: "NO_TRAFFIC" };
  const invalid = { ...notEnough, code: "INVALID_INPUT", tone: "problem" as const };

  it("says why there is nothing to bound yet", () => {
    expect(guardrailState([], false)).toBe("no-data");
    expect(guardrailState([notEnough], false)).toBe("no-data");
    expect(guardrailState([notEnough, noTraffic], false)).toBe("no-data");
    expect(guardrailState([noTraffic], false)).toBe("no-traffic");
    expect(guardrailState([invalid], false)).toBe("unjudged");
  });

  it("is within bounds once a comparison has a verdict, breached when the monitor says so", () => {
    expect(guardrailState([null, noTraffic], false)).toBe("ok");
    expect(guardrailState([notEnough], true)).toBe("breached");
  });
});
