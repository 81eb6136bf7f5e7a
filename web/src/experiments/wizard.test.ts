import { describe, expect, it } from "vitest";
import { actionsFor } from "./api";
import {
  addVariant,
  isDirty,
  reachableStep,
  powerRequest,
  powerSentence,
  emptyDraft,
  firstIncompleteStep,
  metricLabel,
  removeVariant,
  seedBaseline,
  splitEvenly,
  stepOfPath,
  toPayload,
  validateStep,
  variantLines,
  weightTotal,
  type Draft,
  type SeriesPoint,
} from "./wizard";

const draft = (patch: Partial<Draft> = {}): Draft => ({ ...emptyDraft(), name: "Checkout", key: "checkout", ...patch });

describe("weights", () => {
  it("splits evenly into 2-decimal weights that sum to exactly 100", () => {
    for (let n = 1; n <= 12; n++) {
      const weights = splitEvenly(n);
      expect(weights).toHaveLength(n);
      expect(weights.reduce((a, b) => a + Math.round(b * 100), 0)).toBe(10_000);
      for (const w of weights) expect(Math.round(w * 100) / 100).toBe(w);
    }
    expect(splitEvenly(3)).toEqual([33.34, 33.33, 33.33]);
    expect(splitEvenly(0)).toEqual([]);
  });

  it("adds the total to the cent, without float drift", () => {
    const variants = [33.34, 33.33, 33.33].map((weight, i) => ({ key: `v${i}`, name: "", weight, is_control: i === 0 }));
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(weightTotal(variants)).toBe(100);
  });

  it("adding a variant re-splits evenly with a fresh key; removing the control hands it on", () => {
    const three = addVariant(emptyDraft().variants);
    expect(three.map((v) => v.key)).toEqual(["control", "treatment", "treatment-b"]);
    expect(three.map((v) => v.name)).toEqual(["Control", "Treatment A", "Treatment B"]);
    expect(addVariant(three).map((v) => v.name)).toEqual(["Control", "Treatment A", "Treatment B", "Treatment C"]);
    expect(weightTotal(three)).toBe(100);
    const rest = removeVariant(three, 0);
    expect(rest.filter((v) => v.is_control).map((v) => v.key)).toEqual(["treatment"]);
  });

  it("removing a variant re-splits evenly, as adding does: the total stays 100", () => {
    const three = addVariant(emptyDraft().variants);
    const two = removeVariant(three, 2);
    expect(two.map((v) => [v.key, v.weight])).toEqual([
      ["control", 50],
      ["treatment", 50],
    ]);
    const four = addVariant(three);
    expect(removeVariant(four, 1).map((v) => v.weight)).toEqual([33.34, 33.33, 33.33]);
    expect(weightTotal(removeVariant(four, 3))).toBe(100);
  });
});

describe("the review", () => {
  it("names each variant, its key, weight and the control", () => {
    expect(variantLines(emptyDraft().variants)).toEqual(["Control (control), 50%, the control", "Treatment (treatment), 50%"]);
    expect(variantLines([{ key: "b", name: " ", weight: 100, is_control: true }])).toEqual(["b, 100%, the control"]);
  });

  it("names a metric by its name and key, or its key alone when unknown", () => {
    const metrics = [{ key: "purchase", name: "Purchase conversion" }, { key: "errors", name: "errors" }];
    expect(metricLabel("purchase", metrics)).toBe("Purchase conversion (purchase)");
    expect(metricLabel("errors", metrics)).toBe("errors");
    expect(metricLabel("gone", metrics)).toBe("gone");
  });
});

describe("validation per step", () => {
  it("names the field of each problem, as the server does", () => {
    expect(validateStep("basics", draft({ name: " ", key: "Bad Key" }))).toEqual(
      new Map([
        ["name", "a name is required"],
        ["key", "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"],
      ]),
    );
    expect(validateStep("basics", draft()).size).toBe(0);
  });

  it("refuses weights that do not sum to 100, duplicate keys, no control and 3 decimals", () => {
    const base = emptyDraft().variants;
    expect(validateStep("variants", draft({ variants: [{ ...base[0]!, weight: 60 }, base[1]!] })).get("variants")).toBe(
      "weights must sum to 100 (now 110)",
    );
    expect(validateStep("variants", draft({ variants: [base[0]!, { ...base[1]!, key: "control" }] })).get("variants[1].key")).toBe(
      '"control" is used twice',
    );
    expect(validateStep("variants", draft({ variants: base.map((v) => ({ ...v, is_control: false })) })).get("variants")).toBe(
      "exactly one variant must be the control",
    );
    const thirds = draft({ variants: [{ ...base[0]!, weight: 33.333 }, { ...base[1]!, weight: 66.667 }] });
    expect(validateStep("variants", thirds).get("variants[0].weight")).toBe("at most 2 decimals");
    expect(validateStep("variants", draft({ traffic_allocation: 120 })).get("traffic_allocation")).toBeDefined();
    expect(validateStep("variants", draft()).size).toBe(0);
  });

  it("checks the schedule's order and the sample size", () => {
    const late = draft({ planned_start: "2026-12-10T10:00", planned_end: "2026-12-09T10:00" });
    expect(validateStep("schedule", late).get("planned_end")).toBe("the planned end must be after the planned start");
    expect(validateStep("schedule", draft({ min_sample_size: 1.5 })).get("min_sample_size")).toBeDefined();
    expect(validateStep("schedule", draft({ min_sample_size: 3000 })).size).toBe(0);
  });

  it("finds the first incomplete step, and the step of a server's field path", () => {
    expect(firstIncompleteStep(draft())).toBeNull();
    expect(firstIncompleteStep(draft({ key: "" }))).toBe("basics");
    expect(stepOfPath("variants[1].weight")).toBe("variants");
    expect(stepOfPath("targeting[0].values")).toBe("targeting");
    expect(stepOfPath("planned_end")).toBe("schedule");
    expect(stepOfPath("guardrail_metrics")).toBe("metrics");
    expect(stepOfPath("")).toBe("review");
  });
});

