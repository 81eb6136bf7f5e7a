import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, OFFLINE_MESSAGE, unwrap } from "../api/client";
import { Button, ErrorBanner, Field, Input } from "../ui";
import { useSession } from "./AuthProvider";

export function SignInPage() {
  const { signIn, signInMfa, notice } = useSession();
  const [email, setEmail] = useState(notice?.email ?? "");
  const [password, setPassword] = useState("");
  // set once the password was right and the account has MFA: the second step asks for a code
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const oidc = useQuery({
    queryKey: ["oidc-config"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/auth/oidc/config"))).data.enabled,
    staleTime: Infinity,
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mfaToken) await signInMfa(mfaToken, code);
      else await signIn(email, password);
    } catch (caught) {
      const token = mfaTokenOf(caught);
      if (token) {
        setMfaToken(token);
        setPassword("");
      } else {
        setError(caught instanceof ApiError ? caught : new Error(OFFLINE_MESSAGE));
        // an expired MFA token: start again from the password
        if (caught instanceof ApiError && caught.code === "TOKEN_INVALID") setMfaToken(null);
      }
      setCode("");
    } finally {
      setBusy(false);
    }
  };

  if (mfaToken) {
    return (
      <main className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
        <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-xl bg-white p-6 shadow-md ring-1 ring-slate-200">
          <div className="flex items-center gap-2">
            <img src="/favicon.svg" alt="" className="h-8 w-8" />
            <h1 className="text-lg font-semibold">Two-step verification</h1>
          </div>
          <p className="text-sm text-slate-600">
            Signing in as <strong>{email}</strong>. Enter the six-digit code from your authenticator app, or one of your
            recovery codes.
          </p>
          <ErrorBanner error={error} />
          <Field label="Code from your authenticator app (or a recovery code)">
            {(props) => (
              <Input
                {...props}
                autoComplete="one-time-code"
                autoFocus
                required
                minLength={6}
                maxLength={40}
                spellCheck={false}
                value={code}
                onChange={(e) => setCode(e.target.value)}
              />
            )}
          </Field>
          <Button type="submit" variant="primary" className="w-full" disabled={busy}>
            {busy ? "Verifying…" : "Verify"}
          </Button>
          <Button
            className="w-full"
            onClick={() => {
              setMfaToken(null);
              setError(null);
            }}
          >
            Back
          </Button>
        </form>
      </main>
    );
  }

  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-xl bg-white p-6 shadow-md ring-1 ring-slate-200">
        <div className="flex items-center gap-2">
          <img src="/favicon.svg" alt="" className="h-8 w-8" />
          <h1 className="text-lg font-semibold">Sign in to Experimently</h1>
        </div>
        {notice && !error ? (
          <div role="status" data-testid="sign-in-notice" className="rounded-md bg-emerald-50 p-3 text-sm text-emerald-900 ring-1 ring-inset ring-emerald-600/30">
            {notice.text}
          </div>
        ) : null}
        <ErrorBanner error={error} />
        <Field label="Email">
          {(props) => (
            <Input {...props} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label="Password">
          {(props) => (
            <Input
              {...props}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <Button type="submit" variant="primary" className="w-full" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </Button>
        {oidc.data ? (
          <a
            href="/api/v1/auth/oidc/start"
            className="block w-full rounded-md px-3 py-1.5 text-center text-sm font-medium text-slate-800 ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
          >
            Sign in with single sign-on
          </a>
        ) : null}
      </form>
    </main>
  );
}

/** The token of the second step when the answer is `MFA_REQUIRED`, otherwise null. */
export function mfaTokenOf(error: unknown): string | null {
  if (!(error instanceof ApiError) || error.code !== "MFA_REQUIRED") return null;
  const token = error.details["mfa_token"];
  return typeof token === "string" ? token : null;
}
