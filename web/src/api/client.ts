// The one API client. Request and response types come from src/api/schema.d.ts, generated from the
// server's OpenAPI document (`npm run gen:api`), so the console cannot drift from the server.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export interface FieldError {
  path: string;
  message: string;
}

/** An error envelope from the server: `{"error": {code, message, details}}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  /** the server's id of the request (the envelope's `request_id`, else the `X-Request-ID` header): what
   * support looks up in the logs */
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, requestId: string | null = null) {
    super(cleanMessage(message));
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }

  /** Field errors of a 422 (`details.errors`), each with the path the server names. A create refused
   * because the key (or e-mail) is taken (409 `CONFLICT` naming it in `details`) is an error of that
   * field too: "metric 'x' exists" belongs at the Key field, not in a banner about stale edits. */
  get fieldErrors(): FieldError[] {
    const errors = this.details.errors;
    if (Array.isArray(errors)) return (errors as FieldError[]).map((e) => ({ ...e, message: cleanMessage(String(e.message)) }));
    if (this.status === 409 && this.code === "CONFLICT") {
      for (const field of ["key", "email"]) {
        if (typeof this.details[field] === "string") return [{ path: field, message: this.message }];
      }
    }
    return [];
  }

  /** A 409 for an update that named a version someone else has replaced since (optimistic concurrency). */
  get isStaleVersion(): boolean {
    return this.status === 409 && "current_version" in this.details;
  }
}

/** The server's key patterns (flags, segments, experiments and their variants, metrics: `FLAG_KEY`
 * and `KEY` in src/experimently; environments: `KEY_PATTERN`), in words. */
const KEY_RULE = "Use lower-case letters, digits and dashes (or . and _), starting with a letter or digit";
const PATTERNS: Record<string, string> = {
  "^[a-z0-9][a-z0-9._-]{0,99}$": KEY_RULE,
  "^[a-z0-9][a-z0-9_.-]{0,99}$": KEY_RULE,
  "^[a-z0-9][a-z0-9_-]{0,63}$": "Use lower-case letters, digits and dashes (or _), starting with a letter or digit",
  "\\S": "Must not be blank",
};

/** pydantic prefixes a validator's message with "Value error, " (or "Assertion failed, "): noise to a
 * reader; and its "String should match pattern '^[a-z0-9]…'" says what is allowed only to a regex
 * reader: a known pattern is said in words. */
export function cleanMessage(message: string): string {
  const pattern = /^String should match pattern '(.*)'$/.exec(message)?.[1];
  if (pattern !== undefined && PATTERNS[pattern]) return PATTERNS[pattern];
  return message.replace(/^(Value error|Assertion failed), /, "");
}

export function toApiError(status: number, body: unknown, requestId: string | null = null): ApiError {
  const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string | null } })?.error;
  return new ApiError(
    status,
    error?.code ?? "HTTP_" + status,
    error?.message ?? `request failed (${status})`,
    error?.details ?? {},
    error?.request_id ?? requestId,
  );
}

export const OFFLINE_MESSAGE = "Cannot reach the server. Check your connection and try again.";

/** fetch's own failure (no answer at all): Chromium's "Failed to fetch", Firefox's "NetworkError when
 * attempting to fetch resource.", Safari's "Load failed". */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && /failed to fetch|networkerror|load failed|network request failed/i.test(error.message);
}

