import { describe, expect, it } from "vitest";
import type { StaleFlag } from "../api/types";
import { staleReason } from "./api";

const base: StaleFlag = {
  key: "new-checkout",
  name: "New checkout",
  owner_id: null,
  updated_at: "2026-11-01T00:00:00Z",
  days_unchanged: 35,
  serving: { production: "on" },
  reason: "rolled_out",
  shipped: null,
};

describe("the stale badge's reason", () => {
  it("says a rolled-out flag serves one variation to everyone", () => {
    expect(staleReason(base)).toBe(
      "unchanged for 35 days and serving one variation to everyone: a candidate for removal from the code",
    );
  });

  it("names the experiment, variant and environment a shipped flag came from", () => {
    const row: StaleFlag = {
      ...base,
      serving: { production: null, staging: "off" },
      reason: "shipped",
      shipped: { experiment: "checkout-color", variant: "treatment", environment: "production", at: "2026-11-01T00:00:00Z" },
    };
    expect(staleReason(row)).toBe(
      "unchanged for 35 days since experiment checkout-color shipped treatment in production: serve it to everyone or take the flag out of the code",
    );
  });
});
