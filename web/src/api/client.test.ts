import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, authedFetch, hasAccessToken, readCookie, setAccessToken, unwrap } from "./client";

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
});
