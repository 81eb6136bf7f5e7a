import { lazy, Suspense, useEffect, useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { fieldErrorsFor } from "../flags/errors";
import { OPERATOR_BY_VALUE, toIso, toLocalInput } from "../flags/operators";
import { AutoPauseBanner, PausedBanner, pausedByGuardrail } from "../results/Banners";
import { DEFAULT_SETTINGS, useBreaches, useResults } from "../results/api";
import { formatLift } from "../results/format";
import { guardrailHarms, type Harm } from "../results/harm";
import type { Breach } from "../results/types";
import { Badge, Button, Card, Dialog, ErrorBanner, Field, formatDate, Input, PageHeader, Spinner, TextArea } from "../ui";
import { ApiError } from "../api/client";
import { canEdit } from "./wizard";
import { ACTIONS, actionsFor, canShip, STATUS_TONE, useExperiment, useShip, useTransition, useUpdateSchedule, type Action, type Experiment, type Shipped } from "./api";

// the wizard (and its power calculator) loads when an edit opens it, not with every experiment page
const ExperimentWizard = lazy(() => import("./NewExperimentPage").then((m) => ({ default: m.ExperimentWizard })));

/** A targeting condition as a sentence: `country is one of FR, DE`. */
function describe(condition: Record<string, unknown>): string {
  const operator = String(condition.operator ?? "");
  const label = OPERATOR_BY_VALUE.get(operator)?.label ?? operator;
  const values = Array.isArray(condition.values) ? condition.values.map(String).join(", ") : "";
  const subject = operator.endsWith("segment") ? "user" : String(condition.attribute ?? "");
  return `${condition.negate ? "not: " : ""}${subject} ${label} ${values}`.trim();
}

function ActionDialog({ experiment, action, onClose, breaches }: { experiment: Experiment; action: Action | null; onClose: () => void; breaches: Breach[] }) {
  const transition = useTransition(experiment.key);
  const [reason, setReason] = useState("");
  const info = action ? ACTIONS[action] : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!action) return;
    transition.mutate(
      { action, reason: reason.trim() },
      {
        onSuccess: () => {
          setReason("");
          onClose();
        },
      },
    );
  };
  const close = () => {
    transition.reset();
    setReason("");
    onClose();
  };
  return (
    <Dialog open={action !== null} title={info ? `${info.label} “${experiment.name}”?` : ""} onClose={close}>
      <form onSubmit={submit} className="flex flex-col gap-3">
        <p className="text-sm text-slate-700">{info?.explain}</p>
        {action === "resume" && pausedByGuardrail(experiment.status, breaches, experiment.pause) ? (
          <p className="rounded-md bg-amber-50 p-2 text-sm text-amber-900 ring-1 ring-inset ring-amber-600/30" data-testid="resume-acknowledges">
            A guardrail breach paused this experiment ({pausedByGuardrail(experiment.status, breaches, experiment.pause)}). Resuming acknowledges the
            breach: the monitor will not pause it again for the same metric and variant; another metric or variant still can.
          </p>
        ) : null}
        {action === "schedule" ? (
          <p className="text-sm text-slate-700">Planned start: {formatDate(experiment.planned_start)}</p>
        ) : null}
        <ErrorBanner error={transition.error} />
        <Field label="Reason (kept in the history)">
          {(p) => <TextArea {...p} required rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
        <div className="flex justify-end gap-2">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant={info?.tone === "danger" ? "danger" : "primary"} disabled={transition.isPending || !reason.trim()}>
            {info?.verb}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

/** What a ship changes, flag by flag: `checkout-button`: rule `exp` serves `on` (version 3). */
function ShippedFlags({ flags, environment, done }: { flags: Shipped["flags"]; environment: string; done: boolean }) {
  if (!flags.length) {
    return (
      <p className="text-sm text-slate-700">
        No flag rule serves this experiment in <span className="font-mono">{environment}</span>: only the decision is recorded. Ship the variant
        in your code.
      </p>
    );
  }
  return (
    <ul className="space-y-1 text-sm text-slate-800">
      {flags.map((flag) => (
        <li key={flag.key}>
          <Link className="font-mono text-indigo-700 hover:underline" to={`/flags/${flag.key}`}>
            {flag.key}
          </Link>{" "}
          in <span className="font-mono">{environment}</span>:{" "}
          {flag.places.map((place, i) => (
            <span key={place.rule}>
              {i ? "; " : ""}
              {place.rule === "fallthrough" ? "the fallthrough" : <>rule <span className="font-mono">{place.rule}</span></>} {done ? "serves" : "will serve"}{" "}
              <span className="font-mono">{place.variation}</span>
            </span>
          ))}{" "}
          <span className="text-slate-600">(version {flag.version})</span>
        </li>
      ))}
    </ul>
  );
}

/** The chosen variant made a guardrail worse: which guardrail, by how much, and who said so. */
function HarmWarning({ variant, harms }: { variant: string; harms: Harm[] }) {
  return (
    <div role="alert" data-testid="ship-harm-warning" className="rounded-md bg-red-50 p-3 text-sm text-red-900 ring-1 ring-inset ring-red-600/30">
      <p className="font-medium">
        <span className="font-mono">{variant}</span> made {harms.length === 1 ? "a guardrail" : `${harms.length} guardrails`} worse:
      </p>
      <ul className="mt-1 list-disc space-y-0.5 pl-5">
        {harms.map((h) => (
          <li key={h.metric} data-harm={h.metric}>
            <strong>{h.name}</strong>
            {h.name !== h.metric ? <span className="font-mono text-xs"> ({h.metric})</span> : null}: {formatLift(h.relativeLift)} against the control
            {h.source === "breach" ? ", a breach the guardrail monitor recorded" : ", harmed in the results"}
          </li>
        ))}
      </ul>
      <p className="mt-1">Shipping it serves this variant to everyone the experiment&apos;s flag rules reach. Ship it only if you know why and accept that cost.</p>
    </div>
  );
}

function ShipDialog({ experiment, open, onClose, initial, breaches }: { experiment: Experiment; open: boolean; onClose: () => void; initial: string; breaches: Breach[] }) {
  // the default analysis's guardrail verdicts, with the monitor's breaches: a harmful choice is warned of
  const results = useResults(experiment.key, DEFAULT_SETTINGS, open);
  const harms = guardrailHarms(breaches, results.data?.data.metrics ?? []);
  const preview = useShip(experiment.key, true);
  const ship = useShip(experiment.key, false);
  const [variant, setVariant] = useState("");
  // opened from the results with their winner (`?ship=treatment`): that variant is chosen, not shipped
  useEffect(() => {
    if (open && initial && experiment.variants.some((v) => String(v.key) === initial)) setVariant(initial);
  }, [open, initial, experiment.variants]);
  const [reason, setReason] = useState("");
  const runPreview = preview.mutate;
  useEffect(() => {
    if (open && variant) runPreview({ variant, reason: "preview" });
  }, [open, variant, runPreview]);
  const close = () => {
    preview.reset();
    ship.reset();
    setVariant("");
    setReason("");
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    ship.mutate({ variant, reason: reason.trim() }, { onSuccess: close });
  };
  const refusals = preview.error instanceof ApiError && Array.isArray(preview.error.details.errors) ? (preview.error.details.errors as { path: string; message: string }[]) : [];
  const harmful = Boolean(variant && harms.get(variant)?.length);
  const ending = experiment.status === "completed" ? "The experiment has ended" : "The experiment stops now (completed)";
  return (
    <Dialog open={open} title={`Ship a variant of “${experiment.name}”?`} onClose={close}>
      <form onSubmit={submit} className="flex flex-col gap-3">
        <p className="text-sm text-slate-700">
          {ending}, and every flag rule that serves it in <span className="font-mono">{experiment.environment}</span> serves the chosen variant's variation from
          now on, to the same users. The decision is kept on this page and in the history. An experiment ships once.
        </p>
        <fieldset>
          <legend className="mb-1 text-sm font-medium text-slate-900">Variant to ship</legend>
          <div className="flex flex-col gap-1">
            {experiment.variants.map((v) => (
              <label key={String(v.key)} className="inline-flex items-center gap-2 text-sm">
                <input type="radio" name="ship-variant" value={String(v.key)} checked={variant === String(v.key)} onChange={() => setVariant(String(v.key))} />
                <span className="font-mono">{String(v.key)}</span>
                {v.name ? <span className="text-slate-600">{String(v.name)}</span> : null}
                {v.is_control ? <Badge>control</Badge> : null}
              </label>
            ))}
          </div>
        </fieldset>
        {variant && harms.get(variant)?.length ? <HarmWarning variant={variant} harms={harms.get(variant)!} /> : null}
        {variant ? (
          <section aria-live="polite" aria-label="What changes" className="rounded-md bg-slate-50 p-3 ring-1 ring-inset ring-slate-200">
            <h3 className="mb-1 text-sm font-medium text-slate-900">What changes</h3>
            {preview.isPending ? <p className="text-sm text-slate-600">Checking…</p> : null}
            {preview.data?.shipped ? <ShippedFlags flags={preview.data.shipped.flags} environment={experiment.environment} done={false} /> : null}
            {preview.error ? (
              <>
                <ErrorBanner error={preview.error} />
                {refusals.length ? (
                  <ul className="mt-2 list-disc pl-5 text-sm text-red-800">
                    {refusals.map((r) => (
                      <li key={r.path}>
                        <span className="font-mono">{r.path}</span> {r.message}
                      </li>
                    ))}
                  </ul>
                ) : null}
              </>
            ) : null}
          </section>
        ) : null}
        <ErrorBanner error={ship.error} />
        <Field label="Reason (kept in the history)">
          {(p) => <TextArea {...p} required rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
        <div className="flex justify-end gap-2">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant={harmful ? "danger" : "primary"} disabled={!variant || !reason.trim() || !preview.isSuccess || ship.isPending}>
            {variant ? `Ship ${variant}${harmful ? " anyway" : ""}` : "Ship"}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ShippedCard({ experiment, shipped }: { experiment: Experiment; shipped: Shipped }) {
  return (
    <Card title="Shipped">
      <p className="text-sm text-slate-800" data-testid="shipped">
        <span className="font-mono font-medium">{shipped.variant}</span> shipped {formatDate(shipped.at)}
        {shipped.by ? ` by ${shipped.by}` : ""}: “{shipped.reason}”
      </p>
      <div className="mt-2">
        <ShippedFlags flags={shipped.flags} environment={experiment.environment} done />
      </div>
    </Card>
  );
}

function ScheduleCard({ experiment, canWrite }: { experiment: Experiment; canWrite: boolean }) {
  const update = useUpdateSchedule(experiment.key);
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  useEffect(() => {
    setStart(experiment.planned_start ? toLocalInput(experiment.planned_start) : "");
    setEnd(experiment.planned_end ? toLocalInput(experiment.planned_end) : "");
  }, [experiment.planned_start, experiment.planned_end]);
  const startEditable = experiment.status === "draft" || experiment.status === "scheduled";
  const endEditable = startEditable || experiment.status === "running" || experiment.status === "paused";
  const errors = fieldErrorsFor(update.error, "");
  const save = (event: FormEvent) => {
    event.preventDefault();
    const body: { version: number; planned_start?: string | null; planned_end?: string | null } = { version: experiment.version };
    if (startEditable) body.planned_start = start ? toIso(start) : null;
    body.planned_end = end ? toIso(end) : null;
    update.mutate(body);
  };
  return (
    <Card title="Schedule">
      <dl className="mb-3 grid grid-cols-2 gap-2 text-sm sm:grid-cols-4">
        <div>
          <dt className="text-xs text-slate-600">Planned start</dt>
          <dd>{formatDate(experiment.planned_start)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-600">Planned end</dt>
          <dd>{formatDate(experiment.planned_end)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-600">Started</dt>
          <dd>{formatDate(experiment.started_at)}</dd>
        </div>
        <div>
          <dt className="text-xs text-slate-600">Ended</dt>
          <dd>{formatDate(experiment.ended_at)}</dd>
        </div>
      </dl>
      {canWrite && endEditable ? (
        <form onSubmit={save} className="grid grid-cols-1 items-end gap-3 sm:grid-cols-[1fr_1fr_auto]">
          <Field label="Change planned start" error={errors.get("planned_start")}>
            {(p) => <Input {...p} type="datetime-local" disabled={!startEditable} value={start} onChange={(e) => setStart(e.target.value)} />}
          </Field>
          <Field label="Change planned end" error={errors.get("planned_end") ?? errors.get("")}>
            {(p) => <Input {...p} type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />}
          </Field>
          <Button type="submit" disabled={update.isPending}>
            Save schedule
          </Button>
        </form>
      ) : null}
      <ErrorBanner error={update.error && !errors.size ? update.error : null} />
    </Card>
  );
}

export function ExperimentPage() {
  const { key = "" } = useParams();
  const experiment = useExperiment(key);
  const can = useCan();
  const [action, setAction] = useState<Action | null>(null);
  const [params, setParams] = useSearchParams();
  const [shipping, setShipping] = useState(params.has("ship"));
  const breaches = useBreaches(key);
  if (experiment.isPending) return <Spinner />;
  if (!experiment.data) return <ErrorBanner error={experiment.error} />;
  const data = experiment.data;
  const canWrite = can("experiments:write", data.owner_id);
  // `?edit` opens the wizard on this experiment (Back leaves it; a leave with unsaved changes asks first)
  if (params.has("edit") && canWrite && canEdit(data.status)) {
    return (
      <Suspense fallback={<Spinner />}>
        <ExperimentWizard key={data.key} experiment={data} />
      </Suspense>
    );
  }
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/experiments" className="text-indigo-700 hover:underline">
          Experiments
        </Link>
      </nav>
      <PageHeader
        title={data.name}
        actions={
          canWrite ? (
            <>
              {canEdit(data.status) ? (
                <Button variant="secondary" onClick={() => setParams({ edit: "1" })}>
                  Edit
                </Button>
              ) : null}
              {canShip(data) ? (
                <Button variant={data.status === "completed" ? "primary" : "secondary"} onClick={() => setShipping(true)}>
                  Ship a variant
                </Button>
              ) : null}
              {actionsFor(data.status).map((a) => (
                <Button key={a} variant={ACTIONS[a].tone} onClick={() => setAction(a)}>
                  {ACTIONS[a].label}
                </Button>
              ))}
            </>
          ) : null
        }
      >
        <span className="font-mono">{data.key}</span> · <Badge tone={STATUS_TONE[data.status]}>{data.status}</Badge> · version {data.version}
      </PageHeader>
      <ActionDialog experiment={data} action={action} onClose={() => setAction(null)} breaches={breaches.data ?? []} />
      <ShipDialog
        experiment={data}
        open={shipping && canWrite && canShip(data)}
        initial={params.get("ship") ?? ""}
        breaches={breaches.data ?? []}
        onClose={() => {
          setShipping(false);
          if (params.has("ship")) setParams({}, { replace: true });
        }}
      />
      <nav aria-label="Experiment" className="mb-4 flex gap-1 border-b border-slate-200">
        <span aria-current="page" className="border-b-2 border-indigo-600 px-3 py-2 text-sm font-medium text-indigo-700">
          Overview
        </span>
        <Link to={`/experiments/${data.key}/results`} className="border-b-2 border-transparent px-3 py-2 text-sm text-slate-600 hover:text-slate-900">
          Results
        </Link>
      </nav>
      <div className="space-y-4">
        <AutoPauseBanner status={data.status} breaches={breaches.data ?? []} experimentKey={data.key} on="overview" pause={data.pause} />
        <PausedBanner status={data.status} pause={data.pause} />
        {data.shipped ? <ShippedCard experiment={data} shipped={data.shipped} /> : null}
        <Card title="Hypothesis">
          <p className="whitespace-pre-wrap text-sm text-slate-800">{data.hypothesis || "No hypothesis written."}</p>
          {data.description ? <p className="mt-2 whitespace-pre-wrap text-sm text-slate-600">{data.description}</p> : null}
        </Card>
        <div className="grid gap-4 md:grid-cols-2">
          <Card title="Variants and traffic">
            <ul className="space-y-1 text-sm">
              {data.variants.map((v) => (
                <li key={String(v.key)} className="flex justify-between gap-2">
                  <span>
                    <span className="font-mono">{String(v.key)}</span> {v.name ? <span className="text-slate-600">{String(v.name)}</span> : null}{" "}
                    {v.is_control ? <Badge>control</Badge> : null}
                  </span>
                  <span className="tabular-nums">{String(v.weight)}%</span>
                </li>
              ))}
            </ul>
            <p className="mt-2 text-sm text-slate-700">
              {data.traffic_allocation}% of eligible users in <span className="font-mono">{data.environment}</span>, bucketed by{" "}
              <span className="font-mono">{data.bucket_by}</span>
              {data.layer_key ? (
                <>
                  {" "}
                  · layer <span className="font-mono">{data.layer_key}</span>
                </>
              ) : null}
            </p>
            <div className="mt-1 text-sm text-slate-700">
              Targeting:{" "}
              {data.targeting.length ? (
                <ul className="mt-1 list-disc space-y-0.5 pl-5">
                  {data.targeting.map((c, i) => (
                    <li key={i}>{describe(c)}</li>
                  ))}
                </ul>
              ) : (
                "everyone"
              )}
            </div>
          </Card>
          <Card title="Metrics">
            <dl className="space-y-1 text-sm">
              <div>
                <dt className="inline text-slate-600">Primary: </dt>
                <dd className="inline">{data.primary_metric ? <Link className="font-mono text-indigo-700 hover:underline" to={`/metric-definitions/${data.primary_metric}`}>{data.primary_metric}</Link> : "none"}</dd>
              </div>
              <div>
                <dt className="inline text-slate-600">Secondary: </dt>
                <dd className="inline font-mono">{data.secondary_metrics.join(", ") || "none"}</dd>
              </div>
              <div>
                <dt className="inline text-slate-600">Guardrails: </dt>
                <dd className="inline">
                  <span className="font-mono">{data.guardrail_metrics.join(", ") || "none"}</span>
                  {data.guardrail_metrics.length ? ` (on a breach: ${data.guardrail_action})` : null}
                </dd>
              </div>
              <div>
                <dt className="inline text-slate-600">Minimum sample size: </dt>
                <dd className="inline">{data.min_sample_size ? `${data.min_sample_size.toLocaleString()} per variant` : "none"}</dd>
              </div>
            </dl>
          </Card>
        </div>
        <ScheduleCard experiment={data} canWrite={canWrite} />
      </div>
    </>
  );
}
