import { describe, expect, it } from "vitest";
import { deepDiff } from "./diff";

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
