import { describe, expect, it } from "vitest";
import { ApiError, toApiError } from "../api/client";
import { fieldErrorsFor, isConflict } from "./errors";

describe("server errors in the flag editor", () => {
  it("maps a 422's paths relative to the environment being edited", () => {
    const error = toApiError(422, {
      error: {
        code: "VALIDATION_ERROR",
        message: "flag failed validation",
        details: {
          errors: [
            { path: "environments.production.rules[0].conditions[1].values", message: "'x' is not a version" },
            { path: "environments.production.rules[0].conditions[1].values", message: "second message" },
            { path: "variations", message: "top-level" },
          ],
        },
      },
    });
    const errors = fieldErrorsFor(error, "environments.production.");
    expect(errors.get("rules[0].conditions[1].values")).toBe("'x' is not a version");
    expect(errors.get("variations")).toBe("top-level");
    expect(errors.size).toBe(2);
  });

  it("ignores anything but a 422", () => {
    expect(fieldErrorsFor(new ApiError(409, "CONFLICT", "changed"), "x.").size).toBe(0);
    expect(fieldErrorsFor(new Error("boom"), "x.").size).toBe(0);
  });

  it("recognises a concurrent edit", () => {
    expect(isConflict(toApiError(409, { error: { code: "CONFLICT", message: "m", details: { current_version: 3 } } }))).toBe(true);
    expect(isConflict(toApiError(500, {}))).toBe(false);
  });

  it("falls back when the body is not an envelope", () => {
    const error = toApiError(502, "<html>bad gateway</html>");
    expect(error.code).toBe("HTTP_502");
    expect(error.fieldErrors).toEqual([]);
  });
});
