import { describe, expect, it } from "vitest";
import { isClientKey, SCOPES, toggleScope } from "./scopes";

describe("key scopes", () => {
  it("offers the client scope with what it is for", () => {
    expect(SCOPES.map((s) => s.scope)).toEqual(["evaluate", "track", "manage", "client"]);
    expect(SCOPES.find((s) => s.scope === "client")?.help).toMatch(/browser SDK.*never rules.*track/);
  });

  it("ticking client unticks evaluate and manage, keeps track", () => {
    expect(toggleScope(["evaluate", "track", "manage"], "client", true)).toEqual({ scopes: ["track", "client"], unticked: ["evaluate", "manage"] });
    expect(toggleScope(["track"], "client", true)).toEqual({ scopes: ["track", "client"], unticked: [] });
  });

  it("ticking evaluate or manage unticks client; track goes with either", () => {
    expect(toggleScope(["track", "client"], "evaluate", true)).toEqual({ scopes: ["evaluate", "track"], unticked: ["client"] });
    expect(toggleScope(["client"], "manage", true)).toEqual({ scopes: ["manage"], unticked: ["client"] });
    expect(toggleScope(["client"], "track", true)).toEqual({ scopes: ["track", "client"], unticked: [] });
  });

  it("unticking removes only that scope", () => {
    expect(toggleScope(["evaluate", "track"], "track", false)).toEqual({ scopes: ["evaluate"], unticked: [] });
  });

  it("never yields a combination the server refuses", () => {
    const all = SCOPES.map((s) => s.scope);
    for (const start of [[], ["evaluate", "track"], ["track", "client"], ["manage"]] as const) {
      for (const scope of all) {
        const { scopes } = toggleScope(start, scope, true);
        if (scopes.includes("client")) expect(scopes.every((s) => s === "client" || s === "track")).toBe(true);
      }
    }
  });

  it("tells a client key", () => {
    expect(isClientKey(["client", "track"])).toBe(true);
    expect(isClientKey(["evaluate", "track"])).toBe(false);
  });
});
