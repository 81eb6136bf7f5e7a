import { describe, expect, it } from "vitest";
import { RESOURCE_TYPES } from "./labels";

describe("history labels", () => {
  it("lists the server's resource types once each, lower-case as recorded", () => {
    const values = RESOURCE_TYPES.map((t) => t.value);
    expect(new Set(values).size).toBe(values.length);
    expect(values).toEqual(expect.arrayContaining(["flag", "segment", "experiment", "metric", "environment", "api_key", "user", "webhook"]));
    expect(values.every((v) => v === v.toLowerCase())).toBe(true);
  });
});
