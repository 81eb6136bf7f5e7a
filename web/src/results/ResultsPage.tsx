// The results page of one experiment: /experiments/<key>/results. Every number comes from
// GET /experiments/{key}/results with the settings chosen here (kept in the address, so a link
// shows the same view), formatted for reading with the exact value in a data-value attribute.
import { useEffect, useId, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { Badge, Button, buttonClass, EmptyState, ErrorBanner, formatDate, Input, PageHeader, Select, Spinner, Toggle } from "../ui";
import { canShip } from "../experiments/api";
import { useAggregate, useBreaches, useExperiment, useResults } from "./api";
import { AGGREGATED_STATUSES, AutoPauseBanner, BreachList, PausedBanner, ShippedBanner, WarningBanners } from "./Banners";
import { downloadCsv } from "./csv";
import { guardrailHarms, shipCandidate } from "./harm";
import { ENGINE_NAMES, formatAggregated, formatWait } from "./format";
import { MetricCard, type Role } from "./MetricCard";
import { variantWeights } from "./reasons";
import type { CorrectionChoice, Engine, ResultsSettings } from "./types";

const ENGINES: Engine[] = ["frequentist", "sequential", "bayesian"];
const ENGINE_HINTS: Record<Engine, string> = {
  frequentist: "fixed horizon: read once, at the planned sample",
  sequential: "always valid: look as often as you like",
  bayesian: "chance to win and risk",
};
const CORRECTIONS: { value: CorrectionChoice; label: string }[] = [
  { value: "holm", label: "Holm" },
  { value: "bh", label: "Benjamini-Hochberg" },
  { value: "none", label: "None" },
];

function readSettings(params: URLSearchParams): ResultsSettings {
  const engine = params.get("engine");
  const correction = params.get("correction");
  const win = Number(params.get("win") ?? "0.95");
  const lose = Number(params.get("lose") ?? "0.05");
  return {
    engine: ENGINES.includes(engine as Engine) ? (engine as Engine) : "frequentist",
    cuped: params.get("cuped") === "true",
    correction: CORRECTIONS.some((c) => c.value === correction) ? (correction as CorrectionChoice) : "holm",
    win: Number.isFinite(win) ? win : 0.95,
    lose: Number.isFinite(lose) ? lose : 0.05,
  };
}

function useNow(everyMs = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function EngineSwitch({ value, onChange }: { value: Engine; onChange: (engine: Engine) => void }) {
  const name = useId();
  return (
    <fieldset>
      <legend className="mb-1 text-xs font-medium text-slate-700">Engine</legend>
      <div className="inline-flex flex-wrap rounded-md ring-1 ring-inset ring-slate-300">
        {ENGINES.map((engine) => (
          <label
            key={engine}
            title={ENGINE_HINTS[engine]}
            className={`cursor-pointer px-3 py-1.5 text-sm first:rounded-l-md last:rounded-r-md has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-600 ${
              value === engine ? "bg-indigo-600 font-medium text-white" : "bg-white text-slate-800 hover:bg-slate-50"
            }`}
          >
            <input
              type="radio"
              name={name}
              value={engine}
              checked={value === engine}
              onChange={() => onChange(engine)}
              className="sr-only"
            />
            {ENGINE_NAMES[engine]}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function Thresholds({ settings, onChange }: { settings: ResultsSettings; onChange: (win: number, lose: number) => void }) {
  const [win, setWin] = useState(String(settings.win));
  const [lose, setLose] = useState(String(settings.lose));
  const w = Number(win);
  const l = Number(lose);
  const valid = Number.isFinite(w) && Number.isFinite(l) && l > 0 && l < w && w < 1;
  return (
    <form
      className="flex flex-wrap items-end gap-2"
      onSubmit={(event) => {
        event.preventDefault();
        if (valid) onChange(w, l);
      }}
    >
      <label className="text-xs font-medium text-slate-700">
        Winner at chance ≥
        <Input className="mt-1 w-20" inputMode="decimal" value={win} onChange={(e) => setWin(e.target.value)} aria-label="Win threshold" />
      </label>
      <label className="text-xs font-medium text-slate-700">
        Loser at chance ≤
        <Input className="mt-1 w-20" inputMode="decimal" value={lose} onChange={(e) => setLose(e.target.value)} aria-label="Lose threshold" />
      </label>
      <Button type="submit" disabled={!valid}>
        Apply
      </Button>
      {!valid ? <p className="text-xs text-red-700">Need 0 &lt; lose &lt; win &lt; 1.</p> : null}
    </form>
  );
}

export function ResultsPage() {
  const { key = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const settings = readSettings(params);
  const results = useResults(key, settings);
  const breaches = useBreaches(key);
  const experiment = useExperiment(key);
  const aggregate = useAggregate(key);
  const can = useCan();
  const now = useNow();

  const update = (patch: Partial<ResultsSettings>) => {
    const next = { ...settings, ...patch };
    const query = new URLSearchParams(params);
    query.set("engine", next.engine);
    query.set("cuped", String(next.cuped));
    query.set("correction", next.correction);
    if (next.engine === "bayesian") {
      query.set("win", String(next.win));
      query.set("lose", String(next.lose));
    } else {
      query.delete("win");
      query.delete("lose");
    }
    setParams(query, { replace: true });
  };

  if (results.isPending) return <Spinner label="Loading results" />;
  if (results.isError && !results.data) {
    return (
      <>
        <PageHeader title="Results" />
        <ErrorBanner error={results.error} />
      </>
    );
  }
  const data = results.data.data;
  const meta = results.data.meta ?? {};
  const exp = experiment.data;
  const title = exp?.name ?? data.experiment.key;
  const aggregatedAt = meta.aggregated_at !== undefined ? meta.aggregated_at : data.aggregated_at;
  const status = data.experiment.status;
  // running and paused experiments are aggregated, and completed ones for a while after their end (the
  // server says which: meta.aggregating); an older server only names the statuses
  const aggregating = meta.aggregating ?? AGGREGATED_STATUSES.includes(status);
  const nextRun = aggregating ? (meta.next_aggregation_at ?? null) : null;
  // a completed experiment can still be aggregated by hand: late events from before its end
  const canRefresh = can("experiments:write") && (aggregating || status === "completed");
  const breachList = breaches.data ?? [];
  // the primary metric's one winner, if it has exactly one and harmed no guardrail: offered as the variant to ship
  const harms = guardrailHarms(breachList, data.metrics);
  const candidate = shipCandidate(data.metrics, exp?.primary_metric ?? "", harms);
  const shipHref = exp && canShip(exp) && can("experiments:write", exp.owner_id)
    ? `/experiments/${encodeURIComponent(exp.key)}?ship=${candidate ? encodeURIComponent(candidate) : ""}`
    : null;
  const breachedMetrics = new Set(breachList.map((b) => b.metric_key));
  const primary = exp?.primary_metric ?? data.metrics.find((m) => m.role === "goal")?.metric_key;
  const roleOf = (metricKey: string, role: string): Role =>
    role === "guardrail" ? "guardrail" : metricKey === primary ? "primary" : "secondary";
  const detail = data.correction_detail;
  const correctionLabel =
    settings.correction === "none" || (detail && detail.method === "none")
      ? null
      : settings.correction === "holm"
        ? "Holm-adjusted"
        : "BH-adjusted";
  const levelFallback = data.interval_level ?? 1 - (data.metrics[0]?.alpha ?? 0.05);
  // a variant weighted 0 gets no traffic: its cards say so rather than wait for data
  const weights = variantWeights(exp?.variants);
  const goals = data.metrics.filter((m) => m.role !== "guardrail");
  const guardrails = data.metrics.filter((m) => m.role === "guardrail");

  const goalCards = goals.map((metric) => (
    <MetricCard
      key={metric.metric_key}
      metric={metric}
      role={roleOf(metric.metric_key, metric.role)}
      engine={data.engine}
      series={data.timeseries[metric.metric_key]}
      levelFallback={levelFallback}
      breached={false}
      correctionLabel={correctionLabel}
      weights={weights}
    />
  ));
  // a breached guardrail is the first thing to read
  const guardrailSection = guardrails.length > 0 || breachList.length > 0 ? (
    <section aria-labelledby="guardrails-heading" className="space-y-3" data-testid="guardrails">
      <h2 id="guardrails-heading" className="text-lg font-semibold text-slate-900">
        Guardrails
      </h2>
      <p className="max-w-prose text-sm text-slate-700">
        The guardrail monitor checks these after every aggregation run with the sequential test, once every variant has
        enough units, and {exp?.guardrail_action === "notify" ? "announces" : "pauses the experiment on"} a treatment
        significantly worse than the control.
      </p>
      <BreachList breaches={breachList} />
      {guardrails.map((metric) => (
        <MetricCard
          key={metric.metric_key}
          metric={metric}
          role="guardrail"
          engine={data.engine}
          series={data.timeseries[metric.metric_key]}
          levelFallback={levelFallback}
          breached={breachedMetrics.has(metric.metric_key)}
          correctionLabel={null}
          weights={weights}
        />
      ))}
    </section>
  ) : null;

  return (
    <div className="space-y-4" data-testid="results-page" data-engine={data.engine} data-aggregated-at={aggregatedAt ?? ""}>
      <PageHeader
        title={title}
        actions={
          <>
            <Button onClick={() => downloadCsv(data)}>Export CSV</Button>
            {shipHref ? (
              <Link className={buttonClass()} to={shipHref}>
                {candidate ? `Ship ${candidate}…` : "Ship a variant…"}
              </Link>
            ) : null}
            {canRefresh ? (
              <Button variant="primary" onClick={() => aggregate.mutate()} disabled={aggregate.isPending}>
                {aggregate.isPending ? "Refreshing…" : "Refresh now"}
              </Button>
            ) : null}
          </>
        }
      >
        <span className="flex flex-wrap items-center gap-2">
          <Link className="font-medium text-indigo-700 underline" to={`/experiments/${encodeURIComponent(data.experiment.key)}`}>
            {data.experiment.key}
          </Link>
          <Badge tone={data.experiment.status === "running" ? "green" : data.experiment.status === "paused" ? "amber" : "gray"}>
            {data.experiment.status}
          </Badge>
          <span>
            Results · {Object.entries(data.units).map(([variant, units]) => `${variant} ${units.toLocaleString("en-US")}`).join(" · ")} units
          </span>
        </span>
      </PageHeader>

      <p className="text-sm text-slate-700" data-testid="freshness">
        Last aggregated <strong>{aggregatedAt ? formatDate(aggregatedAt) : "never"}</strong>
        {nextRun ? (
          <>
            {" "}· next run <strong>{formatWait((Date.parse(nextRun) - now) / 1000)}</strong> ({formatDate(nextRun)})
          </>
        ) : null}
        {aggregating && meta.aggregation_interval_seconds ? <> · every {formatWait(meta.aggregation_interval_seconds).replace("in ", "")}</> : null}
        {status === "completed" ? (
          <span data-testid="final-numbers">
            {" "}· completed{meta.ended_at ? <> {formatDate(meta.ended_at)}</> : null}: these numbers count what happened up to the end, nothing after it
            {aggregating && meta.final_after ? (
              <>; events from before the end that arrive late still count until {formatDate(meta.final_after)}</>
            ) : canRefresh ? (
              <>; <strong>Refresh now</strong> brings in any that arrived late</>
            ) : null}
          </span>
        ) : aggregating ? null : status === "draft" || status === "scheduled" ? (
          <> · not aggregated until it starts (aggregation covers running and paused experiments)</>
        ) : (
          <> · no further runs: the experiment is {status}, these numbers are final</>
        )}
        {results.isFetching ? <span className="text-slate-500"> · updating…</span> : null}
        <span role="status" className="text-slate-600">
          {aggregate.isSuccess ? formatAggregated(aggregate.data) : ""}
        </span>
      </p>
      {aggregate.isError ? <ErrorBanner error={aggregate.error} /> : null}
      {results.isError ? <ErrorBanner error={results.error} /> : null}

      <AutoPauseBanner status={exp?.status ?? data.experiment.status} breaches={breachList} experimentKey={data.experiment.key} pause={exp?.pause} />
      <PausedBanner status={exp?.status ?? data.experiment.status} pause={exp?.pause} />
      <ShippedBanner shipped={exp?.shipped} experimentKey={data.experiment.key} />
      <WarningBanners results={data} nextRun={nextRun} now={now} canRefresh={canRefresh} />

      <section aria-label="Analysis settings" className="flex flex-wrap items-end gap-x-6 gap-y-3 rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200">
        <EngineSwitch value={settings.engine} onChange={(engine) => update({ engine })} />
        <div>
          <span className="mb-1 block text-xs font-medium text-slate-700">
            CUPED
          </span>
          <Toggle checked={settings.cuped} onChange={(cuped) => update({ cuped })} label="CUPED variance reduction" />
        </div>
        <label className="text-xs font-medium text-slate-700">
          Correction
          <Select
            className="mt-1 w-48"
            value={settings.correction}
            disabled={settings.engine === "bayesian"}
            title={settings.engine === "bayesian" ? "The Bayesian engine reports no p-value to adjust" : undefined}
            onChange={(e) => update({ correction: e.target.value as CorrectionChoice })}
          >
            {CORRECTIONS.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </Select>
        </label>
        {settings.engine === "bayesian" ? (
          <Thresholds key={`${settings.win}:${settings.lose}`} settings={settings} onChange={(win, lose) => update({ win, lose })} />
        ) : null}
        <div className="basis-full text-xs text-slate-600" data-testid="settings-explained">
          {ENGINE_NAMES[data.engine]}: {ENGINE_HINTS[data.engine]}. Intervals at {Math.round(levelFallback * 100)}%.
          {data.thresholds ? (
            <span data-testid="thresholds" data-win={data.thresholds.win} data-lose={data.thresholds.lose}>
              {" "}A variant wins when its chance to win reaches {Math.round(data.thresholds.win * 100)}% and loses at{" "}
              {Math.round(data.thresholds.lose * 100)}% or below.
            </span>
          ) : null}{" "}
          {detail ? detail.explanation : null}
        </div>
      </section>

      {data.metrics.length === 0 ? (
        <EmptyState title="No metrics">This experiment has no primary, secondary or guardrail metric to analyse.</EmptyState>
      ) : null}

      {breachList.length > 0 ? (
        <>
          {guardrailSection}
          {goalCards}
        </>
      ) : (
        <>
          {goalCards}
          {guardrailSection}
        </>
      )}
    </div>
  );
}

