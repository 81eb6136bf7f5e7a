import { useEffect, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Link, useBlocker, useNavigate, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/client";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { ConditionBuilder } from "../flags/ConditionBuilder";
import { fieldErrorsFor, isConflict } from "../flags/errors";
import { useMetrics, type Metric } from "../metrics/api";
import { useSegments } from "../segments/api";
import { Badge, Button, Card, Dialog, ErrorBanner, Field, Input, PageHeader, PercentInput, Select, TextArea } from "../ui";
import { STATUS_TONE, useCreateExperiment, useLayers, useUpdateExperiment, type Experiment } from "./api";
import { PowerCalculator } from "./PowerCalculator";
import {
  addVariant,
  changedFields,
  draftFromExperiment,
  EDITABLE,
  editProblems,
  emptyDraft,
  isDirty,
  metricLabel,
  reachableStep,
  removeVariant,
  slug,
  splitEvenly,
  stepOfPath,
  STEPS,
  toPatch,
  toPayload,
  validateStep,
  variantLines,
  weightTotal,
  type Draft,
  type EditableField,
  type StepId,
} from "./wizard";

function MetricChecklist({
  legend,
  metrics,
  selected,
  exclude,
  onChange,
  error,
  disabled = false,
}: {
  legend: string;
  metrics: Metric[];
  selected: string[];
  exclude: string[];
  onChange: (keys: string[]) => void;
  error: string | undefined;
  disabled?: boolean;
}) {
  const choices = metrics.filter((m) => !exclude.includes(m.key));
  return (
    <fieldset>
      <legend className="mb-1 text-xs font-medium text-slate-700">{legend}</legend>
      {choices.length === 0 ? <p className="text-xs text-slate-500">No other metric defined.</p> : null}
      <div className="flex flex-wrap gap-x-4 gap-y-1">
        {choices.map((m) => (
          <label key={m.key} className="inline-flex items-center gap-1.5 text-sm">
            <input
              type="checkbox"
              checked={selected.includes(m.key)}
              disabled={disabled}
              onChange={(e) => onChange(e.target.checked ? [...selected, m.key] : selected.filter((k) => k !== m.key))}
            />
            {m.name} <span className="font-mono text-xs text-slate-500">{m.key}</span>
          </label>
        ))}
      </div>
      {error ? (
        <p role="alert" data-field-error className="mt-1 text-xs text-red-700">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

function Summary({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[12rem_1fr]">
      {rows.map(([term, value]) => (
        <div key={term} className="contents">
          <dt className="font-medium text-slate-700">{term}</dt>
          <dd className="min-w-0 break-words text-slate-900">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function NewExperimentPage() {
  return <ExperimentWizard />;
}

/** The wizard: a new experiment, or (with `experiment`) an edit of one, saved with only the changed
 * fields and the version it was loaded at; fields the experiment's status freezes are read-only. */
export function ExperimentWizard({ experiment }: { experiment?: Experiment }) {
  const editing = experiment !== undefined;
  const status = experiment?.status ?? "draft";
  const [original, setOriginal] = useState<Draft>(() => (experiment ? draftFromExperiment(experiment) : emptyDraft()));
  const [draft, setDraft] = useState<Draft>(original);
  const [baseVersion, setBaseVersion] = useState(experiment?.version ?? 0);
  const frozen = (field: EditableField) => editing && !EDITABLE[status].has(field);
  // while paused, variants may be re-weighted only: same keys, names and control, none added or removed
  const reshapeFrozen = frozen("variants") || (editing && status === "paused");
  // the step lives in the address, so the browser's Back and Forward move between steps (an edit keeps `?edit`)
  const [params, setParams] = useSearchParams();
  const step = reachableStep(params.get("step"), draft);
  const address = (id: StepId): Record<string, string> => ({ ...(editing ? { edit: "1" } : {}), ...(id === "basics" ? {} : { step: id }) });
  const setStep = (id: StepId) => {
    if (id !== step) setParams(address(id));
  };
  useEffect(() => {
    // an address naming a step the draft has not reached (a reload, Forward after leaving) shows the first one it lacks
    const requested = params.get("step");
    if (requested !== null && requested !== step) setParams({ ...(editing ? { edit: "1" } : {}), ...(step === "basics" ? {} : { step }) }, { replace: true });
  }, [params, step, setParams, editing]);
  const [keyEdited, setKeyEdited] = useState(false);
  const [tried, setTried] = useState<Set<StepId>>(new Set());
  const client = useQueryClient();
  const createMutation = useCreateExperiment();
  const updateMutation = useUpdateExperiment(experiment?.key ?? "");
  const create = editing ? updateMutation : createMutation;
  const metrics = useMetrics();
  const layers = useLayers();
  const segments = useSegments();
  const environments = useEnvironments();
  const navigate = useNavigate();
  const can = useCan();
  // leaving with unsaved input asks first: a link, Back past step 1, or closing / reloading the tab
  const created = useRef(false);
  const changed = editing ? changedFields(original, draft) : [];
  const dirty = (editing ? changed.length > 0 : isDirty(draft)) && !created.current;
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) =>
      dirty && !created.current && (currentLocation.pathname !== nextLocation.pathname || (editing && !new URLSearchParams(nextLocation.search).has("edit"))),
  );
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const set = <K extends keyof Draft>(field: K, value: Draft[K]) => setDraft((d) => ({ ...d, [field]: value }));
  const setVariant = (i: number, change: Partial<Draft["variants"][number]>) =>
    setDraft((d) => ({ ...d, variants: d.variants.map((x, j) => (j === i ? { ...x, ...change } : x)) }));
  const index = STEPS.findIndex((s) => s.id === step);
  const conflict = isConflict(create.error);
  const server = conflict ? new Map<string, string>() : fieldErrorsFor(create.error, "");
  /** A step's own checks, and in an edit what the status forbids (traffic only upwards while live...). */
  const check = (id: StepId) => {
    const problems = validateStep(id, draft);
    if (editing) for (const [path, message] of editProblems(status, original, draft)) if (stepOfPath(path) === id && !problems.has(path)) problems.set(path, message);
    return problems;
  };
  const local = tried.has(step) ? check(step) : new Map<string, string>();
  const errorAt = (path: string) => local.get(path) ?? server.get(path);
  const metricList = metrics.data ?? [];
  const primary = metricList.find((m) => m.key === draft.primary_metric);

  const next = () => {
    setTried((t) => new Set(t).add(step));
    if (check(step).size) return;
    setStep(STEPS[index + 1]?.id ?? step);
  };
  const submit = () => {
    if (editing) {
      // every step's checks first: a problem sends the edit back to its step
      const failing = STEPS.find((s) => check(s.id).size);
      if (failing) {
        setTried((t) => new Set(t).add(failing.id));
        setStep(failing.id);
        return;
      }
    }
    create.mutate(editing ? toPatch(original, draft, baseVersion) : toPayload(draft), {
      onSuccess: (saved) => {
        created.current = true;
        navigate(`/experiments/${saved.key}`);
      },
      onError: (error) => {
        const first = error instanceof ApiError ? error.fieldErrors[0] : undefined;
        if (first) setStep(stepOfPath(first.path));
      },
    });
  };
  const stepsWithServerErrors = new Set([...server.keys()].map(stepOfPath));
  const generic = conflict || (create.error instanceof ApiError && create.error.fieldErrors.length) ? null : create.error;

  // a stale version: keep this edit and send its changes on top of the latest version, or start again from it
  const latest = async () => {
    await client.invalidateQueries({ queryKey: ["experiment", experiment?.key] });
    return client.getQueryData<Experiment>(["experiment", experiment?.key]);
  };
  const reapply = async () => {
    const fresh = await latest();
    if (fresh) setBaseVersion(fresh.version);
    create.reset();
  };
  const discard = async () => {
    const fresh = await latest();
    if (fresh) {
      const reloaded = draftFromExperiment(fresh);
      setOriginal(reloaded);
      setDraft(reloaded);
      setBaseVersion(fresh.version);
    }
    create.reset();
  };

  if (!can("experiments:write", experiment?.owner_id)) {
    return <ErrorBanner error={new Error(editing ? "Your role may not change this experiment." : "Your role may not create experiments.")} />;
  }

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/experiments" className="text-indigo-700 hover:underline">
          Experiments
        </Link>
        {experiment ? (
          <>
            {" / "}
            <Link to={`/experiments/${experiment.key}`} className="text-indigo-700 hover:underline">
              {experiment.name}
            </Link>
          </>
        ) : null}
      </nav>
      <PageHeader title={experiment ? `Edit “${experiment.name}”` : "New experiment"}>
        Step {index + 1} of {STEPS.length}: {STEPS[index]?.label}
        {experiment ? (
          <>
            {" "}
            · <Badge tone={STATUS_TONE[status]}>{status}</Badge> · version {baseVersion}
          </>
        ) : null}
      </PageHeader>
      <Dialog
        open={blocker.state === "blocked"}
        title={editing ? "Leave without saving?" : "Leave the new experiment?"}
        onClose={() => blocker.reset?.()}
        footer={
          <>
            <Button onClick={() => blocker.reset?.()}>Stay and keep editing</Button>
            <Button variant="danger" onClick={() => blocker.proceed?.()}>
              Leave and discard
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700">
          {editing ? "Your changes are not saved: they are lost if you leave." : "The experiment is not created yet: what you entered in the wizard is lost if you leave."}
        </p>
      </Dialog>
      <div className="grid gap-4 lg:grid-cols-[14rem_1fr]">
        <ol aria-label="Steps" className="flex gap-1 overflow-x-auto text-sm lg:flex-col">
          {STEPS.map((s, i) => (
            <li key={s.id}>
              <button
                type="button"
                aria-current={s.id === step ? "step" : undefined}
                disabled={i > index && check(step).size > 0}
                onClick={() => setStep(s.id)}
                className={`w-full whitespace-nowrap rounded-md px-2 py-1.5 text-left ${s.id === step ? "bg-indigo-50 font-medium text-indigo-800" : "text-slate-700 hover:bg-slate-100 disabled:text-slate-500"}`}
              >
                {i + 1}. {s.label}
                {stepsWithServerErrors.has(s.id) ? <span className="ml-1 text-red-700">(check)</span> : null}
              </button>
            </li>
          ))}
        </ol>
        <div className="min-w-0 space-y-4">
          {editing && status !== "draft" && status !== "scheduled" ? (
            <p className="rounded-md bg-slate-100 p-2 text-xs text-slate-700" data-testid="frozen-note">
              While the experiment is {status}, {status === "completed" ? "only its name, hypothesis and description" : "its variants" + (status === "paused" ? " (but their weights)" : "") + ", targeting, environment, layer, primary metric and planned start"}{" "}
              {status === "completed" ? "may change" : "cannot change"}: those fields are read-only here.
            </p>
          ) : null}
          {conflict ? (
            <div role="alert" data-testid="conflict" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-300">
              <p className="font-medium">Someone else changed this experiment while you were editing.</p>
              <p className="mt-1">Your changes are kept. Reload the latest version and save your changes on top of it, or discard them.</p>
              <div className="mt-2 flex gap-2">
                <Button variant="primary" onClick={() => void reapply()}>
                  Reload and re-apply my changes
                </Button>
                <Button onClick={() => void discard()}>Discard my changes</Button>
              </div>
            </div>
          ) : null}
          <ErrorBanner error={generic} />
          {server.size ? (
            <div role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-800 ring-1 ring-inset ring-red-600/20">
              The server refused {editing ? "the changes" : "the experiment"}; the fields are marked:
              <ul className="mt-1 list-disc pl-5">
                {[...server.entries()].map(([path, message]) => (
                  <li key={path}>
                    <span className="font-mono">{path || "experiment"}</span>: {message}
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {step === "basics" ? (
            <Card title="What you expect, and why">
              <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
                <Field label="Name" error={errorAt("name")}>
                  {(p) => (
                    <Input
                      {...p}
                      autoFocus
                      value={draft.name}
                      disabled={frozen("name")}
                      onChange={(e) => {
                        const name = e.target.value;
                        setDraft((d) => ({ ...d, name, key: keyEdited || editing ? d.key : slug(name) }));
                      }}
                    />
                  )}
                </Field>
                <Field label="Key" hint={editing ? "Used by applications; it does not change." : "Used by applications; cannot change later."} error={errorAt("key")}>
                  {(p) => (
                    <Input
                      {...p}
                      className="font-mono"
                      value={draft.key}
                      disabled={editing}
                      onChange={(e) => {
                        setKeyEdited(true);
                        set("key", e.target.value);
                      }}
                    />
                  )}
                </Field>
                <Field label="Hypothesis" className="sm:col-span-2" hint="If we change X, metric Y moves by Z, because…" error={errorAt("hypothesis")}>
                  {(p) => <TextArea {...p} rows={3} value={draft.hypothesis} disabled={frozen("hypothesis")} onChange={(e) => set("hypothesis", e.target.value)} />}
                </Field>
                <Field label="Description" className="sm:col-span-2" error={errorAt("description")}>
                  {(p) => <TextArea {...p} rows={2} value={draft.description} disabled={frozen("description")} onChange={(e) => set("description", e.target.value)} />}
                </Field>
              </div>
            </Card>
          ) : null}

          {step === "variants" ? (
            <Card
              title="Variants and weights"
              actions={
                <Button
                  variant="ghost"
                  disabled={frozen("variants")}
                  onClick={() => {
                    const weights = splitEvenly(draft.variants.length);
                    set("variants", draft.variants.map((v, i) => ({ ...v, weight: weights[i] ?? 0 })));
                  }}
                >
                  Split evenly
                </Button>
              }
            >
              <div className="space-y-2">
                {draft.variants.map((v, i) => (
                  <div key={i} className="grid grid-cols-2 items-start gap-2 rounded-md bg-slate-50 p-2 ring-1 ring-slate-200 sm:grid-cols-[1fr_1fr_10rem_auto_auto]">
                    <Field label={`Variant ${i + 1} key`} error={errorAt(`variants[${i}].key`)}>
                      {(p) => (
                        <Input
                          {...p}
                          className="font-mono"
                          value={v.key}
                          disabled={reshapeFrozen}
                          onChange={(e) => setVariant(i, { key: e.target.value })}
                        />
                      )}
                    </Field>
                    <Field label={`Variant ${i + 1} name`} error={errorAt(`variants[${i}].name`)}>
                      {(p) => <Input {...p} value={v.name} disabled={reshapeFrozen} onChange={(e) => setVariant(i, { name: e.target.value })} />}
                    </Field>
                    <Field label={`Variant ${i + 1} weight (%)`} error={errorAt(`variants[${i}].weight`)}>
                      {(p) => <PercentInput {...p} step="0.01" value={v.weight} disabled={frozen("variants")} onValue={(weight) => setVariant(i, { weight })} />}
                    </Field>
                    <label className="inline-flex items-center gap-1.5 self-center pt-4 text-sm">
                      <input
                        type="radio"
                        name="control"
                        checked={v.is_control}
                        disabled={reshapeFrozen}
                        onChange={() => set("variants", draft.variants.map((x, j) => ({ ...x, is_control: j === i })))}
                      />
                      control
                    </label>
                    <Button
                      variant="ghost"
                      className="self-center sm:mt-4"
                      aria-label={`Remove variant ${i + 1}`}
                      disabled={draft.variants.length <= 2 || reshapeFrozen}
                      onClick={() => set("variants", removeVariant(draft.variants, i))}
                    >
                      ✕
                    </Button>
                  </div>
                ))}
              </div>
              <div className="mt-3 flex flex-wrap items-center justify-between gap-2">
                <Button variant="ghost" disabled={reshapeFrozen} onClick={() => set("variants", addVariant(draft.variants))}>
                  + Add variant
                </Button>
                <WeightBar draft={draft} />
              </div>
              {errorAt("variants") ? (
                <p role="alert" data-field-error className="mt-2 text-sm text-red-700">
                  {errorAt("variants")}
                </p>
              ) : null}
              <div className="mt-4 grid grid-cols-1 gap-3 sm:grid-cols-2">
                <Field label="Traffic (%)" hint="Share of eligible users who enter the experiment" error={errorAt("traffic_allocation")}>
                  {(p) => <PercentInput {...p} value={draft.traffic_allocation} disabled={frozen("traffic_allocation")} onValue={(v) => set("traffic_allocation", v)} />}
                </Field>
                <Field label="Environment" error={errorAt("environment")}>
                  {(p) => (
                    <Select {...p} value={draft.environment} disabled={frozen("environment")} onChange={(e) => set("environment", e.target.value)}>
                      {(environments.data ?? [{ key: "production", name: "Production" }]).map((env) => (
                        <option key={env.key} value={env.key}>
                          {env.name}
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
              </div>
            </Card>
          ) : null}

          {step === "targeting" ? (
            <>
              <Card title="Who may enter (every condition must hold)">
                <ConditionBuilder
                  conditions={draft.targeting}
                  onChange={(targeting) => set("targeting", targeting)}
                  segments={(segments.data ?? []).map((s) => s.key)}
                  errorAt={errorAt}
                  basePath="targeting"
                  disabled={frozen("targeting")}
                  emptyText="No conditions: every user may enter (within the traffic share)."
                />
                <div className="mt-3 max-w-xs">
                  <Field label="Bucket by (attribute)" hint="The unit that keeps its variant: user_id, account_id…" error={errorAt("bucket_by")}>
                    {(p) => <Input {...p} className="font-mono" value={draft.bucket_by} disabled={frozen("bucket_by")} onChange={(e) => set("bucket_by", e.target.value)} />}
                  </Field>
                </div>
              </Card>
              <Card title="Layer (mutually exclusive experiments)">
                <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
                  <Field label="Layer" hint="Experiments in one layer never share a user." error={errorAt("layer")}>
                    {(p) => (
                      <Select {...p} value={draft.layer} disabled={frozen("layer")} onChange={(e) => set("layer", e.target.value)}>
                        <option value="">no layer</option>
                        {(layers.data ?? []).map((l) => (
                          <option key={l.key} value={l.key}>
                            {l.name} ({Math.round(((l.free_buckets ?? 10_000) / 10_000) * 100)}% free)
                          </option>
                        ))}
                      </Select>
                    )}
                  </Field>
                  {draft.layer ? (
                    <Field label="Share of the layer (%)" error={errorAt("layer_share")}>
                      {(p) => <PercentInput {...p} value={draft.layer_share} disabled={frozen("layer_share")} onValue={(v) => set("layer_share", v)} />}
                    </Field>
                  ) : null}
                </div>
              </Card>
            </>
          ) : null}

          {step === "metrics" ? (
            <Card title="What decides">
              {metricList.length === 0 && !metrics.isPending ? (
                <p className="mb-3 text-sm text-slate-600">
                  No metric is defined yet: <Link className="text-indigo-700 hover:underline" to="/metric-definitions/new">define one</Link> first, then come back.
                </p>
              ) : null}
              <div className="space-y-4">
                <Field label="Primary metric" hint="The one metric the decision rests on." error={errorAt("primary_metric")}>
                  {(p) => (
                    <Select
                      {...p}
                      value={draft.primary_metric}
                      disabled={frozen("primary_metric")}
                      onChange={(e) => {
                        const key = e.target.value;
                        setDraft((d) => ({ ...d, primary_metric: key, secondary_metrics: d.secondary_metrics.filter((k) => k !== key) }));
                      }}
                    >
                      <option value="">none yet</option>
                      {metricList.map((m) => (
                        <option key={m.key} value={m.key}>
                          {m.name} ({m.kind})
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
                <MetricChecklist
                  legend="Secondary metrics"
                  metrics={metricList}
                  selected={draft.secondary_metrics}
                  exclude={[draft.primary_metric]}
                  onChange={(keys) => set("secondary_metrics", keys)}
                  error={errorAt("secondary_metrics")}
                  disabled={frozen("secondary_metrics")}
                />
                <MetricChecklist
                  legend="Guardrail metrics (must not get worse)"
                  metrics={metricList}
                  selected={draft.guardrail_metrics}
                  exclude={[]}
                  onChange={(keys) => set("guardrail_metrics", keys)}
                  error={errorAt("guardrail_metrics")}
                  disabled={frozen("guardrail_metrics")}
                />
                <Field label="On a guardrail breach" error={errorAt("guardrail_action")}>
                  {(p) => (
                    <Select {...p} className="max-w-xs" value={draft.guardrail_action} disabled={frozen("guardrail_action")} onChange={(e) => set("guardrail_action", e.target.value as Draft["guardrail_action"])}>
                      <option value="pause">pause the experiment</option>
                      <option value="notify">only notify</option>
                    </Select>
                  )}
                </Field>
              </div>
            </Card>
          ) : null}

          {step === "schedule" ? (
            <>
              <Card title="Schedule">
                <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">
                  <Field label="Planned start" hint="Empty: you start it by hand. Set: the Schedule action starts it then." error={errorAt("planned_start")}>
                    {(p) => <Input {...p} type="datetime-local" value={draft.planned_start} disabled={frozen("planned_start")} onChange={(e) => set("planned_start", e.target.value)} />}
                  </Field>
                  <Field label="Planned end" hint="For the record and the results page; stopping is your decision." error={errorAt("planned_end")}>
                    {(p) => <Input {...p} type="datetime-local" value={draft.planned_end} disabled={frozen("planned_end")} onChange={(e) => set("planned_end", e.target.value)} />}
                  </Field>
                </div>
              </Card>
              <Card title="Minimum sample size">
                <div className="mb-4 max-w-xs">
                  <Field label="Minimum users per variant" hint="Below it, results carry a low-sample warning." error={errorAt("min_sample_size")}>
                    {(p) => (
                      <Input
                        {...p}
                        type="number"
                        min={1}
                        step={1}
                        value={draft.min_sample_size ?? ""}
                        disabled={frozen("min_sample_size")}
                        onChange={(e) => set("min_sample_size", e.target.value === "" ? null : Number(e.target.value))}
                      />
                    )}
                  </Field>
                </div>
                {frozen("min_sample_size") ? null : (
                  <>
                    <h3 className="mb-2 text-sm font-semibold text-slate-900">Power calculator{primary ? `: ${primary.name}` : ""}</h3>
                    <PowerCalculator metric={primary} arms={draft.variants.length} trafficPercent={Number.isFinite(draft.traffic_allocation) ? draft.traffic_allocation : 100} onUse={(n) => set("min_sample_size", n)} />
                  </>
                )}
              </Card>
            </>
          ) : null}

          {step === "review" ? (
            <Card title="Review">
              <Summary
                rows={[
                  ["Name", `${draft.name} (${draft.key})`],
                  ["Hypothesis", draft.hypothesis || "—"],
                  [
                    "Variants",
                    <ul key="variants" className="space-y-0.5">
                      {variantLines(draft.variants).map((line) => (
                        <li key={line}>{line}</li>
                      ))}
                    </ul>,
                  ],
                  ["Traffic", `${draft.traffic_allocation}% in ${draft.environment}`],
                  ["Targeting", draft.targeting.length ? `${draft.targeting.length} condition(s)` : "everyone"],
                  ["Layer", draft.layer ? `${draft.layer}, ${draft.layer_share}%` : "none"],
                  ["Primary metric", draft.primary_metric ? metricLabel(draft.primary_metric, metricList) : "none"],
                  ["Secondary metrics", draft.secondary_metrics.map((k) => metricLabel(k, metricList)).join(", ") || "none"],
                  [
                    "Guardrails",
                    draft.guardrail_metrics.length
                      ? `${draft.guardrail_metrics.map((k) => metricLabel(k, metricList)).join(", ")}; on a breach: ${draft.guardrail_action === "pause" ? "pause the experiment" : "only notify"}`
                      : "none",
                  ],
                  ["Schedule", `${draft.planned_start || "start by hand"} → ${draft.planned_end || "no planned end"}`],
                  ["Minimum sample size", draft.min_sample_size ? `${draft.min_sample_size.toLocaleString()} per variant` : "none"],
                  ...(editing ? ([["Changes", changed.length ? changed.map((f) => f.replace(/_/g, " ")).join(", ") : "none yet"]] as [string, ReactNode][]) : []),
                ]}
              />
              <p className="mt-3 text-xs text-slate-600" data-testid={editing ? "edit-summary" : undefined}>
                {editing
                  ? changed.length
                    ? `Saving sends only the changed fields, on top of version ${baseVersion}.`
                    : "Nothing has changed yet."
                  : "It is created as a draft: nobody is assigned until you start it."}
              </p>
            </Card>
          ) : null}

          <div className="flex justify-between gap-2">
            <Button disabled={index === 0} onClick={() => setStep(STEPS[index - 1]?.id ?? step)}>
              Back
            </Button>
            {step === "review" ? (
              <Button variant="primary" disabled={create.isPending || (editing && !changed.length)} onClick={submit}>
                {editing ? "Save changes" : "Create experiment"}
              </Button>
            ) : (
              <Button variant="primary" onClick={next}>
                Next
              </Button>
            )}
          </div>
        </div>
      </div>
    </>
  );
}

function WeightBar({ draft }: { draft: Draft }) {
  const total = weightTotal(draft.variants);
  const colours = ["bg-slate-500", "bg-indigo-500", "bg-emerald-500", "bg-amber-500", "bg-rose-500", "bg-sky-500"];
  return (
    <div className="flex min-w-[12rem] flex-1 items-center gap-2 sm:max-w-sm">
      <div className="flex h-2 flex-1 overflow-hidden rounded-full bg-slate-200" aria-hidden>
        {draft.variants.map((v, i) => (
          <div key={i} className={colours[i % colours.length]} style={{ width: `${Math.max(0, Math.min(100, v.weight || 0))}%` }} />
        ))}
      </div>
      <span className={`text-sm font-medium ${total === 100 ? "text-emerald-700" : "text-red-700"}`} aria-live="polite">
        total {total}%
      </span>
    </div>
  );
}
