import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { ConditionBuilder } from "../flags/ConditionBuilder";
import { isConflict } from "../flags/errors";
import type { Condition } from "../flags/operators";
import { slug } from "../experiments/wizard";
import { useSegments } from "../segments/api";
import { Badge, Button, Card, Chart, ErrorBanner, Field, Input, PageHeader, Select, Spinner, TextArea, type ChartOptions } from "../ui";
import { metricFieldErrors } from "./errors";
import { defaultFormat, useMetric, useMetricMutations, useSeries, useUsage, type FormatType, type Metric, type MetricFormat } from "./api";

const KINDS: { value: Metric["kind"]; label: string }[] = [
  { value: "binomial", label: "conversion (binomial): did the user send the event?" },
  { value: "count", label: "count: how many events per user" },
  { value: "sum", label: "sum: total of the event's value per user" },
  { value: "mean", label: "mean: average of the event's value per user" },
  { value: "ratio", label: "ratio: numerator over denominator event" },
];

interface MetricDraft {
  key: string;
  name: string;
  description: string;
  kind: Metric["kind"];
  event_name: string;
  numerator_aggregation: "count" | "sum";
  denominator_event: string;
  denominator_aggregation: "count" | "sum";
  conditions: Condition[];
  attribution_window_hours: string;
  direction: "higher" | "lower";
  winsorize_cap: string;
  cuped_pre_window_days: string;
  format: MetricFormat;
  formatEdited: boolean;
}

function draftOf(metric: Metric | undefined): MetricDraft {
  const kind = metric?.kind ?? "binomial";
  return {
    key: metric?.key ?? "",
    name: metric?.name ?? "",
    description: metric?.description ?? "",
    kind,
    event_name: metric?.event_name ?? "",
    numerator_aggregation: metric?.numerator_aggregation ?? "count",
    denominator_event: metric?.denominator_event ?? "",
    denominator_aggregation: metric?.denominator_aggregation ?? "count",
    conditions: (metric?.conditions ?? []) as unknown as Condition[],
    attribution_window_hours: metric?.attribution_window_hours ? String(metric.attribution_window_hours) : "",
    direction: metric?.direction ?? "higher",
    winsorize_cap: metric?.winsorize_cap ? String(metric.winsorize_cap) : "",
    cuped_pre_window_days: String(metric?.cuped_pre_window_days ?? 14),
    format: metric?.format ?? defaultFormat(kind),
    formatEdited: false,
  };
}

const optionalNumber = (text: string): number | null => (text.trim() === "" ? null : Number(text));

/** The body for create or update. A format left at the kind's default is not sent: the server applies
 * its default, so a later change of kind changes the format with it. */
function bodyOf(draft: MetricDraft): Record<string, unknown> {
  const ratio = draft.kind === "ratio";
  const body: Record<string, unknown> = {
    name: draft.name,
    description: draft.description,
    kind: draft.kind,
    event_name: draft.event_name,
    numerator_aggregation: draft.numerator_aggregation,
    conditions: draft.conditions,
    attribution_window_hours: optionalNumber(draft.attribution_window_hours),
    direction: draft.direction,
    winsorize_cap: optionalNumber(draft.winsorize_cap),
    cuped_pre_window_days: optionalNumber(draft.cuped_pre_window_days) ?? 0,
  };
  if (ratio) {
    body.denominator_event = draft.denominator_event || null;
    body.denominator_aggregation = draft.denominator_aggregation;
  }
  if (draft.formatEdited) {
    const f = draft.format;
    body.format = {
      type: f.type,
      currency: f.type === "currency" ? f.currency : null,
      duration_unit: f.type === "duration" ? f.duration_unit : null,
      decimals: f.decimals,
    };
  }
  return body;
}

const DAY = 86_400;

