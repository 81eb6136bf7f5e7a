import { describe, expect, it } from "vitest";
import { defaultMapping, remap } from "./ServeEditor";

describe("defaultMapping", () => {
  it("serves the control the flag's last variation and the other variants the others in order", () => {
    expect(defaultMapping(["control", "treatment"], ["on", "off"])).toEqual({ control: "off", treatment: "on" });
    expect(defaultMapping(["control", "b", "c"], ["red", "green", "blue"])).toEqual({ control: "blue", b: "red", c: "green" });
    expect(defaultMapping(["control", "b", "c"], ["on", "off"])).toEqual({ control: "off", b: "on", c: "on" });
    expect(defaultMapping(["control", "b"], ["only"])).toEqual({ control: "only", b: "only" });
  });

  it("keeps a mapping already made when its variation still exists", () => {
    expect(defaultMapping(["control", "treatment"], ["on", "off"], { control: "on", treatment: "gone" })).toEqual({ control: "on", treatment: "on" });
  });
});

describe("remap", () => {
  it("sets one variant and keeps only the experiment's present variants", () => {
    const current = { control: "off", treatment: "on", dropped: "on" };
    expect(remap(current, ["control", "treatment", "bold"], "bold", "on")).toEqual({ control: "off", treatment: "on", bold: "on" });
    expect(remap(current, ["control", "treatment"])).toEqual({ control: "off", treatment: "on" });
    expect(remap({}, ["control", "treatment"], "control", "off")).toEqual({ control: "off" });
  });
});
