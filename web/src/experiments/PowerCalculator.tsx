import { useEffect, useState } from "react";
import { ApiError } from "../api/client";
import { useSeries, type Metric } from "../metrics/api";
import { Button, ErrorBanner, Field, Input } from "../ui";
import { usePower } from "./api";
import { powerRequest, powerSentence, seedBaseline, type MetricKind } from "./wizard";

const SEED_DAYS = 15; // 14 full days and today (left out of the seed)

const number = (text: string): number | null => (text.trim() === "" || !Number.isFinite(Number(text)) ? null : Number(text));

/** The minimum sample size, computed inline by `POST /api/v1/analysis/power` from a baseline seeded
 * from the primary metric's last 14 days. "Use" copies the units per variant into the draft. */
export function PowerCalculator({
  metric,
  trafficPercent,
  arms,
  onUse,
}: {
  metric: Metric | undefined;
  trafficPercent: number;
  /** the experiment's variants, control included */
  arms: number;
  onUse: (unitsPerVariant: number) => void;
}) {
  const series = useSeries(metric?.key, SEED_DAYS);
  const power = usePower();
  const kind = (metric?.kind ?? "binomial") as MetricKind;
  const [eligible, setEligible] = useState("");
  const [baseline, setBaseline] = useState("");
  const [variance, setVariance] = useState("");
  const [daily, setDaily] = useState("");
  const [mde, setMde] = useState("5");
  const [alpha, setAlpha] = useState("0.05");
  const [target, setTarget] = useState("0.8");
  // fields the person typed in keep their value when the seed changes (a late answer must not undo them)
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const edit = (field: string, setter: (value: string) => void) => (value: string) => {
    setTouched((t) => new Set(t).add(field));
    setter(value);
  };
  const seed = series.data ? seedBaseline(kind, series.data, { eligiblePerDay: number(eligible), trafficPercent }) : null;

  // seed (and re-seed when the metric, the eligible users or the traffic change); the fields stay editable
  useEffect(() => {
    if (!seed) return;
    if (!touched.has("baseline")) setBaseline(seed.baselineMean === null ? "" : String(seed.baselineMean));
    if (!touched.has("variance")) setVariance(seed.baselineVariance === null ? "" : String(seed.baselineVariance));
    if (!touched.has("daily")) setDaily(seed.dailyUnits === null ? "" : String(seed.dailyUnits));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the seed's inputs, not its identity
  }, [series.data, metric?.key, eligible, trafficPercent]);

  if (!metric) return <p className="text-sm text-slate-600">Choose a primary metric (Metrics step) to size the experiment from its baseline.</p>;

  // a 422 names the field to change; what no field here shows (the whole request) reads under the button
  const FIELDS = ["baseline_mean", "baseline_variance", "relative_mde", "alpha", "power", "daily_units", "arms"];
  const errors = new Map<string, string>();
  const elsewhere: string[] = [];
  if (power.error instanceof ApiError && power.error.status === 422) {
    for (const e of power.error.fieldErrors) {
      if (FIELDS.includes(e.path)) errors.set(e.path, e.message);
      else elsewhere.push(e.message);
    }
    if (!power.error.fieldErrors.length) elsewhere.push(power.error.message);
  }
  const calculate = () => {
    power.mutate(
      powerRequest({
        kind,
        baseline: number(baseline),
        variance: number(variance),
        mdePercent: number(mde),
        alpha: number(alpha),
        power: number(target),
        dailyUnits: number(daily),
        arms,
      }),
    );
  };
  const answer = power.data?.sample_size;
  // the answer is for the variants it was asked with: a variant added since asks for a new calculation
  const answeredArms = power.variables?.arms ?? arms;
  const refused = answer && answer.units_per_arm === null ? (answer.explanation ?? ((answer.messages ?? []).join(", ") || "no answer")) : null;
  return (
    <div className="space-y-3" data-testid="power-calculator">
      <p className="text-xs text-slate-600">
        {series.isPending ? "Reading the last 14 days of the metric…" : seed?.note}
      </p>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
        {kind === "binomial" ? (
          <Field label="Eligible users a day" hint="Users a day who could convert (all variants, before traffic)">
            {(p) => <Input {...p} type="number" min={0} step="any" value={eligible} onChange={(e) => setEligible(e.target.value)} />}
          </Field>
        ) : null}
        <Field label={kind === "binomial" ? "Baseline rate (0 to 1)" : "Baseline mean per user"} error={errors.get("baseline_mean")}>
          {(p) => <Input {...p} type="number" step="any" value={baseline} onChange={(e) => edit("baseline", setBaseline)(e.target.value)} />}
        </Field>
        {kind === "binomial" ? null : (
          <Field label="Baseline variance" error={errors.get("baseline_variance")}>
            {(p) => <Input {...p} type="number" min={0} step="any" value={variance} onChange={(e) => edit("variance", setVariance)(e.target.value)} />}
          </Field>
        )}
        <Field label="Smallest lift to detect (%)" hint="relative to the baseline" error={errors.get("relative_mde")}>
          {(p) => <Input {...p} type="number" step="any" value={mde} onChange={(e) => setMde(e.target.value)} />}
        </Field>
        <Field label="Significance level (alpha)" error={errors.get("alpha")}>
          {(p) => <Input {...p} type="number" step="any" min={0} max={1} value={alpha} onChange={(e) => setAlpha(e.target.value)} />}
        </Field>
        <Field label="Power" error={errors.get("power")}>
          {(p) => <Input {...p} type="number" step="any" min={0} max={1} value={target} onChange={(e) => setTarget(e.target.value)} />}
        </Field>
        <Field label="Users entering a day" hint={`all ${arms} variants together, after the traffic share`} error={errors.get("daily_units")}>
          {(p) => <Input {...p} type="number" min={0} step="any" value={daily} onChange={(e) => edit("daily", setDaily)(e.target.value)} />}
        </Field>
      </div>
      <div className="flex flex-wrap items-center gap-3">
        <Button onClick={calculate} disabled={power.isPending}>
          Calculate sample size
        </Button>
        {answer?.units_per_arm ? (
          <>
            <output className="text-sm text-slate-900" aria-live="polite" data-testid="power-answer">
              {powerSentence(answeredArms, answer.units_per_arm, answer.total_units, power.data?.days_to_sample?.days ?? null)}
              {answeredArms !== arms ? <span className="text-amber-800"> (calculated for {answeredArms} variants: calculate again for {arms})</span> : null}
            </output>
            <Button variant="primary" onClick={() => onUse(answer.units_per_arm ?? 0)}>
              Use as minimum sample size
            </Button>
          </>
        ) : null}
        {refused ? (
          <span role="alert" className="text-sm text-red-700">
            The calculator could not answer: {refused}
          </span>
        ) : null}
        {elsewhere.map((message) => (
          <span key={message} role="alert" data-field-error className="text-sm text-red-700">
            {message}
          </span>
        ))}
      </div>
      <ErrorBanner error={power.error && !(power.error instanceof ApiError && power.error.status === 422) ? power.error : null} />
    </div>
  );
}
