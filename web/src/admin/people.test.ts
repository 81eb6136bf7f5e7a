import { describe, expect, it } from "vitest";
import { asksFirst, canResetTwoStep, mfaResetNotice, savedNotice, twoStep } from "./people";

describe("People: confirmations and feedback", () => {
  const developer = { role: "developer", is_active: true };

  it("asks before granting admin and before deactivating, not otherwise", () => {
    expect(asksFirst({ role: "admin" }, developer)).toBe(true);
    expect(asksFirst({ is_active: false }, developer)).toBe(true);
    expect(asksFirst({ role: "viewer" }, developer)).toBe(false);
    expect(asksFirst({ role: "developer" }, { role: "admin", is_active: true })).toBe(false);
    expect(asksFirst({ is_active: true }, { role: "viewer", is_active: false })).toBe(false);
  });

  it("says what was saved", () => {
    expect(savedNotice("ana@example.com", { role: "analyst" })).toBe("Saved: ana@example.com is now an analyst.");
    expect(savedNotice("ana@example.com", { role: "viewer" })).toBe("Saved: ana@example.com is now a viewer.");
    expect(savedNotice("ana@example.com", { role: "admin" })).toBe("Saved: ana@example.com is now an admin.");
    expect(savedNotice("ana@example.com", { is_active: false })).toMatch(/deactivated, signed out everywhere, and their API keys stop working/);
    expect(savedNotice("ana@example.com", { is_active: true })).toBe("Saved: ana@example.com is active again and can sign in.");
  });

  it("two-step: on or off as the list says, reset offered for others who have it on, to admins", () => {
    expect(twoStep({ mfa_enabled: true })).toBe("on");
    expect(twoStep({ mfa_enabled: false })).toBe("off");
    expect(twoStep({})).toBe("off");
    const ana = { id: "ana", mfa_enabled: true };
    expect(canResetTwoStep(ana, "me", true)).toBe(true);
    expect(canResetTwoStep(ana, "me", false)).toBe(false);
    expect(canResetTwoStep(ana, "ana", true)).toBe(false);
    expect(canResetTwoStep({ id: "bo", mfa_enabled: false }, "me", true)).toBe(false);
    expect(mfaResetNotice("ana@example.com")).toMatch(/ana@example\.com.*password alone and must set it up again/);
  });
});
