import { useState } from "react";
import { Badge, Button, Card, ErrorBanner, formatDate, Input, Select } from "../ui";
import { toIso } from "./operators";
import { useScheduleMutations, useSchedules } from "./api";

/** Gradual rollouts: percentages that step up at set times (run by the server's job). */
export function SchedulesPanel({ flagKey, env, variations, allowed }: { flagKey: string; env: string; variations: string[]; allowed: boolean }) {
  const schedules = useSchedules(flagKey);
  const { create, cancel } = useScheduleMutations(flagKey);
  const [variation, setVariation] = useState(variations[0] ?? "");
  const [steps, setSteps] = useState([{ at: "", percentage: 10 }]);
  const mine = (schedules.data ?? []).filter((s) => s.environment === env);
  return (
    <Card title="Rollout schedules">
      <ErrorBanner error={schedules.error ?? create.error ?? cancel.error} />
      {mine.length === 0 ? <p className="text-sm text-slate-500">No schedule in this environment.</p> : null}
      <ul className="space-y-2">
        {mine.map((s) => (
          <li key={s.id} className="rounded-md bg-slate-50 p-2 text-sm ring-1 ring-slate-200">
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-mono">{s.variation}</span>
              <Badge tone={s.status === "active" ? "green" : "gray"}>{s.status}</Badge>
              {s.rollout_id ? <Badge tone="indigo">guarded rollout</Badge> : null}
              {allowed && s.status === "active" && !s.rollout_id ? (
                <Button variant="ghost" className="ml-auto" onClick={() => cancel.mutate(s.id)}>
                  Cancel schedule
                </Button>
              ) : null}
            </div>
            {s.rollout_id && (s.status === "active" || s.status === "paused") ? (
              <p className="mt-1 text-xs text-slate-600">Moved by the guarded rollout above: cancel the rollout to stop it.</p>
            ) : null}
            <ol className="mt-1 text-xs text-slate-600">
              {(s.steps as { at: string; percentage: number }[]).map((step, i) => (
                <li key={i} className={i < s.next_step ? "line-through" : ""}>
                  {formatDate(step.at)} → {step.percentage}%
                </li>
              ))}
            </ol>
          </li>
        ))}
      </ul>
      {allowed ? (
        <form
          className="mt-3 space-y-2 border-t border-slate-100 pt-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate({ environment: env, variation, steps: steps.map((s) => ({ at: toIso(s.at), percentage: s.percentage })) });
          }}
        >
          <div className="flex items-center gap-2 text-sm">
            Roll out
            <Select aria-label="Variation to roll out" className="w-36" value={variation} onChange={(e) => setVariation(e.target.value)}>
              {variations.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </Select>
          </div>
          {steps.map((step, i) => (
            <div key={i} className="flex flex-wrap items-center gap-2 text-sm">
              <Input
                type="datetime-local"
                aria-label={`Step ${i + 1} time`}
                className="w-56"
                required
                value={step.at}
                onChange={(e) => setSteps(steps.map((s, j) => (j === i ? { ...s, at: e.target.value } : s)))}
              />
              <Input
                type="number"
                min={0}
                max={100}
                aria-label={`Step ${i + 1} percentage`}
                className="w-20"
                value={step.percentage}
                onChange={(e) => setSteps(steps.map((s, j) => (j === i ? { ...s, percentage: Number(e.target.value) } : s)))}
              />
              %
            </div>
          ))}
          <div className="flex gap-2">
            <Button variant="ghost" onClick={() => setSteps([...steps, { at: "", percentage: 100 }])}>
              + Step
            </Button>
            <Button type="submit" disabled={create.isPending}>
              Create schedule
            </Button>
          </div>
        </form>
      ) : null}
    </Card>
  );
}
