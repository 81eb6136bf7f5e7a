import type { ReactNode } from "react";
import { Badge, ScrollArea } from "../ui";
import {
  formatCount,
  formatDifference,
  formatLift,
  formatLiftInterval,
  formatOf,
  formatPValue,
  formatProbability,
  formatValue,
} from "./format";
import { axisExtent } from "./interval";
import { IntervalBar } from "./IntervalBar";
import { LiftChart } from "./LiftChart";
import type { Comparison, Engine, MetricResult, TimeseriesPoint } from "./types";

const ROLE_NAMES = { primary: "primary", secondary: "secondary", guardrail: "guardrail" } as const;
export type Role = keyof typeof ROLE_NAMES;

const exact = (value: number | string | null | undefined) => (value === null || value === undefined ? "null" : String(value));

/** A number as displayed, with the exact value the API sent beside it (for the tests and a hover). */
function Num({ field, value, children, className = "" }: { field: string; value: number | string | null | undefined; children: ReactNode; className?: string }) {
  return (
    <span data-field={field} data-value={exact(value)} title={value === null || value === undefined ? undefined : String(value)} className={className}>
      {children}
    </span>
  );
}

const VERDICTS = {
  winner: { tone: "green", text: "Winner" },
  loser: { tone: "red", text: "Loser" },
  inconclusive: { tone: "gray", text: "Inconclusive" },
} as const;

/** No estimate yet (a variant without units, or too few): nothing can be said, harm included. */
function lacksData(c: Comparison): boolean {
  return c.messages.includes("NOT_ENOUGH_DATA") || c.absolute_lift === null;
}

function VerdictBadge({ verdict, guardrail, note, noData }: { verdict: Comparison["verdict"]; guardrail: boolean; note?: string | null | undefined; noData: boolean }) {
  const v = VERDICTS[verdict] ?? VERDICTS.inconclusive;
  const text = noData ? "Not enough data" : guardrail ? (verdict === "loser" ? "Harmed" : verdict === "winner" ? "Better" : "No harm found") : v.text;
  return (
    <span data-field="verdict" data-value={verdict}>
      <Badge tone={v.tone} title={note ?? undefined}>{text}</Badge>
    </span>
  );
}

const th = "px-2 py-2 text-left text-xs font-semibold text-slate-700 whitespace-nowrap";
const td = "px-2 py-2 align-top whitespace-nowrap tabular-nums";

