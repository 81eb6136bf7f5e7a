import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { groupSecret, secretGroups } from "../account/SecurityPage";
import { ApiError, authedFetch, hasAccessToken, onEnrolmentRequired, setAccessToken, signIn, signInMfa } from "../api/client";
import { mfaTokenOf } from "./SignInPage";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("MFA in the console", () => {
  const fetchMock = vi.fn<(input: Request | string, init?: RequestInit) => Promise<Response>>();
  beforeEach(() => {
    vi.stubGlobal("fetch", fetchMock);
    setAccessToken(null);
  });
  afterEach(() => {
    fetchMock.mockReset();
    vi.unstubAllGlobals();
    setAccessToken(null);
  });

  it("MFA_REQUIRED at sign-in yields the token of the second step", async () => {
    fetchMock.mockResolvedValueOnce(
      json(401, { error: { code: "MFA_REQUIRED", message: "a code is needed", details: { mfa_token: "mfa.tok.en" } } }),
    );
    const caught = await signIn("a@example.com", "pw").catch((error: unknown) => error);
    expect(mfaTokenOf(caught)).toBe("mfa.tok.en");
    expect(hasAccessToken()).toBe(false);
    expect(mfaTokenOf(new ApiError(401, "INVALID_CREDENTIALS", "wrong"))).toBeNull();
    expect(mfaTokenOf(new Error("offline"))).toBeNull();
  });

  it("the second step posts the token and the code (spaces removed) and keeps the access token", async () => {
    fetchMock.mockResolvedValueOnce(json(200, { access_token: "access", csrf_token: "c", token_type: "bearer", expires_in: 900 }));
    await signInMfa("mfa.tok.en", "123 456");
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe("/api/v1/auth/session/mfa");
    expect(JSON.parse(String(init?.body))).toEqual({ mfa_token: "mfa.tok.en", code: "123456" });
    expect(hasAccessToken()).toBe(true);
  });

  it("a wrong code is an ApiError and no session", async () => {
    fetchMock.mockResolvedValueOnce(json(401, { error: { code: "INVALID_CREDENTIALS", message: "the code is wrong" } }));
    await expect(signInMfa("mfa.tok.en", "000000")).rejects.toMatchObject({ code: "INVALID_CREDENTIALS" });
    expect(hasAccessToken()).toBe(false);
  });

  it("a 403 MFA_ENROLMENT_REQUIRED tells the shell; another 403 does not", async () => {
    const heard = vi.fn();
    const off = onEnrolmentRequired(heard);
    fetchMock.mockResolvedValueOnce(json(403, { error: { code: "PERMISSION_DENIED", message: "no" } }));
    await authedFetch(new Request("http://console.test/api/v1/segments"));
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(heard).not.toHaveBeenCalled();
    fetchMock.mockResolvedValueOnce(json(403, { error: { code: "MFA_ENROLMENT_REQUIRED", message: "enrol first" } }));
    const response = await authedFetch(new Request("http://console.test/api/v1/segments"));
    await vi.waitFor(() => expect(heard).toHaveBeenCalledTimes(1));
    // the caller still reads the body
    expect((await response.json()).error.code).toBe("MFA_ENROLMENT_REQUIRED");
    off();
  });

  it("groups the secret by four for typing", () => {
    expect(groupSecret("ABCDEFGHIJKLMNOP")).toBe("ABCD EFGH IJKL MNOP");
    expect(groupSecret("ABCDEF")).toBe("ABCD EF");
    // the page keeps each group whole, so it needs them apart
    expect(secretGroups("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).toEqual(["JBSW", "Y3DP", "EHPK", "3PXP", "JBSW", "Y3DP", "EHPK", "3PXP"]);
    expect(secretGroups("ABCDEF")).toEqual(["ABCD", "EF"]);
    expect(secretGroups("")).toEqual([]);
  });
});
