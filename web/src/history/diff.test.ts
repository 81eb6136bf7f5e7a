import { describe, expect, it } from "vitest";
import { deepDiff, isUuid, summarize } from "./diff";

describe("deepDiff", () => {
  it("names the nested field that changed, not the whole object", () => {
    const before = { name: "A", environments: { production: { enabled: true, rules: [] }, staging: { enabled: false } } };
    const after = { name: "A", environments: { production: { enabled: false, rules: [] }, staging: { enabled: false } } };
    expect(deepDiff(before, after)).toEqual([{ path: "environments.production.enabled", before: true, after: false }]);
  });

  it("walks lists of objects by index and reports added or removed keys", () => {
    const before = { rules: [{ id: "a", serve: { variation: "on" } }] };
    const after = { rules: [{ id: "a", serve: { variation: "off" } }], tags: ["x"] };
    expect(deepDiff(before, after)).toEqual([
      { path: "rules[0].serve.variation", before: "on", after: "off" },
      { path: "tags", before: undefined, after: ["x"] },
    ]);
  });

  it("treats a list that changed length as one change", () => {
    expect(deepDiff({ tags: ["a"] }, { tags: ["a", "b"] })).toEqual([{ path: "tags", before: ["a"], after: ["a", "b"] }]);
  });

  it("gives nothing for equal snapshots and a leaf for creations", () => {
    expect(deepDiff({ a: 1 }, { a: 1 })).toEqual([]);
    expect(deepDiff(null, { a: 1 })).toEqual([{ path: "(value)", before: null, after: { a: 1 } }]);
  });
});

describe("records without a before and after", () => {
  it("a creation reads created", () => {
    expect(summarize("flag.created", null, { key: "x" })).toEqual(["created"]);
  });

  it("an aggregation run says how long it took, not created", () => {
    const lines = summarize("experiment.aggregated", null, { aggregated_at: null, duration_ms: 12.3, full: true });
    expect(lines).toEqual(["aggregated in 12.3 ms", "recomputed from scratch"]);
  });

  it("other event records list their fields", () => {
    expect(summarize("guardrail.breached", null, { metric: "errors", variant: "treatment", p_value: null })).toEqual(["metric: errors", "variant: treatment"]);
    expect(summarize("flag.updated", { a: 1 }, { a: 2 })).toEqual([]);
  });

  it("tells an id from a key", () => {
    expect(isUuid("86336217-8c4e-4a4b-9a0e-0c3f2f7b1a11")).toBe(true);
    expect(isUuid("checkout-redesign-test")).toBe(false);
  });
});
