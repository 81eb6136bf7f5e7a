import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { useSession } from "../auth/AuthProvider";
import { Badge, Button, Card, CopyButton, ErrorBanner, Field, Input, PageHeader, Spinner } from "../ui";
import { MAX_LENGTH, MIN_LENGTH, passwordFieldErrors, passwordProblems } from "./password";
import { CodeField, NewRecoveryCodes, RecoveryCodesCard } from "./RecoveryCodes";
import { SessionsCard } from "./SessionsCard";

interface Enrolment {
  otpauth_uri: string;
  secret: string;
  qr_svg: string;
}

/** The secret in groups of four, easier to type into an app by hand. */
export function secretGroups(secret: string): string[] {
  return secret.match(/.{1,4}/g) ?? [];
}

export function groupSecret(secret: string): string {
  return secretGroups(secret).join(" ");
}

export const PASSWORD_CHANGED =
  "Your password was changed. Every session of your account was signed out, this one included: sign in with your new password.";

/** Change one's own password. The server revokes every session of the account, the caller's too, so
 * success ends the session here and the sign-in page says why. */
function ChangePassword() {
  const { sessionEnded, me } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [problems, setProblems] = useState<Map<string, string>>(new Map());
  const change = useMutation({
    mutationFn: async (body: { current_password: string; new_password: string }) =>
      unwrap(api.POST("/api/v1/auth/password", { body })),
    onSuccess: () => sessionEnded(PASSWORD_CHANGED, me?.kind === "user" ? me.label : undefined),
  });
  const server = passwordFieldErrors(change.error);
  const errorAt = (path: string) => problems.get(path) ?? server.get(path);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = passwordProblems({ current, next, confirm });
    setProblems(found);
    if (found.size === 0) change.mutate({ current_password: current, new_password: next });
  };
  return (
    <Card title="Password">
      <p className="mb-3 text-sm text-slate-600">Changing it signs your account out everywhere, here too: you then sign in with the new one.</p>
      <form onSubmit={submit} noValidate className="max-w-sm space-y-3">
        <ErrorBanner error={server.size ? null : change.error} />
        <Field label="Current password" error={errorAt("current_password")}>
          {(props) => (
            <Input {...props} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          )}
        </Field>
        <Field
          label="New password"
          error={errorAt("new_password")}
          hint={`At least ${MIN_LENGTH} characters. A long passphrase of uncommon words is strongest; the server refuses common or guessable ones.`}
        >
          {(props) => (
            <Input
              {...props}
              type="password"
              autoComplete="new-password"
              required
              minLength={MIN_LENGTH}
              maxLength={MAX_LENGTH}
              value={next}
              onChange={(e) => setNext(e.target.value)}
            />
          )}
        </Field>
        <Field label="Confirm the new password" error={errorAt("confirm")}>
          {(props) => (
            <Input {...props} type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
          )}
        </Field>
        <Button type="submit" variant="primary" disabled={change.isPending}>
          {change.isPending ? "Changing…" : "Change password"}
        </Button>
      </form>
    </Card>
  );
}

/** The signed-in person's own security: two-step verification (TOTP: enrol, recovery codes, disable),
 * their sessions, and the password. */