export function MetricCard({
  metric,
  role,
  engine,
  series,
  levelFallback,
  breached,
  correctionLabel,
}: {
  metric: MetricResult;
  role: Role;
  engine: Engine;
  series: TimeseriesPoint[] | undefined;
  levelFallback: number;
  breached: boolean;
  correctionLabel: string | null;
}) {
  const format = formatOf(metric);
  const name = metric.metric?.name ?? metric.metric_key;
  const first = metric.comparisons[0];
  const level = first?.interval_level ?? levelFallback;
  const extent = axisExtent(
    metric.comparisons.map((c) => ({ lower: c.relative_interval?.lower, upper: c.relative_interval?.upper, point: c.relative_lift })),
  );
  const bayesian = engine === "bayesian";
  const guardrail = role === "guardrail";
  // a guardrail is "within bounds" only once there is something to bound
  const waiting = metric.comparisons.length === 0 || metric.comparisons.every(lacksData);
  const lowerIsBetter = metric.lower_is_better || metric.metric?.direction === "lower";
  const headingId = `metric-${metric.metric_key}`;
  return (
    <section
      aria-labelledby={headingId}
      data-metric={metric.metric_key}
      className="rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200"
    >
      <div className="mb-2 flex flex-wrap items-center gap-2">
        <h2 id={headingId} className="text-base font-semibold text-slate-900">
          {name}
        </h2>
        <Badge tone={role === "primary" ? "indigo" : guardrail ? "amber" : "gray"}>{ROLE_NAMES[role]}</Badge>
        {guardrail ? (
          <span data-testid="guardrail-status" data-value={breached ? "breached" : waiting ? "no-data" : "ok"}>
            <Badge tone={breached ? "red" : waiting ? "gray" : "green"}>{breached ? "breached" : waiting ? "not enough data yet" : "within bounds"}</Badge>
          </span>
        ) : null}
        <span className="text-xs text-slate-600">
          {metric.metric_key} · {metric.metric?.kind ?? metric.kind} · {lowerIsBetter ? "lower is better" : "higher is better"}
        </span>
      </div>
      {metric.summary ? (
        <p className="mb-3 max-w-prose text-sm text-slate-700" data-testid="summary">
          {metric.summary}
        </p>
      ) : null}
      {/* on a narrow screen the table scrolls sideways inside the card, and says so */}
      <ScrollArea label={`${name}: results table`} hint={`Scroll sideways for the lift, ${bayesian ? "chance to win" : "p-value"} and verdict`}>
        <table className="min-w-full text-sm" data-testid="results-table">
          <caption className="sr-only">
            {name}: per variant units, mean, difference and lift against the control with its {Math.round(level * 100)}% interval,
            {bayesian ? " chance to win, risk" : " p-value"} and verdict
          </caption>
          <thead className="border-b border-slate-200">
            <tr>
              <th scope="col" className={th}>Variant</th>
              <th scope="col" className={`${th} text-right`}>Units</th>
              <th scope="col" className={`${th} text-right`}>Mean</th>
              <th scope="col" className={`${th} text-right`} title={first?.absolute_lift_meaning}>
                Difference
              </th>
              <th scope="col" className={`${th} text-right`}>Lift</th>
              <th scope="col" className={`${th} min-w-48`}>
                {Math.round(level * 100)}% interval <span className="font-normal text-slate-600">(axis ±{formatLift(extent, 0).replace("+", "")})</span>
              </th>
              {bayesian ? (
                <>
                  <th scope="col" className={`${th} text-right`}>Chance to win</th>
                  <th scope="col" className={`${th} text-right`} title="Expected loss, in the metric's unit, if you ship the variant and it is in fact worse">
                    Risk
                  </th>
                </>
              ) : (
                <th scope="col" className={`${th} text-right`}>
                  p-value{correctionLabel && metric.role === "goal" ? <span className="font-normal text-slate-600"> ({correctionLabel})</span> : null}
                </th>
              )}
              <th scope="col" className={th}>Verdict</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {first ? (
              <tr data-variant={first.control.key} data-control="true">
                <th scope="row" className={`${td} text-left font-medium`}>
                  {first.control.key} <Badge>control</Badge>
                </th>
                <td className={`${td} text-right`}>
                  <Num field="units" value={first.control.units}>{formatCount(first.control.units)}</Num>
                </td>
                <td className={`${td} text-right`}>
                  <Num field="mean" value={first.control.mean}>{formatValue(first.control.mean, format)}</Num>
                </td>
                <td className={`${td} text-right text-slate-500`} colSpan={bayesian ? 6 : 5}>
                  baseline
                </td>
              </tr>
            ) : null}
            {metric.comparisons.map((c) => (
              <tr key={c.variant_key} data-variant={c.variant_key}>
                <th scope="row" className={`${td} text-left font-medium`}>
                  {c.variant_key}
                </th>
                <td className={`${td} text-right`}>
                  <Num field="units" value={c.treatment.units}>{formatCount(c.treatment.units)}</Num>
                </td>
                <td className={`${td} text-right`}>
                  <Num field="mean" value={c.treatment.mean}>{formatValue(c.treatment.mean, format)}</Num>
                </td>
                <td className={`${td} text-right`}>
                  <Num field="absolute_lift" value={c.absolute_lift}>{formatDifference(c.absolute_lift, format)}</Num>
                  {c.absolute_interval ? (
                    <div
                      className="text-xs text-slate-600"
                      title={`${Math.round(level * 100)}% interval of the difference: the one the verdict is decided on`}
                    >
                      <Num field="absolute_lower" value={c.absolute_interval.lower}>
                        {c.absolute_interval.lower === null ? "\u2212∞" : formatDifference(c.absolute_interval.lower, format)}
                      </Num>
                      {" to "}
                      <Num field="absolute_upper" value={c.absolute_interval.upper}>
                        {c.absolute_interval.upper === null ? "+∞" : formatDifference(c.absolute_interval.upper, format)}
                      </Num>
                    </div>
                  ) : null}
                  {c.posterior_sd !== null && c.posterior_sd !== undefined ? (
                    <div className="text-xs text-slate-600">
                      sd <Num field="posterior_sd" value={c.posterior_sd}>{formatDifference(c.posterior_sd, format).replace("+", "")}</Num>
                    </div>
                  ) : null}
                </td>
                <td className={`${td} text-right font-medium`}>
                  <Num field="relative_lift" value={c.relative_lift}>{formatLift(c.relative_lift)}</Num>
                </td>
                <td className={td}>
                  <IntervalBar
                    lower={c.relative_interval?.lower}
                    upper={c.relative_interval?.upper}
                    point={c.relative_lift}
                    extent={extent}
                    lowerIsBetter={lowerIsBetter}
                    level={level}
                  />
                  <div className="mt-0.5 text-xs text-slate-600">
                    <Num field="relative_lower" value={c.relative_interval?.lower}>
                      {formatLiftInterval(c.relative_interval?.lower, undefined).split(" to ")[0]}
                    </Num>
                    {" to "}
                    <Num field="relative_upper" value={c.relative_interval?.upper}>
                      {formatLiftInterval(undefined, c.relative_interval?.upper).split(" to ")[1]}
                    </Num>
                  </div>
                </td>
                {bayesian ? (
                  <>
                    <td className={`${td} text-right`}>
                      <Num field="chance_to_win" value={c.chance_to_win}>{formatProbability(c.chance_to_win)}</Num>
                    </td>
                    <td className={`${td} text-right`}>
                      <Num field="risk" value={c.risk?.treatment}>{formatDifference(c.risk?.treatment, format).replace("+", "")}</Num>
                    </td>
                  </>
                ) : (
                  <td className={`${td} text-right`}>
                    {c.p_value_adjusted !== null && c.p_value_adjusted !== undefined && metric.role === "goal" && correctionLabel ? (
                      <>
                        <Num field="p_value_adjusted" value={c.p_value_adjusted}>{formatPValue(c.p_value_adjusted)}</Num>
                        <div className="text-xs text-slate-600">
                          raw <Num field="p_value" value={c.p_value}>{formatPValue(c.p_value)}</Num>
                        </div>
                      </>
                    ) : (
                      <Num field="p_value" value={c.p_value}>{formatPValue(c.p_value)}</Num>
                    )}
                  </td>
                )}
                <td className={td}>
                  <VerdictBadge verdict={c.verdict} guardrail={guardrail} note={c.verdict_note} noData={lacksData(c)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollArea>
      {first?.absolute_lift_meaning ? (
        <p className="mt-2 text-xs text-slate-600">Difference: {first.absolute_lift_meaning}.</p>
      ) : null}
      {series && series.length > 0 ? (
        <div className="mt-4">
          <h3 className="mb-1 text-sm font-semibold text-slate-800">Lift over time</h3>
          <LiftChart points={series} metricName={name} level={0.95} />
        </div>
      ) : null}
    </section>
  );
}
