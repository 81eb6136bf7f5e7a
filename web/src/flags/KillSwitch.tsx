import { useState } from "react";
import { Button, Dialog, ErrorBanner, Field, TextArea, Toggle } from "../ui";
import { useSetEnabled, type EnvConfig } from "./api";
import { switchConsequences } from "./status";

/** On/off for one environment. Turning off is the kill switch: confirm, with a reason for the audit.
 * Turning on in a production environment is confirmed too, saying what everyone will get. */
export function KillSwitch({
  flagKey,
  env,
  enabled,
  allowed,
  config,
  variations,
  production,
  unsaved,
}: {
  flagKey: string;
  env: string;
  enabled: boolean;
  allowed: boolean;
  /** the saved configuration of the environment: what the switch turns on */
  config: EnvConfig;
  variations: string[];
  /** the environment is marked production: turning on asks first */
  production: boolean;
  /** the page holds edits not saved yet (the switch does not save them) */
  unsaved: boolean;
}) {
  const mutation = useSetEnabled(flagKey, env);
  const [confirming, setConfirming] = useState<"on" | "off" | null>(null);
  const [reason, setReason] = useState("");
  const close = () => {
    setConfirming(null);
    setReason("");
    mutation.reset();
  };
  const turningOn = confirming === "on";
  return (
    <div className="flex flex-wrap items-center gap-3">
      <Toggle
        checked={enabled}
        label={`Serve targeting in ${env}`}
        disabled={!allowed || mutation.isPending}
        onChange={(on) => (on && !production ? mutation.mutate({ enabled: true }) : setConfirming(on ? "on" : "off"))}
      />
      <span className={`text-sm font-medium ${enabled ? "text-emerald-700" : "text-slate-600"}`}>{enabled ? "On" : "Off"}</span>
      {enabled && allowed ? (
        <Button variant="danger" onClick={() => setConfirming("off")}>
          Kill switch
        </Button>
      ) : null}
      {confirming ? null : <ErrorBanner error={mutation.error} />}
      <Dialog
        open={confirming !== null}
        title={turningOn ? `Turn on in ${env}?` : `Turn off in ${env}?`}
        onClose={close}
        footer={
          <>
            <Button onClick={close}>Cancel</Button>
            <Button
              variant={turningOn ? "primary" : "danger"}
              disabled={(!turningOn && !reason.trim()) || mutation.isPending}
              onClick={() =>
                mutation.mutate(
                  { enabled: turningOn, reason: reason.trim() || undefined },
                  {
                    onSuccess: () => {
                      setConfirming(null);
                      setReason("");
                    },
                  },
                )
              }
            >
              {turningOn ? "Turn on now" : "Turn off now"}
            </Button>
          </>
        }
      >
        <div className="space-y-1 text-sm text-slate-700" data-testid="switch-consequences">
          <p>
            Within seconds, in <strong>{env}</strong>:
          </p>
          <ul className="list-disc space-y-0.5 pl-5">
            {switchConsequences(config, variations, turningOn).map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
          <p className="text-slate-600">
            {turningOn ? "The saved targeting below takes effect; the kill switch turns it off again." : "Targeting is kept; turn it back on at any time."}
          </p>
        </div>
        {unsaved ? (
          <p className="rounded-md bg-amber-50 p-2 text-sm text-amber-900 ring-1 ring-inset ring-amber-600/30">
            You have unsaved changes below: they are not part of this. Save them first if they should apply.
          </p>
        ) : null}
        <ErrorBanner error={mutation.error} />
        <Field label={turningOn ? "Reason (optional, kept in the history)" : "Reason (kept in the history)"}>
          {(p) => <TextArea {...p} rows={2} required={!turningOn} value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
      </Dialog>
    </div>
  );
}
