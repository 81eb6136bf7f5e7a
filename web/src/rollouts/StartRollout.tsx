import { useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { toIso } from "../flags/operators";
import { Button, ErrorBanner, Field, Input, Select } from "../ui";
import { useRolloutActions } from "./api";
import { fieldError } from "./safety";

/** Start a guarded rollout in one environment: a percentage now (raised by hand) or a schedule. Fields
 * left empty come from the safety settings. */
export function StartRollout({ flagKey, env, variations, enabled }: { flagKey: string; env: string; variations: string[]; enabled: boolean }) {
  const { start } = useRolloutActions(flagKey);
  // an answer about the flag's state ("the flag is off here") is stale once the flag is switched: drop it
  const { reset } = start;
  useEffect(() => reset(), [enabled, reset]);
  const [variation, setVariation] = useState(variations.find((v) => v === "on") ?? variations[0] ?? "");
  const [mode, setMode] = useState<"manual" | "scheduled">("manual");
  const [percentage, setPercentage] = useState("10");
  const [steps, setSteps] = useState([{ at: "", percentage: 10 }]);
  const [metrics, setMetrics] = useState("");
  const error = (path: string) => fieldError(start.error, path);
  const general = start.error instanceof ApiError && start.error.status === 422 && start.error.fieldErrors.length ? null : start.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    start.reset();
    const guardrails = metrics.split(/[\s,]+/).filter(Boolean);
    start.mutate({
      environment: env,
      variation,
      ...(mode === "manual" ? { percentage: Number(percentage) } : { steps: steps.map((s) => ({ at: toIso(s.at), percentage: s.percentage })) }),
      ...(guardrails.length ? { guardrail_metrics: guardrails } : {}),
    });
  };
  return (
    <form onSubmit={submit} className="space-y-3" aria-label={`Start a guarded rollout in ${env}`}>
      <ErrorBanner error={general} />
      {error("environment") ? (
        <p role="alert" data-field-error className="text-sm text-red-700">
          {error("environment")}
        </p>
      ) : null}
      <div className="grid gap-3 sm:grid-cols-3">
        <Field label="New variation" error={error("variation")}>
          {(p) => (
            <Select {...p} value={variation} onChange={(e) => setVariation(e.target.value)}>
              {variations.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="How it moves">
          {(p) => (
            <Select {...p} value={mode} onChange={(e) => setMode(e.target.value as "manual" | "scheduled")}>
              <option value="manual">by hand, from a percentage now</option>
              <option value="scheduled">on a schedule</option>
            </Select>
          )}
        </Field>
        <Field label="Guardrail metrics" error={error("guardrail_metrics")} hint="Empty: the safety settings'">
          {(p) => <Input {...p} className="font-mono" placeholder="metric keys" value={metrics} onChange={(e) => setMetrics(e.target.value)} />}
        </Field>
      </div>
      {mode === "manual" ? (
        <Field label="Percentage now" error={error("percentage")} className="w-40">
          {(p) => <Input {...p} type="number" min={0} max={100} step="any" value={percentage} onChange={(e) => setPercentage(e.target.value)} />}
        </Field>
      ) : (
        <div className="space-y-2">
          {steps.map((step, i) => (
            <div key={i} className="flex flex-wrap items-center gap-2 text-sm">
              <Input type="datetime-local" aria-label={`Guarded step ${i + 1} time`} className="w-56" required value={step.at} onChange={(e) => setSteps(steps.map((s, j) => (j === i ? { ...s, at: e.target.value } : s)))} />
              <Input
                type="number"
                min={0}
                max={100}
                aria-label={`Guarded step ${i + 1} percentage`}
                className="w-20"
                value={step.percentage}
                onChange={(e) => setSteps(steps.map((s, j) => (j === i ? { ...s, percentage: Number(e.target.value) } : s)))}
              />
              %
            </div>
          ))}
          {error("steps") ? <p role="alert" data-field-error className="text-xs text-red-700">{error("steps")}</p> : null}
          <Button variant="ghost" onClick={() => setSteps([...steps, { at: "", percentage: 100 }])}>
            + Step
          </Button>
        </div>
      )}
      <Button type="submit" variant="primary" disabled={start.isPending}>
        Start guarded rollout
      </Button>
    </form>
  );
}