function Preview({ metricKey }: { metricKey: string }) {
  const series = useSeries(metricKey, 14);
  // every one of the 14 UTC days, a day without events at zero (the API lists only days with events)
  const data = useMemo(() => {
    const byDay = new Map((series.data ?? []).map((p) => [p.day, p]));
    const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
    const days = Array.from({ length: 14 }, (_, i) => today - (13 - i) * DAY);
    const at = (t: number) => byDay.get(new Date(t * 1000).toISOString().slice(0, 10));
    return [days, days.map((t) => at(t)?.units ?? 0), days.map((t) => at(t)?.events ?? 0)] as [number[], number[], number[]];
  }, [series.data]);
  const options = useMemo<ChartOptions>(
    () => ({
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      series: [
        {},
        { label: "users", stroke: "#4f46e5", width: 2, points: { show: true } },
        { label: "events", stroke: "#059669", width: 2, dash: [6, 4], points: { show: true } },
      ],
      axes: [{}, { label: "per day" }],
      legend: { show: true },
    }),
    [],
  );
  if (series.isPending) return <Spinner label="Loading the last 14 days" />;
  if (series.error) return <ErrorBanner error={series.error} />;
  const total = (series.data ?? []).reduce((sum, p) => sum + p.events, 0);
  return (
    <>
      {total === 0 ? (
        <p className="text-sm text-slate-600">No event of this metric in the last 14 days (its conditions applied).</p>
      ) : (
        <Chart options={options} data={data} height={220} label={`Users and events a day of metric ${metricKey} over the last 14 days`} />
      )}
      <p className="mt-2 text-xs text-slate-600">
        {total.toLocaleString()} events in 14 days. Daily distinct users who sent the event (solid) and events (dashed), the
        metric's conditions applied, UTC days.
      </p>
    </>
  );
}

function UsedBy({ metricKey }: { metricKey: string }) {
  const usage = useUsage(metricKey);
  if (usage.isPending) return <Spinner />;
  if (usage.error) return <ErrorBanner error={usage.error} />;
  if (!usage.data?.length) return <p className="text-sm text-slate-600">No experiment or rollout uses this metric.</p>;
  return (
    <ul className="space-y-1 text-sm">
      {usage.data.map((u, i) => (
        <li key={i} className="flex flex-wrap items-center gap-2">
          {u.flag_key ? (
            <Link className="text-indigo-700 hover:underline" to={`/flags/${u.flag_key}`}>
              rollout of flag {u.flag_key}
            </Link>
          ) : (
            <Link className="text-indigo-700 hover:underline" to={`/experiments/${u.experiment_key}`}>
              {u.experiment_name || u.experiment_key}
            </Link>
          )}
          <Badge tone={u.role === "primary" ? "indigo" : u.role.includes("guardrail") ? "amber" : "gray"}>{u.role.replace("_", " ")}</Badge>
          {u.status ? <span className="text-xs text-slate-600">{u.status}</span> : null}
        </li>
      ))}
    </ul>
  );
}

