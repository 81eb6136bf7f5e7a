import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api, unwrap } from "../api/client";
import { Button, Card, CopyButton, Dialog, ErrorBanner, Field, Input } from "../ui";

/** Recovery codes the server has just made: shown this once, with a copy button. `replaced` says the
 * previous ones are void (new codes asked for), as opposed to the first ones of an enrolment. */
export function RecoveryCodesCard({ codes, replaced = false }: { codes: string[]; replaced?: boolean }) {
  return (
    <Card title="Your recovery codes" actions={<CopyButton text={codes.join("\n")} label="Copy codes" />}>
      <p className="mb-3 text-sm text-slate-600">
        {replaced ? <strong className="font-medium text-slate-900">Your old recovery codes no longer work. </strong> : null}
        Each code signs you in once if you lose your phone. Keep them somewhere safe: they are shown only now.
      </p>
      {/* a code is never broken over two lines (it would read as two); ten codes in two columns of five,
          one column only on the narrowest phones */}
      <ul aria-label="Recovery codes" className="grid max-w-md grid-cols-1 gap-2 font-mono text-xs min-[340px]:grid-cols-2 sm:text-sm">
        {codes.map((value) => (
          <li key={value} className="whitespace-nowrap rounded bg-slate-100 px-1.5 py-1 text-center">
            {value}
          </li>
        ))}
      </ul>
    </Card>
  );
}

/** "New recovery codes…": for someone who used up or lost theirs. The server asks for a current code
 * (from the authenticator app, or one unused recovery code), then replaces every recovery code. */
export function NewRecoveryCodes({ onCodes }: { onCodes: (codes: string[]) => void }) {
  const formId = useId();
  const [open, setOpen] = useState(false);
  const [code, setCode] = useState("");
  const regenerate = useMutation({
    mutationFn: async (value: string) =>
      (await unwrap(api.POST("/api/v1/auth/mfa/recovery-codes", { body: { code: value.replace(/\s+/g, "") } }))).data,
    onSuccess: (data) => {
      close();
      onCodes(data.recovery_codes);
    },
  });
  function close() {
    setOpen(false);
    setCode("");
    regenerate.reset();
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    regenerate.mutate(code);
  };
  return (
    <>
      <Button onClick={() => setOpen(true)}>New recovery codes…</Button>
      <Dialog
        open={open}
        title="New recovery codes"
        onClose={close}
        footer={
          <>
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" form={formId} variant="primary" disabled={regenerate.isPending}>
              {regenerate.isPending ? "Making codes…" : "Make new codes"}
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700">
          Ten new codes replace all of your current ones: the old codes stop working, used or not. To confirm it is you, enter a code from
          your authenticator app, or one of your unused recovery codes.
        </p>
        <form id={formId} onSubmit={submit}>
          <CodeField label="Current code (authenticator or recovery code)" value={code} onChange={setCode} />
        </form>
        <ErrorBanner error={regenerate.error} />
      </Dialog>
    </>
  );
}

/** A field for a second-factor code: an authenticator's six digits or a recovery code (only the
 * digits with `digits`: a phone then shows its number pad). */
export function CodeField({
  label,
  value,
  onChange,
  digits = false,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  digits?: boolean;
}) {
  return (
    <Field label={label}>
      {(props) => (
        <Input
          {...props}
          autoComplete="one-time-code"
          inputMode={digits ? "numeric" : undefined}
          required
          minLength={6}
          maxLength={digits ? 10 : 40}
          className="max-w-xs"
          value={value}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
    </Field>
  );
}