/** What a person reads for an error, everywhere the console shows one: the server's message (its code
 * is for programs); for a server fault, that it is the server's and the request id support can find;
 * for no answer at all, that the server cannot be reached. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status < 500) return error.message.charAt(0).toUpperCase() + error.message.slice(1);
    const id = error.requestId ? ` Request id: ${error.requestId}` : "";
    return error.status === 503
      ? `The server is temporarily unavailable. Try again in a moment.${id}`
      : `Something went wrong on the server.${id}`;
  }
  if (isNetworkError(error)) return OFFLINE_MESSAGE;
  if (error instanceof Error) return error.message;
  return String(error);
}

// ---- the session: access token in memory only; the refresh token is an httpOnly cookie ----
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(signedIn: boolean) => void>();

export const CSRF_COOKIE = "experimently_csrf";

export function readCookie(name: string, source: string = document.cookie): string | null {
  for (const part of source.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function setAccessToken(token: string | null): void {
  accessToken = token;
  listeners.forEach((listener) => listener(token !== null));
}

export function hasAccessToken(): boolean {
  return accessToken !== null;
}

export function onSessionChange(listener: (signedIn: boolean) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Trade the refresh cookie for a new access token (one request at a time, shared by callers). */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const csrf = readCookie(CSRF_COOKIE);
    if (!csrf) return false;
    const response = await fetch("/api/v1/auth/session/refresh", {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
    });
    if (!response.ok) {
      setAccessToken(null);
      return false;
    }
    const body = (await response.json()) as { access_token: string };
    setAccessToken(body.access_token);
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** fetch with the bearer token; on a 401 refresh once through the cookie and retry. */
export async function authedFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const send = (request: Request) => {
    if (accessToken) request.headers.set("Authorization", `Bearer ${accessToken}`);
    return fetch(request);
  };
  const response = await send(input);
  if (response.status === 403) void noticeEnrolmentRequired(response.clone());
  if (response.status !== 401 || input.url.includes("/auth/session")) return response;
  // a wrong password (the current one, on a password change) is no expired token: nothing to refresh
  if (await isWrongCredentials(response.clone())) return response;
  return (await refreshSession()) ? send(retry) : response;
}

async function isWrongCredentials(response: Response): Promise<boolean> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
  return body?.error?.code === "INVALID_CREDENTIALS";
}

export const api = createClient<paths>({ fetch: authedFetch });

/** Unwrap an openapi-fetch answer: the data, or an ApiError carrying the server's envelope. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response.status, error, response.headers.get("X-Request-ID"));
  return data as T;
}

// ---- MFA: a 403 MFA_ENROLMENT_REQUIRED sends the person to enrol (the shell listens) ----
const enrolmentListeners = new Set<() => void>();

export function onEnrolmentRequired(listener: () => void): () => void {
  enrolmentListeners.add(listener);
  return () => enrolmentListeners.delete(listener);
}

async function noticeEnrolmentRequired(response: Response): Promise<void> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string } } | null;
  if (body?.error?.code === "MFA_ENROLMENT_REQUIRED") enrolmentListeners.forEach((listener) => listener());
}

async function openSession(path: string, payload: Record<string, string>): Promise<void> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
    credentials: "same-origin",
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw toApiError(response.status, body, response.headers.get("X-Request-ID"));
  setAccessToken(body.access_token);
}

/** First step; with MFA on it throws an ApiError `MFA_REQUIRED` whose `details.mfa_token` goes to
 * {@link signInMfa}. */
export async function signIn(email: string, password: string): Promise<void> {
  await openSession("/api/v1/auth/session", { email, password });
}

/** Second step: the MFA token of the first and a TOTP or recovery code. */
export async function signInMfa(mfaToken: string, code: string): Promise<void> {
  await openSession("/api/v1/auth/session/mfa", { mfa_token: mfaToken, code: code.replace(/\s+/g, "") });
}

/** The server already ended this session (a password change revokes every session of the account,
 * this one included): forget the access token, and the CSRF cookie too, so that a reload does not
 * present the revoked refresh cookie (the server would take that for a stolen token's reuse). */
export function endSession(): void {
  document.cookie = `${CSRF_COOKIE}=; Max-Age=0; path=/; SameSite=Strict`;
  setAccessToken(null);
}

export async function signOut(): Promise<void> {
  const csrf = readCookie(CSRF_COOKIE) ?? "";
  await authedFetch(
    new Request("/api/v1/auth/session/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } }),
  ).catch(() => undefined);
  setAccessToken(null);
}