export function MetricEditorPage() {
  const { key } = useParams();
  const isNew = key === undefined;
  const metric = useMetric(key);
  const segments = useSegments();
  const { create, update } = useMetricMutations();
  const navigate = useNavigate();
  const can = useCan();
  const [draft, setDraft] = useState<MetricDraft>(() => draftOf(undefined));
  const [keyEdited, setKeyEdited] = useState(false);
  useEffect(() => {
    if (metric.data) setDraft(draftOf(metric.data));
  }, [metric.data]);
  const set = <K extends keyof MetricDraft>(field: K, value: MetricDraft[K]) => setDraft((d) => ({ ...d, [field]: value }));
  const setFormat = (patch: Partial<MetricFormat>) => setDraft((d) => ({ ...d, format: { ...d.format, ...patch }, formatEdited: true }));

  if (!isNew && metric.isPending) return <Spinner />;
  if (!isNew && !metric.data) return <ErrorBanner error={metric.error} />;
  const canWrite = isNew ? can("metrics:write") : can("metrics:write", metric.data?.owner_id);
  const mutation = isNew ? create : update;
  const errors = metricFieldErrors(mutation.error);
  const errorAt = (path: string) => errors.get(path);
  const save = (event: FormEvent) => {
    event.preventDefault();
    const body = bodyOf(draft);
    if (isNew) create.mutate({ key: draft.key, ...body }, { onSuccess: (m) => navigate(`/metric-definitions/${m.key}`) });
    else if (metric.data) update.mutate({ key: metric.data.key, version: metric.data.version, ...body });
  };
  const generic = isConflict(mutation.error)
    ? new Error("Changed by someone else: reload the page (your edit is kept until then).")
    : errors.size
      ? null
      : mutation.error;
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/metric-definitions" className="text-indigo-700 hover:underline">
          Metrics
        </Link>
      </nav>
      <PageHeader title={isNew ? "New metric" : (metric.data?.name ?? "")}>
        {isNew ? "Define what is counted per user." : <><span className="font-mono">{metric.data?.key}</span> · version {metric.data?.version}</>}
      </PageHeader>
      <div className="grid gap-4 xl:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]">
        <form onSubmit={save} className="min-w-0 space-y-4" aria-label="Metric definition">
          <ErrorBanner error={generic} />
          <Card title="Definition">
            <fieldset disabled={!canWrite} className="grid grid-cols-1 gap-3 sm:grid-cols-2">
              <Field label="Name" error={errorAt("name")}>
                {(p) => (
                  <Input
                    {...p}
                    required
                    value={draft.name}
                    onChange={(e) => {
                      const name = e.target.value;
                      setDraft((d) => ({ ...d, name, key: isNew && !keyEdited ? slug(name) : d.key }));
                    }}
                  />
                )}
              </Field>
              <Field label="Key" hint={isNew ? "Experiments name the metric by it; cannot change later." : undefined} error={errorAt("key")}>
                {(p) => (
                  <Input
                    {...p}
                    required
                    className="font-mono"
                    disabled={!isNew}
                    value={draft.key}
                    onChange={(e) => {
                      setKeyEdited(true);
                      set("key", e.target.value);
                    }}
                  />
                )}
              </Field>
              <Field label="Kind" className="sm:col-span-2" error={errorAt("kind")}>
                {(p) => (
                  <Select
                    {...p}
                    value={draft.kind}
                    onChange={(e) => {
                      const kind = e.target.value as Metric["kind"];
                      setDraft((d) => ({ ...d, kind, format: d.formatEdited ? d.format : defaultFormat(kind) }));
                    }}
                  >
                    {KINDS.map((k) => (
                      <option key={k.value} value={k.value}>
                        {k.label}
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
              <Field label={draft.kind === "ratio" ? "Numerator event" : "Event"} hint="The event name applications track" error={errorAt("event_name")}>
                {(p) => <Input {...p} required className="font-mono" value={draft.event_name} onChange={(e) => set("event_name", e.target.value)} />}
              </Field>
              {draft.kind === "ratio" ? (
                <>
                  <Field label="Numerator adds up" error={errorAt("numerator_aggregation")}>
                    {(p) => (
                      <Select {...p} value={draft.numerator_aggregation} onChange={(e) => set("numerator_aggregation", e.target.value as "count" | "sum")}>
                        <option value="count">events (count)</option>
                        <option value="sum">values (sum)</option>
                      </Select>
                    )}
                  </Field>
                  <Field label="Denominator event" error={errorAt("denominator_event") ?? errorAt("")}>
                    {(p) => <Input {...p} className="font-mono" value={draft.denominator_event} onChange={(e) => set("denominator_event", e.target.value)} />}
                  </Field>
                  <Field label="Denominator adds up" error={errorAt("denominator_aggregation")}>
                    {(p) => (
                      <Select {...p} value={draft.denominator_aggregation} onChange={(e) => set("denominator_aggregation", e.target.value as "count" | "sum")}>
                        <option value="count">events (count)</option>
                        <option value="sum">values (sum)</option>
                      </Select>
                    )}
                  </Field>
                </>
              ) : null}
              <Field label="Better when it is" error={errorAt("direction")}>
                {(p) => (
                  <Select {...p} value={draft.direction} onChange={(e) => set("direction", e.target.value as "higher" | "lower")}>
                    <option value="higher">higher</option>
                    <option value="lower">lower</option>
                  </Select>
                )}
              </Field>
              <Field label="Description" className="sm:col-span-2" error={errorAt("description")}>
                {(p) => <TextArea {...p} rows={2} value={draft.description} onChange={(e) => set("description", e.target.value)} />}
              </Field>
            </fieldset>
          </Card>
          <Card title="Which events count (property conditions, all must hold)">
            <ConditionBuilder
              conditions={draft.conditions}
              onChange={(conditions) => set("conditions", conditions)}
              segments={(segments.data ?? []).map((s) => s.key)}
              errorAt={errorAt}
              basePath="conditions"
              emptyText="No conditions: every event of this name counts."
              disabled={!canWrite}
            />
            <p className="mt-2 text-xs text-slate-600">
              Conditions test the event's properties. Metrics support equals, is one of (and their negations), the number
              comparisons and is set / is not set; the server names any other at its condition.
            </p>
          </Card>
          <Card title="Window, outliers and variance reduction">
            <fieldset disabled={!canWrite} className="grid grid-cols-1 gap-3 sm:grid-cols-3">
              <Field label="Attribution window (hours)" hint="After first exposure; empty: until now" error={errorAt("attribution_window_hours")}>
                {(p) => <Input {...p} type="number" min={1} step={1} value={draft.attribution_window_hours} onChange={(e) => set("attribution_window_hours", e.target.value)} />}
              </Field>
              <Field label="Winsorize at (cap per user)" hint="Empty: no cap" error={errorAt("winsorize_cap")}>
                {(p) => <Input {...p} type="number" min={0} step="any" value={draft.winsorize_cap} onChange={(e) => set("winsorize_cap", e.target.value)} />}
              </Field>
              <Field label="CUPED pre-period (days)" hint="0: no CUPED" error={errorAt("cuped_pre_window_days")}>
                {(p) => <Input {...p} type="number" min={0} max={365} step={1} value={draft.cuped_pre_window_days} onChange={(e) => set("cuped_pre_window_days", e.target.value)} />}
              </Field>
            </fieldset>
          </Card>
          <Card title="How values read">
            <fieldset disabled={!canWrite} className="grid grid-cols-1 gap-3 sm:grid-cols-4">
              <Field label="Format" error={errorAt("format.type") ?? (draft.format.type === "currency" || draft.format.type === "duration" ? undefined : errorAt("format"))}>
                {(p) => (
                  <Select {...p} value={draft.format.type} onChange={(e) => setFormat({ type: e.target.value as FormatType })}>
                    <option value="percent">percent</option>
                    <option value="count">count</option>
                    <option value="number">number</option>
                    <option value="currency">currency</option>
                    <option value="duration">duration</option>
                  </Select>
                )}
              </Field>
              {draft.format.type === "currency" ? (
                <Field label="Currency (ISO 4217)" error={errorAt("format.currency") ?? errorAt("format")}>
                  {(p) => <Input {...p} className="font-mono uppercase" maxLength={3} placeholder="EUR" value={draft.format.currency ?? ""} onChange={(e) => setFormat({ currency: e.target.value.toUpperCase() || null })} />}
                </Field>
              ) : null}
              {draft.format.type === "duration" ? (
                <Field label="Unit of the values" error={errorAt("format.duration_unit") ?? errorAt("format")}>
                  {(p) => (
                    <Select {...p} value={draft.format.duration_unit ?? ""} onChange={(e) => setFormat({ duration_unit: (e.target.value || null) as MetricFormat["duration_unit"] })}>
                      <option value="">choose</option>
                      <option value="ms">milliseconds</option>
                      <option value="s">seconds</option>
                    </Select>
                  )}
                </Field>
              ) : null}
              <Field label="Decimals" hint="Empty: automatic" error={errorAt("format.decimals")}>
                {(p) => (
                  <Input
                    {...p}
                    type="number"
                    min={0}
                    max={10}
                    step={1}
                    value={draft.format.decimals ?? ""}
                    onChange={(e) => setFormat({ decimals: e.target.value === "" ? null : Number(e.target.value) })}
                  />
                )}
              </Field>
            </fieldset>
            <p className="mt-2 text-xs text-slate-600">The results page shows this metric's means in this format (by default a conversion reads as a percent, a count as a count).</p>
          </Card>
          {canWrite ? (
            <div className="flex justify-end gap-2">
              <Button type="submit" variant="primary" disabled={mutation.isPending}>
                {isNew ? "Create metric" : "Save metric"}
              </Button>
            </div>
          ) : null}
        </form>
        {isNew || !metric.data ? null : (
          <div className="min-w-0 space-y-4">
            <Card title="Last 14 days">
              <Preview metricKey={metric.data.key} />
            </Card>
            <Card title="Used by">
              <UsedBy metricKey={metric.data.key} />
            </Card>
          </div>
        )}
      </div>
    </>
  );
}
