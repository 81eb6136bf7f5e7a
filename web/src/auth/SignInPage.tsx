import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api, ApiError, unwrap } from "../api/client";
import { Button, ErrorBanner, Field, Input } from "../ui";
import { useSession } from "./AuthProvider";

export function SignInPage() {
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
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
      await signIn(email, password);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new Error("cannot reach the server"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-xl bg-white p-6 shadow-md ring-1 ring-slate-200">
        <div className="flex items-center gap-2">
          <img src="/favicon.svg" alt="" className="h-8 w-8" />
          <h1 className="text-lg font-semibold">Sign in to Experimently</h1>
        </div>
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
