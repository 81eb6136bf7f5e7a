import { useEffect, useState } from "react";
import { Badge, Button, Card, ErrorBanner, formatDate, Input, Select } from "../ui";
import { useGuardedRollouts, useRolloutActions, type GuardedRollout } from "./api";
import { GuardrailChart } from "./GuardrailChart";
import { StartRollout } from "./StartRollout";
import { breachLabel, nextStep, rolloutState, stepUnits, type Breach, type ChartMode, type HistoryPoint } from "./progress";

/** The guarded rollouts of a flag in one environment: the current (or last) one in full, older ones
 * as a list. */
export function RolloutPanel({
  flagKey,
  env,
  allowed,
  variations,
  enabled,
}: {
  flagKey: string;
  env: string;
  allowed: boolean;
  variations: string[];
  /** the flag is on in this environment (a rollout needs it on) */
  enabled: boolean;
}) {
  const rollouts = useGuardedRollouts(flagKey);
  const mine = (rollouts.data ?? []).filter((r) => r.environment === env);
  if (rollouts.isPending || (!rollouts.error && mine.length === 0 && !allowed)) return null;
  const [current, ...older] = mine;
  const underWay = current && (current.status === "running" || current.status === "paused");
  return (
    <Card title="Guarded rollout">
      <ErrorBanner error={rollouts.error} />
      {current ? <RolloutView rollout={current} flagKey={flagKey} allowed={allowed} /> : null}
      {allowed && !underWay ? (
        <details className={current ? "mt-4 border-t border-slate-100 pt-3" : ""}>
          <summary className="cursor-pointer text-sm font-medium text-slate-800">{current ? "Start another guarded rollout" : "Start a guarded rollout"}</summary>
          <p className="my-2 text-sm text-slate-600">
            The units served the new variation are compared with those still served the old one after each aggregation; a guardrail breach rolls it back by
            itself. Fields left empty come from the safety settings below.
          </p>
          <StartRollout flagKey={flagKey} env={env} variations={variations} enabled={enabled} />
        </details>
      ) : null}
      {older.length ? (
        <details className="mt-4 text-sm">
          <summary className="cursor-pointer text-slate-700">Earlier guarded rollouts ({older.length})</summary>
          <ul className="mt-2 space-y-1">
            {older.map((r) => (
              <li key={r.id} className="flex flex-wrap items-center gap-2">
                <span className="text-xs text-slate-600">{formatDate(r.created_at)}</span>
                <span className="font-mono text-xs">{r.variation}</span>
                <Badge tone={rolloutState(r).tone}>{rolloutState(r).label}</Badge>
                <span className="text-xs text-slate-600">{r.outcome}</span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </Card>
  );
}

function useNow(every = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(timer);
  }, [every]);
  return now;
}

function RolloutView({ rollout: r, flagKey, allowed }: { rollout: GuardedRollout; flagKey: string; allowed: boolean }) {
  const now = useNow();
  const { cancel, resume, advance } = useRolloutActions(flagKey);
  const [raiseTo, setRaiseTo] = useState("");
  const [mode, setMode] = useState<ChartMode>("absolute");
  const state = rolloutState(r);
  const history = r.history as unknown as HistoryPoint[];
  const breaches = r.breaches as unknown as Breach[];
  const units = stepUnits(r);
  const metrics = [...r.guardrail_metrics, ...(r.success_metric && !r.guardrail_metrics.includes(r.success_metric) ? [r.success_metric] : [])];
  return (
    <div className="space-y-4" data-testid="guarded-rollout" data-state={state.key}>
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <Badge tone={state.tone}>{state.label}</Badge>
        <span>
          new <span className="font-mono">{r.variation}</span> · old <span className="font-mono">{r.control}</span>
        </span>
        <span className="text-xs text-slate-600">
          started {formatDate(r.created_at)} · on a breach: {r.action} · alpha {r.alpha} · {r.min_units} units per group
        </span>
        {allowed && r.status === "paused" ? (
          <Button className="ml-auto" onClick={() => resume.mutate(r.id)}>
            Resume
          </Button>
        ) : null}
        {allowed && (r.status === "running" || r.status === "paused") ? (
          <Button variant="ghost" className={r.status === "paused" ? "" : "ml-auto"} onClick={() => cancel.mutate(r.id)}>
            Stop watching
          </Button>
        ) : null}
      </div>
      <ErrorBanner error={cancel.error ?? resume.error ?? advance.error} />

      {r.status === "rolled_back" ? (
        <div role="alert" data-testid="rollback-reason" className="rounded-md bg-red-50 p-3 text-sm text-red-900 ring-1 ring-inset ring-red-600/30">
          <p className="font-medium">Rolled back automatically {r.ended_at ? `on ${formatDate(r.ended_at)}` : ""}</p>
          <p className="mt-1">{r.outcome?.replace(/^rolled back: /, "")}</p>
          <p className="mt-1 text-xs">The environment serves what it served before the rollout again (a new version of the flag by the system).</p>
        </div>
      ) : r.status === "paused" ? (
        <div role="status" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-inset ring-amber-600/30">
          <p className="font-medium">Paused: the schedule is held and the flag stays at {r.percentage}%.</p>
          <p className="mt-1">{r.outcome?.replace(/^paused: /, "")}</p>
        </div>
      ) : r.status === "released" ? (
        <p className="rounded-md bg-emerald-50 p-3 text-sm text-emerald-900 ring-1 ring-inset ring-emerald-600/30">{r.outcome}</p>
      ) : null}

      <section aria-label="Progress">
        <div className="flex items-center gap-3">
          <div
            role="progressbar"
            aria-label={`Share of units served ${r.variation}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={r.percentage}
            className="h-3 flex-1 overflow-hidden rounded-full bg-slate-200"
          >
            <div className={`h-full ${r.status === "rolled_back" ? "bg-red-400" : "bg-indigo-600"}`} style={{ width: `${r.percentage}%` }} />
          </div>
          <span className="text-right text-sm font-medium tabular-nums">
            {r.status === "rolled_back" ? `reached ${r.percentage}%, now back to ${r.control}` : `${r.percentage}% ${r.variation}`}
          </span>
        </div>
        {r.steps ? (
          <ol className="mt-2 flex flex-wrap gap-2 text-xs" aria-label="Steps">
            {r.steps.map((s, i) => {
              const done = Boolean(s.applied_at);
              const current = done && i === r.step - 1;
              const held = !done && i === r.step && state.key === "held";
              return (
                <li
                  key={i}
                  className={`rounded px-2 py-1 ring-1 ring-inset ${current ? "bg-indigo-50 text-indigo-900 ring-indigo-600/40" : held ? "bg-amber-50 text-amber-900 ring-amber-600/40" : done ? "bg-slate-100 text-slate-700 ring-slate-300" : "text-slate-600 ring-slate-200"}`}
                >
                  <span className="font-medium">{s.percentage}%</span> · {done ? `applied ${formatDate(s.applied_at)}` : held ? "held for traffic" : `planned ${formatDate(s.at)}`}
                </li>
              );
            })}
          </ol>
        ) : null}
        <p className="mt-2 text-sm text-slate-700" data-testid="next-step">
          {nextStep(r, now)}
        </p>
        {allowed && r.status === "running" && !r.steps ? (
          <form
            className="mt-2 flex flex-wrap items-center gap-2 text-sm"
            onSubmit={(e) => {
              e.preventDefault();
              advance.mutate({ id: r.id, percentage: Number(raiseTo) }, { onSuccess: () => setRaiseTo("") });
            }}
          >
            <label className="flex items-center gap-2">
              Raise to
              <Input type="number" min={0} max={100} step="any" className="w-20" required value={raiseTo} onChange={(e) => setRaiseTo(e.target.value)} />%
            </label>
            <Button type="submit" disabled={advance.isPending}>
              Next step
            </Button>
          </form>
        ) : null}
        {r.status === "running" ? (
          <p className="text-xs text-slate-600">
            This step so far: {units.old} units on <span className="font-mono">{r.control}</span>, {units.new} on <span className="font-mono">{r.variation}</span> ({r.min_units} needed in each
            before anything is decided)
            {r.last_check ? ` · last check ${formatDate((r.last_check as { checked_at?: string }).checked_at)}: ${(r.last_check as { status?: string }).status}` : ""}
          </p>
        ) : null}
      </section>

      <section aria-label="Guardrails" className="space-y-2">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h3 className="text-sm font-semibold text-slate-900">Guardrails: new against old, checked after each aggregation</h3>
          <Select aria-label="Chart shows" className="w-52" value={mode} onChange={(e) => setMode(e.target.value as ChartMode)}>
            <option value="absolute">Difference per unit</option>
            <option value="relative">Relative lift (%)</option>
          </Select>
        </div>
        <p className="text-xs text-slate-600">
          The band is the always-valid interval (valid however often it is looked at); a guardrail is breached when it lies entirely on the harmful side of the dashed
          threshold (0: no difference). The test decides on the difference per unit; the relative lift's interval (by the delta method) is wider, most of all at small samples.
        </p>
        <div className={`grid gap-3 ${metrics.length > 1 ? "xl:grid-cols-2" : ""}`}>
          {metrics.map((m) => (
            <GuardrailChart key={m} metric={m} history={history} mode={mode} />
          ))}
        </div>
      </section>

      {breaches.length ? (
        <section aria-label="Breaches">
          <h3 className="mb-1 text-sm font-semibold text-slate-900">Breaches</h3>
          <ul className="space-y-1 text-sm" data-testid="breaches">
            {breaches.map((b, i) => (
              <li key={i} className="rounded-md bg-slate-50 p-2 ring-1 ring-slate-200">
                <span className="font-medium">{breachLabel(b)}</span> <span className="text-xs text-slate-600">{formatDate(b.detected_at)}</span>
                <p className="text-xs text-slate-700">{b.reason}</p>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
