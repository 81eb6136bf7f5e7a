import { describe, expect, it } from "vitest";
import { labelKey, needsList, resourceLabels, RESOURCE_TYPES, type LabelledRow } from "./labels";

const USER = "f224659b-c5d9-43cf-b5ac-dc7a6c94b8fa";
const ENV = "78d9d82f-20dc-4b1b-8f6b-4881c27e4938";
const KEY = "1889e75d-ac5a-403b-b36b-a1dc26a245f5";

const row = (over: Partial<LabelledRow>): LabelledRow => ({ actor_type: "user", actor_id: null, actor_label: null, resource_type: "flag", resource_id: null, ...over });

describe("history labels", () => {
  it("lists the server's resource types once each, lower-case as recorded", () => {
    const values = RESOURCE_TYPES.map((t) => t.value);
    expect(new Set(values).size).toBe(values.length);
    expect(values).toEqual(expect.arrayContaining(["flag", "segment", "experiment", "metric", "environment", "api_key", "user", "webhook"]));
    expect(values.every((v) => v === v.toLowerCase())).toBe(true);
  });

  it("labels environments, API keys and people from the records' own snapshots", () => {
    const labels = resourceLabels([
      row({ resource_type: "environment", resource_id: ENV, after: { key: "production", name: "Production" } }),
      row({ resource_type: "api_key", resource_id: KEY, after: { name: "Web backend", prefix: "xp_ab" } }),
      row({ resource_type: "user", resource_id: "u2", after: { email: "ana@example.com" } }),
    ]);
    expect(labels.get(labelKey("environment", ENV))).toBe("production");
    expect(labels.get(labelKey("api_key", KEY))).toBe("Web backend");
    expect(labels.get(labelKey("user", "u2"))).toBe("ana@example.com");
  });

  it("labels a person's sign-in by their own label as its actor", () => {
    const labels = resourceLabels([row({ actor_id: USER, actor_label: "admin@example.com", resource_type: "user", resource_id: USER })]);
    expect(labels.get(labelKey("user", USER))).toBe("admin@example.com");
  });

  it("prefers the current lists the viewer may read (a renamed account reads as it is now)", () => {
    const labels = resourceLabels([row({ resource_type: "user", resource_id: USER, after: { email: "old@example.com" } })], {
      users: [{ id: USER, email: "new@example.com" }],
      environments: [{ id: ENV, key: "staging" }],
    });
    expect(labels.get(labelKey("user", USER))).toBe("new@example.com");
    expect(labels.get(labelKey("environment", ENV))).toBe("staging");
  });

  it("tells when a list is worth fetching", () => {
    const rows = [row({ resource_type: "user", resource_id: "u9" })];
    expect(needsList(rows, "user", resourceLabels(rows))).toBe(true);
    expect(needsList(rows, "environment", resourceLabels(rows))).toBe(false);
  });
});
