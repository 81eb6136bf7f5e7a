import { useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { Button, ErrorBanner, Field, Input, Select } from "../ui";
import { useMetricKeys, useSaveSafetySettings, type SafetySettings } from "./api";
import { draftOf, fieldError, inheritedText, toBody, type Draft } from "./safety";
import { formatDuration } from "./progress";

/** The fields of a safety-settings document (an environment's, or a flag's override there). Empty
 * fields are inherited: from `inherited` (shown as placeholders), else the server's defaults. */
export function SafetyForm({
  env,
  flagKey,
  settings,
  inherited,
  editable,
}: {
  env: string;
  flagKey?: string;
  settings: SafetySettings;
  inherited?: SafetySettings | undefined;
  editable: boolean;
}) {
  const save = useSaveSafetySettings(env, flagKey);
  const metrics = useMetricKeys();
  const [draft, setDraft] = useState<Draft>(() => draftOf(settings));
  const [saved, setSaved] = useState(false);
  useEffect(() => setDraft(draftOf(settings)), [settings]);
  const set = (patch: Partial<Draft>) => {
    setSaved(false);
    setDraft({ ...draft, ...patch });
  };
  const error = (path: string) => fieldError(save.error, path);
  const general = save.error instanceof ApiError && save.error.status === 422 && save.error.fieldErrors.length ? null : save.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate(toBody(draft, settings.version), { onSuccess: () => setSaved(true) });
  };
  const known = metrics.data ?? [];
  const wait = Number(draft.max_wait_seconds);
  return (
    <form onSubmit={submit} className="space-y-3" aria-label={flagKey ? `Safety settings of ${flagKey} in ${env}` : `Safety settings of ${env}`}>
      <ErrorBanner error={general} />
      <fieldset disabled={!editable} className="space-y-3">
        <Field label="Guardrail metrics" error={error("guardrail_metrics")} hint={inherited ? `Empty: the environment's (${inheritedText(inherited.guardrail_metrics, "none")})` : "Watched by every guarded rollout that names none"}>
          {(p) => <Input {...p} className="font-mono" placeholder="metric keys, comma-separated" list={`metric-keys-${env}`} value={draft.guardrail_metrics} onChange={(e) => set({ guardrail_metrics: e.target.value })} />}
        </Field>
        <datalist id={`metric-keys-${env}`}>
          {known.map((k) => (
            <option key={k} value={k} />
          ))}
        </datalist>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Success metric (reported, never acted on)" error={error("success_metric")}>
            {(p) => <Input {...p} className="font-mono" placeholder={inherited ? inheritedText(inherited.success_metric, "none") : "none"} value={draft.success_metric} onChange={(e) => set({ success_metric: e.target.value })} />}
          </Field>
          <Field label="On a breach" error={error("action")}>
            {(p) => (
              <Select {...p} value={draft.action} onChange={(e) => set({ action: e.target.value as Draft["action"] })}>
                <option value="">{inherited ? `inherit (${inheritedText(inherited.action, "rollback")})` : "default (rollback)"}</option>
                <option value="rollback">roll back</option>
                <option value="pause">pause</option>
                <option value="notify">notify only</option>
              </Select>
            )}
          </Field>
          <Field label="Minimum units per group" error={error("min_units")} hint="Before anything is decided, and before a scheduled step moves on">
            {(p) => <Input {...p} type="number" inputMode="numeric" placeholder={inherited ? inheritedText(inherited.min_units, "server default") : "server default"} value={draft.min_units} onChange={(e) => set({ min_units: e.target.value })} />}
          </Field>
          <Field label="Alpha (false-rollback budget)" error={error("alpha")}>
            {(p) => <Input {...p} type="number" step="any" placeholder={inherited ? inheritedText(inherited.alpha, "server default") : "server default"} value={draft.alpha} onChange={(e) => set({ alpha: e.target.value })} />}
          </Field>
          <Field
            label="Maximum wait for traffic (seconds)"
            error={error("max_wait_seconds")}
            hint={draft.max_wait_seconds && Number.isFinite(wait) && wait > 0 ? `= ${formatDuration(wait * 1000)}, then the rollout pauses` : "Empty: a held step waits until the traffic comes"}
          >
            {(p) => <Input {...p} type="number" inputMode="numeric" placeholder={inherited ? inheritedText(inherited.max_wait_seconds, "no limit") : "no limit"} value={draft.max_wait_seconds} onChange={(e) => set({ max_wait_seconds: e.target.value })} />}
          </Field>
        </div>
      </fieldset>
      {editable ? (
        <div className="flex items-center gap-3">
          <Button type="submit" variant="primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save safety settings"}
          </Button>
          {saved ? (
            <span role="status" className="text-sm text-emerald-800">
              Saved (version {settings.version})
            </span>
          ) : null}
        </div>
      ) : (
        <p className="text-xs text-slate-600" data-testid="safety-read-only">
          Read only: your role cannot change these settings.
        </p>
      )}
    </form>
  );
}