export function SecurityPage() {
  const queryClient = useQueryClient();
  const status = useQuery({
    queryKey: ["mfa-status"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/auth/mfa"))).data,
  });
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  // new codes asked for (not an enrolment's first ones): the card says the old ones are void
  const [codesReplaced, setCodesReplaced] = useState(false);
  const codesCard = useRef<HTMLDivElement>(null);
  const [code, setCode] = useState("");
  const [disableCode, setDisableCode] = useState("");

  const enrol = useMutation({
    mutationFn: async () => (await unwrap(api.POST("/api/v1/auth/mfa/enrol"))).data,
    onSuccess: (data) => {
      setEnrolment(data);
      setRecoveryCodes(null);
    },
  });
  const confirm = useMutation({
    mutationFn: async (value: string) =>
      (await unwrap(api.POST("/api/v1/auth/mfa/confirm", { body: { code: value.replace(/\s+/g, "") } }))).data,
    onSuccess: async (data) => {
      setEnrolment(null);
      setCode("");
      setRecoveryCodes(data.recovery_codes);
      setCodesReplaced(false);
      // whatever was refused before enrolment (403 MFA_ENROLMENT_REQUIRED) may load now
      await queryClient.invalidateQueries();
    },
  });
  const disable = useMutation({
    mutationFn: async (value: string) =>
      unwrap(api.POST("/api/v1/auth/mfa/disable", { body: { code: value.replace(/\s+/g, "") } })),
    onSuccess: async () => {
      setDisableCode("");
      setRecoveryCodes(null);
      await queryClient.invalidateQueries({ queryKey: ["mfa-status"] });
    },
  });

  // new codes appear above the card that asked for them: move there, else a screen reader (or a
  // person scrolled down) would not notice them. Here, after the dialog has closed and returned focus
  // to its button: this parent's effect runs after its children's.
  useEffect(() => {
    if (codesReplaced && recoveryCodes) {
      codesCard.current?.focus();
      codesCard.current?.scrollIntoView?.({ block: "nearest" });
    }
  }, [codesReplaced, recoveryCodes]);
  const newCodes = async (codes: string[]) => {
    setRecoveryCodes(codes);
    setCodesReplaced(true);
    await queryClient.invalidateQueries({ queryKey: ["mfa-status"] });
  };

  if (status.isPending) return <Spinner />;
  if (status.isError) return <ErrorBanner error={status.error} />;
  const mfa = status.data;

  const submitConfirm = (event: FormEvent) => {
    event.preventDefault();
    confirm.mutate(code);
  };
  const submitDisable = (event: FormEvent) => {
    event.preventDefault();
    disable.mutate(disableCode);
  };

  return (
    <div className="max-w-3xl space-y-5">
      <PageHeader title="Account security">Two-step verification (a code from an authenticator app after your password), where you are signed in, and your password.</PageHeader>
      {mfa.required && !mfa.enabled ? (
        <div role="alert" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-inset ring-amber-600/30">
          Your organisation requires two-step verification. Turn it on below to use the rest of the console.
        </div>
      ) : null}

      {recoveryCodes ? (
        <div ref={codesCard} tabIndex={-1} className="rounded-lg focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-600">
          <RecoveryCodesCard codes={recoveryCodes} replaced={codesReplaced} />
        </div>
      ) : null}

      <Card
        title="Two-step verification"
        actions={mfa.enabled ? <Badge tone="green">On</Badge> : <Badge tone="gray">Off</Badge>}
      >
        {mfa.managed_by_identity_provider ? (
          <p className="text-sm text-slate-600">Your sign-in goes through single sign-on: your identity provider handles two-step verification.</p>
        ) : mfa.enabled ? (
          <div className="space-y-3">
            <p className="text-sm text-slate-600">
              On, with {mfa.recovery_codes_left} unused recovery {mfa.recovery_codes_left === 1 ? "code" : "codes"}.
              {mfa.required ? " Your organisation requires it, so it cannot be turned off here." : null}
            </p>
            <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
              <NewRecoveryCodes onCodes={(codes) => void newCodes(codes)} />
              <span className="text-xs text-slate-600">Used some, or lost them? Ten new ones replace them all.</span>
            </div>
            {/* outside the form below: the dialog holds a form of its own, and forms do not nest */}
            {mfa.required ? null : (
              <form onSubmit={submitDisable} className="space-y-3 border-t border-slate-100 pt-3">
                <ErrorBanner error={disable.error} />
                <CodeField label="Code to turn it off (authenticator or recovery code)" value={disableCode} onChange={setDisableCode} />
                <Button type="submit" variant="danger" disabled={disable.isPending}>
                  Turn off two-step verification
                </Button>
              </form>
            )}
          </div>
        ) : enrolment ? (
          <form onSubmit={submitConfirm} className="space-y-4">
            <ol className="list-decimal space-y-1 pl-5 text-sm text-slate-700">
              <li>Scan the QR code with an authenticator app (or type the secret in by hand).</li>
              <li>Enter the six-digit code the app shows to confirm.</li>
            </ol>
            <div className="flex flex-wrap items-start gap-6">
              <img
                src={enrolment.qr_svg}
                alt="QR code of the authenticator secret"
                className="h-44 w-44 rounded bg-white p-2 ring-1 ring-slate-200"
              />
              <div className="min-w-0 space-y-2 text-sm">
                <div className="text-xs font-medium text-slate-700">Secret</div>
                {/* each group is kept whole: a narrow screen wraps between groups, never inside one
                    ("…2A73 K / D3Y" cannot be typed from) */}
                <code data-testid="mfa-secret" data-secret={enrolment.secret} className="block rounded bg-slate-100 px-2 py-1 font-mono">
                  {secretGroups(enrolment.secret).map((group, i) => (
                    <span key={i}>
                      {i > 0 ? " " : null}
                      <span className="whitespace-nowrap" data-group>
                        {group}
                      </span>
                    </span>
                  ))}
                </code>
                <CopyButton text={enrolment.secret} label="Copy secret" />
              </div>
            </div>
            <ErrorBanner error={confirm.error} />
            <CodeField label="Code from your authenticator app" digits value={code} onChange={setCode} />
            <div className="flex gap-2">
              <Button type="submit" variant="primary" disabled={confirm.isPending}>
                Confirm and turn on
              </Button>
              <Button onClick={() => setEnrolment(null)}>Cancel</Button>
            </div>
          </form>
        ) : (
          <div className="space-y-3">
            <p className="text-sm text-slate-600">Off. Turning it on takes a minute with an authenticator app on your phone.</p>
            <ErrorBanner error={enrol.error} />
            <Button variant="primary" onClick={() => enrol.mutate()} disabled={enrol.isPending}>
              Set up two-step verification
            </Button>
          </div>
        )}
      </Card>
      {/* until it turns two-step on, an account that must have it is refused everything outside
          /api/v1/auth/, the sessions too */}
      {mfa.required && !mfa.enabled ? null : <SessionsCard />}
      {mfa.managed_by_identity_provider ? null : <ChangePassword />}
    </div>
  );
}
