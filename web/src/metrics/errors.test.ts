import { describe, expect, it } from "vitest";
import { toApiError } from "../api/client";
import { isConflict } from "../flags/errors";
import { metricFieldErrors } from "./errors";

describe("server errors in the metric editor", () => {
  it("puts a taken key at the Key field, not in the stale-edit banner", () => {
    const error = toApiError(409, { error: { code: "CONFLICT", message: "metric 'revenue' exists", details: { key: "revenue" } } });
    expect(isConflict(error)).toBe(false);
    expect(metricFieldErrors(error).get("key")).toBe("metric 'revenue' exists");
  });

  it("still recognises a stale version as someone else's change", () => {
    const error = toApiError(409, { error: { code: "CONFLICT", message: "metric 'r' changed since version 1", details: { current_version: 2, given_version: 1 } } });
    expect(isConflict(error)).toBe(true);
    expect(metricFieldErrors(error).size).toBe(0);
  });

  it("shows the currency check at the Currency field, without pydantic's prefix", () => {
    const error = toApiError(422, {
      error: {
        code: "VALIDATION_ERROR",
        message: "invalid",
        details: { errors: [{ path: "format", message: 'Value error, currency is required for format type "currency" (an ISO 4217 code such as "EUR")' }] },
      },
    });
    expect(metricFieldErrors(error).get("format.currency")).toBe('currency is required for format type "currency" (an ISO 4217 code such as "EUR")');
    expect(metricFieldErrors(error).has("format")).toBe(false);
  });

  it("strips the prefix from any message the console shows", () => {
    expect(toApiError(422, { error: { code: "VALIDATION_ERROR", message: "Value error, bad thing" } }).message).toBe("bad thing");
  });
});
