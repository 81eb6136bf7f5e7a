import { describe, expect, it } from "vitest";
import type { ConditionTrace } from "./api";
import { actualNote } from "./ExplainPanel";

const trace = (patch: Partial<ConditionTrace>): ConditionTrace => ({ attribute: "country", operator: "in", values: ["FR"], negate: false, actual: "FR", held: true, ...patch });

describe("actualNote", () => {
  it("shows the user's value of the attribute, or that it was not set", () => {
    expect(actualNote(trace({}))).toBe('(was "FR")');
    expect(actualNote(trace({ actual: 3 }))).toBe("(was 3)");
    expect(actualNote(trace({ actual: null, held: false }))).toBe("(was not set)");
  });

  it("says nothing for a segment condition, held or not: it has no attribute of its own", () => {
    expect(actualNote(trace({ attribute: "", operator: "in_segment", values: ["beta-eu"], actual: null }))).toBeNull();
    expect(actualNote(trace({ attribute: "", operator: "not_in_segment", values: ["beta-eu"], actual: null, held: false }))).toBeNull();
  });
});
