// Which variants made a guardrail worse: the guardrail monitor's breaches, and the results' guardrail
// comparisons whose verdict is "Harmed". A harmful variant is never offered as the one-click ship
// winner, and the ship dialog warns when it is chosen.
import type { Breach, MetricResult } from "./types";

export interface Harm {
  metric: string;
  /** the metric's name when the results name it, else its key */
  name: string;
  relativeLift: number | null;
  /** the monitor recorded a breach (it may have paused the experiment), or the results read "Harmed" */
  source: "breach" | "results";
}

/** Harms by variant: a breach first (the monitor's own record, with its lift), then a guardrail whose
 * comparison is a loser with an estimate; one entry per metric and variant. */
export function guardrailHarms(breaches: Breach[], metrics: MetricResult[] = []): Map<string, Harm[]> {
  const names = new Map(metrics.map((m) => [m.metric_key, m.metric?.name ?? m.metric_key]));
  const harms = new Map<string, Harm[]>();
  const add = (variant: string, harm: Harm) => {
    const list = harms.get(variant) ?? [];
    if (!list.some((h) => h.metric === harm.metric)) harms.set(variant, [...list, harm]);
  };
  for (const b of breaches) {
    add(b.variant, { metric: b.metric_key, name: names.get(b.metric_key) ?? b.metric_key, relativeLift: b.relative_lift, source: "breach" });
  }
  for (const metric of metrics.filter((m) => m.role === "guardrail")) {
    for (const c of metric.comparisons) {
      if (c.verdict !== "loser" || c.absolute_lift === null || c.messages.includes("NOT_ENOUGH_DATA")) continue;
      add(c.variant_key, { metric: metric.metric_key, name: names.get(metric.metric_key) ?? metric.metric_key, relativeLift: c.relative_lift, source: "results" });
    }
  }
  return harms;
}

/** The variant to offer as "Ship <variant>…": the primary metric's one winner, unless it harmed a
 * guardrail (then none: the person picks, and the dialog warns). */
export function shipCandidate(metrics: MetricResult[], primary: string, harms: Map<string, Harm[]>): string | null {
  const winners = metrics.find((m) => m.metric_key === primary)?.comparisons.filter((c) => c.verdict === "winner") ?? [];
  if (winners.length !== 1) return null;
  const variant = winners[0]!.variant_key;
  return harms.get(variant)?.length ? null : variant;
}
