import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { groupUses, usesOf } from "./usage";

const refused = new ApiError(409, "CONFLICT", "segment 'beta-eu' is in use", {
  used_by: [
    { type: "experiment", key: "checkout-redesign" },
    { type: "flag", key: "new-checkout", environment: "staging" },
    { type: "flag", key: "new-checkout", environment: "production" },
    { type: "segment", key: "eu-staff" },
  ],
});

describe("segment uses", () => {
  it("reads details.used_by of a refused delete, and nothing of another error", () => {
    expect(usesOf(refused)).toHaveLength(4);
    expect(usesOf(new ApiError(409, "CONFLICT", "stale", { current_version: 3 }))).toEqual([]);
    expect(usesOf(new ApiError(500, "INTERNAL_ERROR", "internal error"))).toEqual([]);
    expect(usesOf(new Error("offline"))).toEqual([]);
  });

  it("groups a flag's environments and orders flags, segments, experiments, each linked", () => {
    expect(groupUses(usesOf(refused))).toEqual([
      { type: "flag", key: "new-checkout", environments: ["staging", "production"], href: "/flags/new-checkout?env=staging" },
      { type: "segment", key: "eu-staff", environments: [], href: "/segments/eu-staff" },
      { type: "experiment", key: "checkout-redesign", environments: [], href: "/experiments/checkout-redesign" },
    ]);
  });
});
