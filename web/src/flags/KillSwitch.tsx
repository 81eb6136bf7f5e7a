import { useState } from "react";
import { Button, Dialog, ErrorBanner, Field, TextArea, Toggle } from "../ui";
import { useSetEnabled } from "./api";

/** On/off for one environment. Turning off is the kill switch: confirm, with a reason for the audit. */
export function KillSwitch({ flagKey, env, enabled, allowed }: { flagKey: string; env: string; enabled: boolean; allowed: boolean }) {
  const mutation = useSetEnabled(flagKey, env);
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  return (
    <div className="flex flex-wrap items-center gap-3">
      <Toggle
        checked={enabled}
        label={`Serve targeting in ${env}`}
        disabled={!allowed || mutation.isPending}
        onChange={(on) => (on ? mutation.mutate({ enabled: true }) : setConfirming(true))}
      />
      <span className={`text-sm font-medium ${enabled ? "text-emerald-700" : "text-slate-600"}`}>{enabled ? "On" : "Off"}</span>
      {enabled && allowed ? (
        <Button variant="danger" onClick={() => setConfirming(true)}>
          Kill switch
        </Button>
      ) : null}
      <ErrorBanner error={mutation.error} />
      <Dialog
        open={confirming}
        title={`Turn off in ${env}?`}
        onClose={() => setConfirming(false)}
        footer={
          <>
            <Button onClick={() => setConfirming(false)}>Cancel</Button>
            <Button
              variant="danger"
              disabled={!reason.trim() || mutation.isPending}
              onClick={() =>
                mutation.mutate(
                  { enabled: false, reason: reason.trim() },
                  {
                    onSuccess: () => {
                      setConfirming(false);
                      setReason("");
                    },
                  },
                )
              }
            >
              Turn off now
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-600">
          Everyone in <strong>{env}</strong> gets the off variation within seconds. Targeting is kept; turn it back on at any time.
        </p>
        <Field label="Reason (kept in the history)">
          {(p) => <TextArea {...p} rows={2} required value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
      </Dialog>
    </div>
  );
}
