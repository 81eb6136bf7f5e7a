import { describe, expect, it } from "vitest";
import { defaultMapping } from "./ServeEditor";

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
