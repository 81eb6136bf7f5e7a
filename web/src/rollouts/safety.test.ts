import { describe, expect, it } from "vitest";
import { toApiError } from "../api/client";
import { draftOf, fieldError, inheritedText, toBody } from "./safety";

const empty = {
  environment: "production",
  flag_key: null,
  guardrail_metrics: [],
  success_metric: null,
  min_units: null,
  alpha: null,
  action: null,
  max_wait_seconds: null,
  version: 0,
  updated_at: null,
};

describe("the safety-settings form", () => {
  it("sends empty fields as inherited and numbers as numbers, with the version read", () => {
    const draft = { ...draftOf(empty), guardrail_metrics: "errors, latency ,", min_units: "200", max_wait_seconds: "3600" };
    expect(toBody(draft, 0)).toEqual({
      guardrail_metrics: ["errors", "latency"],
      success_metric: null,
      min_units: 200,
      alpha: null,
      action: null,
      max_wait_seconds: 3600,
      version: null,
    });
    expect(toBody(draftOf({ ...empty, alpha: 0.01, action: "pause", version: 3 }), 3)).toMatchObject({ alpha: 0.01, action: "pause", version: 3 });
  });

  it("round-trips what the server returned", () => {
    const saved = { ...empty, guardrail_metrics: ["errors"], min_units: 50, max_wait_seconds: 600, version: 2 };
    expect(draftOf(saved)).toEqual({ guardrail_metrics: "errors", success_metric: "", min_units: "50", alpha: "", action: "", max_wait_seconds: "600" });
  });

  it("finds a 422's message at its field", () => {
    const error = toApiError(422, {
      error: { code: "VALIDATION_ERROR", message: "invalid", details: { errors: [{ path: "max_wait_seconds", message: "Input should be greater than or equal to 60" }, { path: "guardrail_metrics", message: "no such metric: nope" }] } },
    });
    expect(fieldError(error, "max_wait_seconds")).toMatch(/greater than or equal to 60/);
    expect(fieldError(error, "guardrail_metrics")).toBe("no such metric: nope");
    expect(fieldError(error, "alpha")).toBeUndefined();
    expect(fieldError(new Error("x"), "alpha")).toBeUndefined();
  });
});

describe("inheritedText", () => {
  it("names the fallback when nothing is inherited, a list or a value otherwise", () => {
    // an environment without guardrail metrics read "Empty: the environment's ()"
    expect(inheritedText([], "none")).toBe("none");
    expect(inheritedText(["errors", "latency"], "none")).toBe("errors, latency");
    expect(inheritedText(null, "server default")).toBe("server default");
    expect(inheritedText(undefined, "no limit")).toBe("no limit");
    expect(inheritedText("", "none")).toBe("none");
    expect(inheritedText(0.05, "server default")).toBe("0.05");
    expect(inheritedText(0, "no limit")).toBe("0");
  });
});
