import { describe, expect, it } from "vitest";
import { canEdit, changedFields, draftFromExperiment, editProblems, toPatch, type ExperimentLike } from "./wizard";

const experiment: ExperimentLike = {
  key: "checkout-button",
  name: "Checkout button",
  hypothesis: "green converts",
  description: "",
  variants: [
    { key: "control", name: "Control", weight: 50, is_control: true, payload: null },
    { key: "green", name: "Green", weight: 50, is_control: false, payload: { color: "green" } },
  ],
  traffic_allocation: 80,
  environment: "production",
  targeting: [{ attribute: "country", operator: "in", values: ["FR"] }],
  bucket_by: "user_id",
  layer_key: "checkout",
  layer_range_start: 0,
  layer_range_end: 2500,
  primary_metric: "purchase",
  secondary_metrics: ["revenue"],
  guardrail_metrics: [],
  guardrail_action: "pause",
  planned_start: null,
  planned_end: "2030-01-31T12:00:00Z",
  min_sample_size: 1000,
};

describe("draftFromExperiment", () => {
  it("reads the experiment as the wizard's draft, the layer's share from its range", () => {
    const draft = draftFromExperiment(experiment);
    expect(draft.layer).toBe("checkout");
    expect(draft.layer_share).toBe(25);
    expect(draft.primary_metric).toBe("purchase");
    expect(draft.planned_start).toBe("");
    expect(new Date(draft.planned_end).toISOString()).toBe("2030-01-31T12:00:00.000Z");
    expect(draft.variants[1]).toEqual({ key: "green", name: "Green", weight: 50, is_control: false, payload: { color: "green" } });
    expect(draft.variants[0]).not.toHaveProperty("payload");
  });

  it("without a layer, the share is the wizard's default", () => {
    expect(draftFromExperiment({ ...experiment, layer_key: null, layer_range_start: null, layer_range_end: null }).layer_share).toBe(100);
  });
});

describe("toPatch", () => {
  const original = draftFromExperiment(experiment);

  it("sends the version alone when nothing changed (dates read back unchanged)", () => {
    expect(changedFields(original, { ...original })).toEqual([]);
    expect(toPatch(original, { ...original }, 4)).toEqual({ version: 4 });
  });

  it("sends only the changed fields, variants with their payloads kept", () => {
    const draft = {
      ...original,
      name: "Checkout button v2",
      variants: [...original.variants.slice(0, 1), { ...original.variants[1]!, name: "Bright green", weight: 40 }, { key: "blue", name: "Blue", weight: 10, is_control: false }],
    };
    expect(toPatch(original, draft, 3)).toEqual({
      version: 3,
      name: "Checkout button v2",
      variants: [
        { key: "control", name: "Control", weight: 50, is_control: true },
        { key: "green", name: "Bright green", weight: 40, is_control: false, payload: { color: "green" } },
        { key: "blue", name: "Blue", weight: 10, is_control: false },
      ],
    });
  });

  it("sends a layer with its share, and clears dates and the layer with null", () => {
    expect(toPatch(original, { ...original, layer_share: 50 }, 1)).toEqual({ version: 1, layer: "checkout", layer_share: 50 });
    expect(toPatch(original, { ...original, layer: "", planned_end: "" }, 1)).toEqual({ version: 1, layer: null, layer_share: null, planned_end: null });
  });
});

describe("editProblems", () => {
  const original = draftFromExperiment(experiment);

  it("a draft may change everything, and clear its primary metric and sample size (sent as null)", () => {
    expect(editProblems("draft", original, { ...original, environment: "staging", targeting: [], traffic_allocation: 10 }).size).toBe(0);
    const cleared = { ...original, primary_metric: "", min_sample_size: null };
    expect(editProblems("draft", original, cleared).size).toBe(0);
    expect(toPatch(original, cleared, 1)).toEqual({ version: 1, primary_metric: null, min_sample_size: null });
  });

  it("a running experiment: frozen fields refused, traffic only upwards", () => {
    const problems = editProblems("running", original, { ...original, name: "ok", bucket_by: "account_id", traffic_allocation: 70 });
    expect([...problems.keys()].sort()).toEqual(["bucket_by", "traffic_allocation"]);
    expect(problems.get("bucket_by")).toBe("cannot change while the experiment is running");
    expect(editProblems("running", original, { ...original, traffic_allocation: 90 }).size).toBe(0);
  });

  it("a paused experiment re-weights its variants but keeps their keys and control", () => {
    const reweighted = original.variants.map((v, i) => ({ ...v, weight: i === 0 ? 70 : 30 }));
    expect(editProblems("paused", original, { ...original, variants: reweighted }).size).toBe(0);
    const rekeyed = original.variants.map((v, i) => (i === 1 ? { ...v, key: "teal" } : v));
    expect(editProblems("paused", original, { ...original, variants: rekeyed }).get("variants")).toMatch(/only the weights/);
  });

  it("a completed experiment changes its words only; an archived one nothing", () => {
    expect([...editProblems("completed", original, { ...original, hypothesis: "new", planned_end: "" }).keys()]).toEqual(["planned_end"]);
    expect(canEdit("completed")).toBe(true);
    expect(canEdit("archived")).toBe(false);
  });
});
