import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, authedFetch, cleanMessage, describeError, endSession, hasAccessToken, OFFLINE_MESSAGE, readCookie, setAccessToken, toApiError, unwrap } from "./client";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("the API layer", () => {
  const fetchMock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  beforeEach(() => {
    vi.stubGlobal("fetch", fetchMock);
    document.cookie = "experimently_csrf=csrf-123";
    setAccessToken("old-token");
  });
  afterEach(() => {
    fetchMock.mockReset();
    vi.unstubAllGlobals();
    setAccessToken(null);
  });

  it("reads the CSRF cookie among others", () => {
    expect(readCookie("b", "a=1; b=two%20words; c=3")).toBe("two words");
    expect(readCookie("z", "a=1")).toBeNull();
  });

  it("sends the bearer token from memory", async () => {
    fetchMock.mockResolvedValueOnce(json(200, { data: [] }));
    await authedFetch(new Request("http://console.test/api/v1/segments"));
    const sent = fetchMock.mock.calls[0]![0] as Request;
    expect(sent.headers.get("Authorization")).toBe("Bearer old-token");
  });

  it("on a 401 refreshes through the cookie with the CSRF header, then retries once", async () => {
    fetchMock
      .mockResolvedValueOnce(json(401, { error: { code: "TOKEN_INVALID", message: "expired" } }))
      .mockResolvedValueOnce(json(200, { access_token: "new-token" }))
      .mockResolvedValueOnce(json(200, { data: "ok" }));
    const response = await authedFetch(new Request("http://console.test/api/v1/segments", { method: "POST", body: "{}" }));
    expect(response.status).toBe(200);
    const [, refresh, retried] = fetchMock.mock.calls;
    expect(refresh![0]).toBe("/api/v1/auth/session/refresh");
    expect((refresh![1]!.headers as Record<string, string>)["X-CSRF-Token"]).toBe("csrf-123");
    expect((retried![0] as Request).headers.get("Authorization")).toBe("Bearer new-token");
    expect(await (retried![0] as Request).text()).toBe("{}");
  });

  it("signs out in memory when the refresh is refused", async () => {
    fetchMock
      .mockResolvedValueOnce(json(401, { error: { code: "TOKEN_INVALID", message: "expired" } }))
      .mockResolvedValueOnce(json(401, { error: { code: "TOKEN_INVALID", message: "revoked" } }));
    const response = await authedFetch(new Request("http://console.test/api/v1/segments"));
    expect(response.status).toBe(401);
    expect(hasAccessToken()).toBe(false);
  });

  it("says the server's key patterns in words, at the field (flag, segment, metric, experiment, environment)", () => {
    const error = toApiError(422, {
      error: {
        code: "VALIDATION_ERROR",
        message: "request validation failed",
        details: {
          errors: [
            { path: "key", message: "String should match pattern '^[a-z0-9][a-z0-9._-]{0,99}$'" },
            { path: "variants[0].key", message: "String should match pattern '^[a-z0-9][a-z0-9_.-]{0,99}$'" },
            { path: "reason", message: "String should match pattern '\\S'" },
          ],
        },
      },
    });
    expect(error.fieldErrors.map((e) => e.message)).toEqual([
      "Use lower-case letters, digits and dashes (or . and _), starting with a letter or digit",
      "Use lower-case letters, digits and dashes (or . and _), starting with a letter or digit",
      "Must not be blank",
    ]);
    expect(cleanMessage("String should match pattern '^[a-z0-9][a-z0-9_-]{0,63}$'")).toMatch(/^Use lower-case letters, digits and dashes \(or _\)/);
    // a pattern the console does not know stays as the server said it
    expect(cleanMessage("String should match pattern '^x+$'")).toBe("String should match pattern '^x+$'");
  });

  it("a wrong current password (401 INVALID_CREDENTIALS) is answered as is, without a refresh", async () => {
    fetchMock.mockResolvedValueOnce(json(401, { error: { code: "INVALID_CREDENTIALS", message: "current password is wrong" } }));
    const response = await authedFetch(new Request("http://console.test/api/v1/auth/password", { method: "POST", body: "{}" }));
    expect(response.status).toBe(401);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("INVALID_CREDENTIALS");
    expect(hasAccessToken()).toBe(true);
  });

  it("a session the server ended forgets the token and the CSRF cookie, so a reload does not refresh", () => {
    endSession();
    expect(hasAccessToken()).toBe(false);
    expect(readCookie("experimently_csrf")).toBeNull();
  });

  it("turns an error envelope into an ApiError with field errors", async () => {
    fetchMock.mockResolvedValueOnce(
      json(422, { error: { code: "VALIDATION_ERROR", message: "request validation failed", details: { errors: [{ path: "key", message: "bad" }] } } }),
    );
    const call = unwrap(api.POST("/api/v1/feature-flags", { baseUrl: "http://console.test", body: { key: "Bad Key", name: "x" } }));
    await expect(call).rejects.toBeInstanceOf(ApiError);
    await call.catch((error: ApiError) => {
      expect(error.status).toBe(422);
      expect(error.fieldErrors).toEqual([{ path: "key", message: "bad" }]);
    });
  });

  it("keeps the request id of a server fault, from the envelope or else the header", async () => {
    const failure = () => unwrap(api.GET("/api/v1/segments", { baseUrl: "http://console.test" })).then(() => null, (error: unknown) => error);
    fetchMock.mockResolvedValueOnce(json(500, { error: { code: "INTERNAL_ERROR", message: "internal error", details: {}, request_id: "req-123" } }));
    const fault = await failure();
    expect(fault).toBeInstanceOf(ApiError);
    expect((fault as ApiError).requestId).toBe("req-123");
    fetchMock.mockResolvedValueOnce(new Response(JSON.stringify({}), { status: 502, headers: { "Content-Type": "application/json", "X-Request-ID": "req-456" } }));
    const gateway = await failure();
    expect(gateway).toBeInstanceOf(ApiError);
    expect((gateway as ApiError).requestId).toBe("req-456");
  });
});

describe("describeError", () => {
  it("shows the server's message without its code", () => {
    expect(describeError(toApiError(401, { error: { code: "INVALID_CREDENTIALS", message: "invalid email or password" } }))).toBe("Invalid email or password");
    expect(describeError(toApiError(409, { error: { code: "CONFLICT", message: "segment 'beta-eu' is in use" } }))).toBe("Segment 'beta-eu' is in use");
  });

  it("a server fault says so, with the request id support can find", () => {
    expect(describeError(toApiError(500, { error: { code: "INTERNAL_ERROR", message: "internal error", request_id: "abc-1" } }))).toBe(
      "Something went wrong on the server. Request id: abc-1",
    );
    expect(describeError(toApiError(502, null))).toBe("Something went wrong on the server.");
    expect(describeError(toApiError(503, { error: { code: "SERVICE_UNAVAILABLE", message: "a dependency (redis) is unavailable" } }, "r-9"))).toBe(
      "The server is temporarily unavailable. Try again in a moment. Request id: r-9",
    );
  });

  it("no answer at all: the server cannot be reached", () => {
    expect(describeError(new TypeError("Failed to fetch"))).toBe(OFFLINE_MESSAGE);
    expect(describeError(new TypeError("NetworkError when attempting to fetch resource."))).toBe(OFFLINE_MESSAGE);
    expect(describeError(new TypeError("Load failed"))).toBe(OFFLINE_MESSAGE);
  });

  it("other errors read as their message", () => {
    expect(describeError(new Error("Not saved: 2 fields need attention below."))).toBe("Not saved: 2 fields need attention below.");
    expect(describeError("not found")).toBe("not found");
  });
});
