import { describe, expect, it } from "vitest";
import { creatorLabel, keyExpiry } from "./keys";

describe("API keys: expiry and creator", () => {
  const now = Date.parse("2030-06-01T12:00:00Z");

  it("a key without an expiry never expires; one with a past date has expired", () => {
    expect(keyExpiry(null, now)).toEqual({ never: true, expired: false });
    expect(keyExpiry(undefined, now)).toEqual({ never: true, expired: false });
    expect(keyExpiry("2030-07-01T00:00:00Z", now)).toEqual({ never: false, expired: false });
    expect(keyExpiry("2030-05-01T00:00:00Z", now)).toEqual({ never: false, expired: true });
  });

  it("names the creator by email when the people list has them, else by id", () => {
    const people = [{ id: "u-1", email: "ana@example.com" }];
    expect(creatorLabel("u-1", people)).toBe("ana@example.com");
    expect(creatorLabel("u-2", people)).toBe("u-2");
    // a viewer who may not list people: the id
    expect(creatorLabel("u-1", undefined)).toBe("u-1");
    expect(creatorLabel(null, people)).toBeNull();
  });
});
