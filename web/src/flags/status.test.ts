import { describe, expect, it } from "vitest";
import type { EnvConfig } from "./api";
import { describeServe, switchConsequences } from "./status";

const base: EnvConfig = {
  enabled: false,
  off_variation: "off",
  targets: [],
  rules: [],
  fallthrough: { variation: "on" },
  prerequisites: [],
  bucket_by: "user_id",
};
const variations = ["on", "off"];

describe("describeServe", () => {
  it("names a variation, a rollout's shares and an experiment's hand-off", () => {
    expect(describeServe({ variation: "on" }, variations, "off")).toBe("“on”");
    expect(describeServe({ rollout: { variations: [{ variation: "on", weight: 30 }, { variation: "off", weight: 70 }] } }, variations, "off")).toBe(
      "a percentage rollout: 30% “on”, 70% “off”",
    );
    expect(describeServe({ rollout: { variations: [{ variation: "on", weight: 100 }, { variation: "off", weight: 0 }] } }, variations, "off")).toBe(
      "a percentage rollout: 100% “on”",
    );
    expect(describeServe({ experiment: { key: "checkout", variations: {} } }, variations, "off")).toBe(
      "the variation of their variant in experiment “checkout” (those it does not assign get “off”)",
    );
    expect(describeServe(null, variations, "off")).toBe("“on”");
  });
});

describe("switchConsequences", () => {
  it("turning on with rules: the rules' users, then everyone else's fallthrough", () => {
    const config = { ...base, rules: [{ id: "r1", conditions: [], serve: { variation: "on" } }], fallthrough: { variation: "off" } };
    expect(switchConsequences(config, variations, true)).toEqual(["Users matched by a rule get what the rule serves; everyone else gets “off”."]);
  });

  it("turning on without targeting: everyone gets the fallthrough", () => {
    expect(switchConsequences(base, variations, true)).toEqual(["Everyone gets “on”."]);
  });

  it("turning on names individual targets and prerequisites first", () => {
    const config: EnvConfig = {
      ...base,
      targets: [{ variation: "on", values: ["u1", "u2"] }],
      prerequisites: [{ flag: "new-api", variation: "on" }],
      fallthrough: { rollout: { variations: [{ variation: "on", weight: 10 }, { variation: "off", weight: 90 }] } },
    };
    expect(switchConsequences(config, variations, true)).toEqual([
      "Users for whom a prerequisite does not hold (new-api serving “on”) get “off”.",
      "2 individually targeted users get the variation they are targeted with.",
      "Everyone else gets a percentage rollout: 10% “on”, 90% “off”.",
    ]);
  });

  it("turning off: everyone gets the off variation", () => {
    expect(switchConsequences({ ...base, off_variation: "control" }, ["treatment", "control"], false)).toEqual(["Everyone gets “control”."]);
    expect(switchConsequences({ ...base, off_variation: null }, variations, false)).toEqual(["Everyone gets the off variation."]);
  });
});
