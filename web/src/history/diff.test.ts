import { describe, expect, it } from "vitest";
import { deepDiff, describeResource, isUuid, peopleLabels, showField, summarize } from "./diff";

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
  it("a creation reads created, with what was created", () => {
    expect(summarize("flag.created", null, { key: "x" })).toEqual(["created", "key: x"]);
    expect(summarize("flag.created", null, { key: "x", name: "X", description: "", tags: ["web"], type: "boolean", salt: "x", archived: false })).toEqual([
      "created",
      "key: x",
      "name: X",
      "type: boolean",
      "tags: web",
    ]);
    expect(summarize("flag.created", null, null)).toEqual([]);
  });

  it("a created API key shows its name, scopes, environment and expiry, not its ids or timestamps", () => {
    const key = {
      name: "checkout service",
      prefix: "xp_live_abcd",
      scopes: ["evaluate", "track"],
      environment: "production",
      created_by: "86336217-8c4e-4a4b-9a0e-0c3f2f7b1a11",
      expires_at: null,
      last_used_at: null,
      revoked_at: null,
    };
    expect(summarize("api_key.created", null, key)).toEqual([
      "created",
      "name: checkout service",
      "scopes: evaluate, track",
      "environment: production",
      "expires_at: never",
    ]);
    const expiring = summarize("api_key.created", null, { ...key, expires_at: "2031-05-04T12:00:00Z" });
    expect(expiring[4]).toMatch(/^expires_at: .*2031/);
  });

  it("a created person shows email and role; a webhook its URL, description and event types", () => {
    expect(summarize("user.created", null, { email: "ana@example.com", role: "analyst", is_active: true, mfa_enabled: false })).toEqual([
      "created",
      "email: ana@example.com",
      "role: analyst",
    ]);
    expect(summarize("webhook.created", null, { url: "https://hooks.example.com/x", description: "", event_types: [], active: true, format: "json", version: 1 })).toEqual([
      "created",
      "url: https://hooks.example.com/x",
      "event_types: all",
    ]);
    expect(summarize("environment.created", null, { key: "qa", name: "QA", description: "", is_production: false })).toEqual([
      "created",
      "key: qa",
      "name: QA",
      "is_production: false",
    ]);
  });

  it("another kind shows its first plain fields, names first, skipping ids, timestamps and nested objects", () => {
    const lines = describeResource("segment", {
      description: "people in the beta",
      owner_id: "86336217-8c4e-4a4b-9a0e-0c3f2f7b1a11",
      conditions: [{ attribute: "email" }],
      updated_at: "2030-01-01T00:00:00Z",
      name: "Beta testers",
      key: "beta-testers",
      version: 1,
      tags: ["a", "b"],
      rules: { nested: true },
      a: 1,
      b: 2,
      c: 3,
    });
    expect(lines).toEqual(["key: beta-testers", "name: Beta testers", "description: people in the beta", "version: 1", "tags: a, b", "a: 1"]);
  });

  it("a deletion reads deleted, with what was deleted", () => {
    expect(summarize("webhook.deleted", { url: "https://hooks.example.com/x", description: "orders", event_types: ["flag.created"] }, null)).toEqual([
      "deleted",
      "url: https://hooks.example.com/x",
      "description: orders",
      "event_types: flag.created",
    ]);
    expect(summarize("segment.deleted", { key: "eu", name: "Europe" }, null)).toEqual(["deleted", "key: eu", "name: Europe"]);
    // data retention's deletions are event records: they carry counts, not a resource
    expect(summarize("retention.deleted", null, { deleted: 12, unit: "rows" })).toEqual(["deleted: 12", "unit: rows"]);
  });

  it("an aggregation run says how long it took, not created", () => {
    const lines = summarize("experiment.aggregated", null, { aggregated_at: null, duration_ms: 12.3, full: true });
    expect(lines).toEqual(["aggregated in 12.3 ms", "recomputed from scratch"]);
    const behind = summarize("experiment.aggregated", null, { aggregated_at: null, duration_ms: 5004, full: false, events_waiting: 1200 });
    expect(behind).toEqual(["aggregated in 5004 ms", "1200 accepted events not yet written (counted next run)"]);
    expect(summarize("experiment.aggregated", null, { duration_ms: 3, full: false, events_waiting: 0 })).toEqual(["aggregated in 3 ms"]);
  });

  it("other event records list their fields", () => {
    expect(summarize("guardrail.breached", null, { metric: "errors", variant: "treatment", p_value: null })).toEqual(["metric: errors", "variant: treatment"]);
    expect(summarize("flag.updated", { a: 1 }, { a: 2 })).toEqual([]);
  });

  it("reads people's ids by the labels the page's records give them, else keeps the id", () => {
    const ana = "86336217-8c4e-4a4b-9a0e-0c3f2f7b1a11";
    const bo = "16336217-8c4e-4a4b-9a0e-0c3f2f7b1a22";
    const key = "26336217-8c4e-4a4b-9a0e-0c3f2f7b1a33";
    const people = peopleLabels([
      { actor_type: "user", actor_id: ana, actor_label: "ana@example.com", resource_type: "flag", resource_id: "x", resource_label: "x" },
      { actor_type: "api_key", actor_id: key, actor_label: "ci key", resource_type: "flag", resource_id: "x", resource_label: "x" },
      { actor_type: "system", actor_id: "system", actor_label: "system", resource_type: "user", resource_id: bo, resource_label: "bo@example.com" },
    ]);
    expect([...people.entries()].sort()).toEqual([[bo, "bo@example.com"], [ana, "ana@example.com"]].sort());
    expect(showField("owner_id", ana, people)).toBe("ana@example.com");
    expect(showField("environments.production.owner_id", bo, people)).toBe("bo@example.com");
    // only fields that hold people, and only people the records know
    expect(showField("flag_id", ana, people)).toBe(ana);
    expect(showField("created_by", key, people)).toBe(key);
    const scheduled = summarize("flag.rollout_scheduled", null, { environment: "production", created_by: ana, status: "active" }, people);
    expect(scheduled).toEqual(["environment: production", "created_by: ana@example.com", "status: active"]);
  });

  it("tells an id from a key", () => {
    expect(isUuid("86336217-8c4e-4a4b-9a0e-0c3f2f7b1a11")).toBe(true);
    expect(isUuid("checkout-redesign-test")).toBe(false);
  });
});