describe("payload", () => {
  it("sends no layer share without a layer and ISO dates in UTC", () => {
    const body = toPayload(draft({ planned_start: "2026-12-10T10:00", primary_metric: "conversion" }));
    expect(body.layer).toBeNull();
    expect(body.layer_share).toBeNull();
    expect(body.primary_metric).toBe("conversion");
    expect(body.planned_start).toBe(new Date("2026-12-10T10:00").toISOString());
    expect(body.planned_end).toBeNull();
    expect(toPayload(draft({ layer: "checkout", layer_share: 40 })).layer_share).toBe(40);
  });
});

describe("power calculator seed", () => {
  const today = "2026-12-02";
  const series: SeriesPoint[] = [
    { day: "2026-11-30", events: 300, units: 100, value_sum: 5000 },
    { day: "2026-12-01", events: 260, units: 140, value_sum: 7000 },
    { day: today, events: 10, units: 5, value_sum: 99 }, // still filling: left out
  ];

  it("count: events per active user, variance equal to the mean", () => {
    const seed = seedBaseline("count", series, { today });
    expect(seed.days).toBe(2);
    expect(seed.unitsPerDay).toBe(120);
    expect(seed.baselineMean).toBeCloseTo(560 / 240, 5);
    expect(seed.baselineVariance).toBeCloseTo(560 / 240, 5);
    expect(seed.dailyUnits).toBe(120);
  });

  it("sum and mean: value per active user, variance the mean squared, traffic scales the daily units", () => {
    const seed = seedBaseline("sum", series, { today, trafficPercent: 50 });
    expect(seed.baselineMean).toBe(50);
    expect(seed.baselineVariance).toBe(2500);
    expect(seed.dailyUnits).toBe(60);
  });

  it("binomial: the rate needs the eligible users a day, and stays a rate in (0, 1)", () => {
    expect(seedBaseline("binomial", series, { today }).baselineMean).toBeNull();
    const seed = seedBaseline("binomial", series, { today, eligiblePerDay: 1000, trafficPercent: 20 });
    expect(seed.baselineMean).toBe(0.12);
    expect(seed.baselineVariance).toBeNull();
    expect(seed.dailyUnits).toBe(200);
    expect(seedBaseline("binomial", series, { today, eligiblePerDay: 100 }).baselineMean).toBeNull();
  });

  it("no events: no seed, and a note that says so", () => {
    const seed = seedBaseline("mean", [], { today });
    expect(seed.baselineMean).toBeNull();
    expect(seed.note).toMatch(/No events/);
  });
});

describe("lifecycle actions", () => {
  it("follow the server's state machine", () => {
    expect(actionsFor("draft")).toEqual(["start", "schedule", "archive"]);
    expect(actionsFor("running")).toEqual(["pause", "complete"]);
    expect(actionsFor("paused")).toEqual(["resume", "complete"]);
    expect(actionsFor("completed")).toEqual(["archive"]);
    expect(actionsFor("archived")).toEqual([]);
  });
});

describe("the power calculator", () => {
  it("sends the number of variants as arms (2 to 26)", () => {
    const base = { kind: "binomial" as const, baseline: 0.1, variance: 3, mdePercent: 5, alpha: null, power: null, dailyUnits: 900 };
    expect(powerRequest({ ...base, arms: 3 })).toEqual({
      kind: "binomial",
      baseline_mean: 0.1,
      baseline_variance: null,
      relative_mde: 0.05,
      alpha: 0.05,
      power: 0.8,
      daily_units: 900,
      arms: 3,
    });
    expect(powerRequest({ ...base, arms: 1 }).arms).toBe(2);
    expect(powerRequest({ ...base, arms: 40 }).arms).toBe(26);
  });

  it("says users per variant, and the days for all the variants", () => {
    expect(powerSentence(3, 14749, 44247, 50)).toBe("14,749 users per variant (44,247 for all 3 variants) · about 50 days to reach it in all 3 variants");
    expect(powerSentence(2, 100, null, null)).toBe("100 users per variant (200 for both variants)");
  });
});

describe("the step in the address", () => {
  it("opens the step named, unless an earlier step is not done", () => {
    expect(reachableStep(null, emptyDraft())).toBe("basics");
    expect(reachableStep("metrics", emptyDraft())).toBe("basics");
    const named = { ...emptyDraft(), name: "Checkout", key: "checkout" };
    expect(reachableStep("metrics", named)).toBe("metrics");
    expect(reachableStep("nonsense", named)).toBe("basics");
    expect(reachableStep("review", { ...named, variants: [{ ...named.variants[0]!, weight: 70 }, named.variants[1]!] })).toBe("variants");
  });

  it("knows when there is input to lose", () => {
    expect(isDirty(emptyDraft())).toBe(false);
    expect(isDirty({ ...emptyDraft(), hypothesis: "x" })).toBe(true);
  });
});
