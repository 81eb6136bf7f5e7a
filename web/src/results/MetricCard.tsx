import type { ReactNode } from "react";
import { Badge, ScrollArea } from "../ui";
import {
  formatCount,
  formatDifference,
  formatIntervalEnds,
  formatLift,
  formatOf,
  formatPValue,
  formatProbability,
  formatValue,
} from "./format";
import { axisExtent } from "./interval";
import { IntervalBar } from "./IntervalBar";
import { LiftChart } from "./LiftChart";
import { blockingReason, comparisonNotes, guardrailState, variantSentence, type GuardrailState, type Reason } from "./reasons";
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

const GUARDRAIL_BADGES: Record<GuardrailState, { tone: "red" | "green" | "gray" | "amber"; text: string }> = {
  breached: { tone: "red", text: "breached" },
  ok: { tone: "green", text: "within bounds" },
  "no-data": { tone: "gray", text: "not enough data yet" },
  "no-traffic": { tone: "gray", text: "no traffic" },
  unjudged: { tone: "amber", text: "cannot be judged" },
};

/** The verdict, or why there is none: the reason's short label, what it means for screen readers and
 * in the tooltip with the server's own sentence for this variant, visible too when the input is wrong. */
function VerdictBadge({
  verdict,
  guardrail,
  note,
  reason,
  sentence,
}: {
  verdict: Comparison["verdict"];
  guardrail: boolean;
  note?: string | null | undefined;
  reason: Reason | null;
  sentence: string | null;
}) {
  if (reason) {
    return (
      <span data-field="verdict" data-value={verdict} data-reason={reason.code}>
        <Badge tone={reason.tone === "problem" ? "amber" : "gray"} title={sentence ? `${reason.meaning}\n${sentence}` : reason.meaning}>
          {reason.label}
        </Badge>
        {reason.tone === "problem" ? (
          <span className="mt-1 block max-w-56 whitespace-normal text-xs text-slate-700">{reason.meaning}</span>
        ) : (
          <span className="sr-only">: {reason.meaning}</span>
        )}
      </span>
    );
  }
  const v = VERDICTS[verdict] ?? VERDICTS.inconclusive;
  const text = guardrail ? (verdict === "loser" ? "Harmed" : verdict === "winner" ? "Better" : "No harm found") : v.text;
  return (
    <span data-field="verdict" data-value={verdict}>
      <Badge tone={v.tone} title={note ?? undefined}>{text}</Badge>
    </span>
  );
}

/** An interval the API did not compute (`null`): a dash, never "−∞ to +∞". */
function NoInterval({ what }: { what: string }) {
  return (
    <div className="mt-0.5 text-xs text-slate-600" data-testid="no-interval" title={`No interval of the ${what}: not computed for this comparison`}>
      —<span className="sr-only"> no interval of the {what}</span>
    </div>
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
  weights,
}: {
  metric: MetricResult;
  role: Role;
  engine: Engine;
  series: TimeseriesPoint[] | undefined;
  levelFallback: number;
  breached: boolean;
  correctionLabel: string | null;
  /** the experiment's variant weights: a variant weighted 0 gets no traffic, rather than "not enough data" */
  weights?: ReadonlyMap<string, number>;
}) {
  const format = formatOf(metric);
  const name = metric.metric?.name ?? metric.metric_key;
  const first = metric.comparisons[0];
  const level = first?.interval_level ?? levelFallback;
  const extent = axisExtent(
    metric.comparisons.map((c) => ({ lower: c.relative_interval?.lower, upper: c.relative_interval?.upper, point: c.relative_lift })),
  );
  const reasons = metric.comparisons.map((c) => blockingReason(c, weights));
  const variantKeys = metric.comparisons.map((c) => c.variant_key);
  const bayesian = engine === "bayesian";
  const guardrail = role === "guardrail";
  // a guardrail is "within bounds" only once there is something to bound
  const status = guardrailState(reasons, breached);
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
          <span data-testid="guardrail-status" data-value={status}>
            <Badge tone={GUARDRAIL_BADGES[status].tone}>{GUARDRAIL_BADGES[status].text}</Badge>
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
            {metric.comparisons.map((c, i) => {
              const reason = reasons[i] ?? null;
              const notes = comparisonNotes(c).filter((n) => n.code !== reason?.code);
              const absolute = formatIntervalEnds(c.absolute_interval, (value) => formatDifference(value, format));
              const relative = formatIntervalEnds(c.relative_interval, (value) => formatLift(value));
              return (
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
                    {absolute ? (
                      <div
                        className="text-xs text-slate-600"
                        title={`${Math.round(level * 100)}% interval of the difference: the one the verdict is decided on`}
                      >
                        <Num field="absolute_lower" value={c.absolute_interval?.lower}>{absolute[0]}</Num>
                        {" to "}
                        <Num field="absolute_upper" value={c.absolute_interval?.upper}>{absolute[1]}</Num>
                      </div>
                    ) : c.absolute_lift !== null ? (
                      <NoInterval what="difference" />
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
                    <IntervalBar interval={c.relative_interval} point={c.relative_lift} extent={extent} lowerIsBetter={lowerIsBetter} level={level} />
                    {relative ? (
                      <div className="mt-0.5 text-xs text-slate-600">
                        <Num field="relative_lower" value={c.relative_interval?.lower}>{relative[0]}</Num>
                        {" to "}
                        <Num field="relative_upper" value={c.relative_interval?.upper}>{relative[1]}</Num>
                      </div>
                    ) : (
                      <NoInterval what="lift" />
                    )}
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
                    <VerdictBadge
                      verdict={c.verdict}
                      guardrail={guardrail}
                      note={c.verdict_note}
                      reason={reason}
                      sentence={variantSentence(metric.summary, variantKeys, c.variant_key)}
                    />
                    {notes.map((n) => (
                      <span key={n.code} data-note={n.code} className="mt-1 block text-xs text-slate-600" title={n.meaning}>
                        {n.label}
                        <span className="sr-only">: {n.meaning}</span>
                      </span>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </ScrollArea>
      {first?.absolute_lift_meaning ? (
        <p className="mt-2 text-xs text-slate-600">Difference: {first.absolute_lift_meaning}.</p>
      ) : null}
      {series && series.length > 0 ? (
        <div className="mt-4">
          <h3 className="mb-1 text-sm font-semibold text-slate-800">Lift over time</h3>
          <LiftChart
            points={series}
            metricName={name}
            level={0.95}
            cuped={metric.comparisons.some((c) => c.cuped_variance_reduction !== null && c.cuped_variance_reduction !== undefined)}
          />
        </div>
      ) : null}
    </section>
  );
}
