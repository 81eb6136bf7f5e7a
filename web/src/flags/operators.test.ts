import { describe, expect, it } from "vitest";
import { changeOperator, OPERATORS, parseScalar, scalarTypeOf, splitList, valueProblem } from "./operators";

describe("operators", () => {
  it("covers the engine's 27 operators once each", () => {
    expect(OPERATORS).toHaveLength(27);
    expect(new Set(OPERATORS.map((o) => o.value)).size).toBe(27);
  });

  it("splits lists on commas and newlines", () => {
    expect(splitList(" FR, DE ,\nIT,, ")).toEqual(["FR", "DE", "IT"]);
  });

  it("parses scalars by the chosen type", () => {
    expect(parseScalar("42", "number")).toBe(42);
    expect(parseScalar("true", "boolean")).toBe(true);
    expect(parseScalar("42", "text")).toBe("42");
    expect(scalarTypeOf([1, 2])).toBe("number");
    expect(scalarTypeOf([1, "a"])).toBe("text");
  });

  it.each([
    [{ attribute: "age", operator: "gt", values: [18] }, null],
    [{ attribute: "age", operator: "gt", values: [] }, "add at least one value"],
    [{ attribute: "v", operator: "semver_gte", values: ["2.1.0"] }, null],
    [{ attribute: "v", operator: "semver_gte", values: ["two"] }, "two is not a version (1.2.3)"],
    [{ attribute: "ip", operator: "in_cidr", values: ["10.0.0.0/8", "2001:db8::/32"] }, null],
    [{ attribute: "ip", operator: "in_cidr", values: ["10.0.0.0/40"] }, "10.0.0.0/40: prefix must be 0-32"],
    [{ attribute: "ip", operator: "in_cidr", values: ["300.1.1.1"] }, "300.1.1.1 is not an IPv4 address"],
    [{ attribute: "d", operator: "before", values: ["2026-01-01T00:00:00Z"] }, null],
    [{ attribute: "d", operator: "after", values: ["soon"] }, "soon is not a date"],
    [{ attribute: "email", operator: "matches", values: ["^a(b"] }, "^a(b is not a valid pattern"],
    [{ attribute: "email", operator: "exists", values: [] }, null],
  ])("checks %j", (condition, problem) => {
    expect(valueProblem(condition)).toBe(problem);
  });

  it("keeps fitting values when the operator changes and drops what no longer applies", () => {
    const text = { attribute: "plan", operator: "in", values: ["pro", "team"], case_insensitive: true };
    expect(changeOperator(text, "not_in")).toEqual({ ...text, operator: "not_in" });
    expect(changeOperator(text, "gt")).toEqual({ attribute: "plan", operator: "gt", values: [] });
    expect(changeOperator({ attribute: "n", operator: "eq", values: ["5"] }, "gte").values).toEqual([5]);
    expect(changeOperator(text, "exists").values).toEqual([]);
    const segment = changeOperator(text, "in_segment");
    expect(segment.attribute).toBe("");
    expect(segment.values).toEqual([]);
  });
});
