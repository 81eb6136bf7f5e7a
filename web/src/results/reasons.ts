// Why a comparison has no verdict, or only part of its figures: the engine's message codes
// (docs/statistics.md, "Degenerate input and message codes") in plain words, and a variant that gets
// no traffic because its weight is 0. Pure (unit-tested); the verdict cell and the guardrail badge
// read these instead of taking every missing estimate for "not enough data".
import type { Comparison } from "./types";

export interface Reason {
  /** the message code, or NO_TRAFFIC for a variant (or control) weighted 0, or NO_RESULT */
  code: string;
  /** a short label for the verdict cell */
  label: string;
  /** what it means, in a sentence */
  meaning: string;
  /** "problem": the input is wrong, someone should look; "quiet": nothing is broken */
  tone: "problem" | "quiet";
}

/** The codes that leave a comparison without a verdict, in the engine's order of checks: impossible
 * input first, then too little data, then no spread to test. */
const BLOCKING: Record<string, Omit<Reason, "code">> = {
  INVALID_INPUT: {
    label: "Invalid data",
    meaning: "The aggregated statistics are inconsistent (negative counts, more conversions than units, impossible sums), so only the units are reported.",
    tone: "problem",
  },
  NUMERIC_RANGE: {
    label: "Out of numeric range",
    meaning: "The numbers are too large or too small to compute with, so only the units are reported.",
    tone: "problem",
  },
  NOT_ENOUGH_DATA: {
    label: "Not enough data",
    meaning: "Each arm needs at least 2 units before anything can be said.",
    tone: "quiet",
  },
  ZERO_VARIANCE: {
    label: "No variance",
    meaning: "Every unit has the same value, so there is no test: no p-value, no interval and no verdict.",
    tone: "quiet",
  },
};

/** Codes that leave the verdict standing but take a figure away, or change how it was computed. */
const NOTES: Record<string, { label: string; meaning: string }> = {
  CONTROL_MEAN_ZERO: {
    label: "Control mean is 0",
    meaning: "The control's mean is 0, so there is no relative lift or relative interval; the difference and its test stand.",
  },
  CUPED_NO_PREPERIOD: { label: "CUPED not applied", meaning: "No pre-period data for CUPED: this is the unadjusted result." },
  CUPED_NOT_SUPPORTED: { label: "CUPED not applied", meaning: "CUPED does not apply to ratio metrics: this is the unadjusted result." },
};

export interface Note {
  code: string;
  label: string;
  meaning: string;
}

const NOT_ENOUGH = BLOCKING.NOT_ENOUGH_DATA!;

/** Variant weights from the experiment's `variants` (free-form objects in the API's schema). */
export function variantWeights(variants: readonly Record<string, unknown>[] | undefined): Map<string, number> {
  const weights = new Map<string, number>();
  for (const v of variants ?? []) {
    if (typeof v.key === "string" && typeof v.weight === "number") weights.set(v.key, v.weight);
  }
  return weights;
}

/** Why this comparison has no verdict, or null when it has one. `weights` are the experiment's (a
 * variant weighted 0 never gets traffic: waiting for data would be waiting for ever). */
export function blockingReason(c: Comparison, weights: ReadonlyMap<string, number> = new Map()): Reason | null {
  const messages = c.messages ?? [];
  for (const code of ["INVALID_INPUT", "NUMERIC_RANGE"]) {
    if (messages.includes(code)) return { code, ...BLOCKING[code]! };
  }
  const noEstimate = c.absolute_lift === null || messages.includes("NOT_ENOUGH_DATA");
  if (noEstimate) {
    if (weights.get(c.variant_key) === 0) {
      return { code: "NO_TRAFFIC", label: "No traffic (weight 0)", meaning: "This variant's weight is 0: it is never assigned, so it gets no units.", tone: "quiet" };
    }
    if (weights.get(c.control.key) === 0) {
      return {
        code: "NO_TRAFFIC",
        label: "No control traffic (weight 0)",
        meaning: "The control's weight is 0: it is never assigned, so there is nothing to compare with.",
        tone: "quiet",
      };
    }
    if (messages.includes("NOT_ENOUGH_DATA") || c.treatment.units === 0 || c.control.units === 0) return { code: "NOT_ENOUGH_DATA", ...NOT_ENOUGH };
  }
  if (messages.includes("ZERO_VARIANCE")) return { code: "ZERO_VARIANCE", ...BLOCKING.ZERO_VARIANCE! };
  if (noEstimate) {
    // a code this console does not know yet (a newer server) still beats a wrong "not enough data"
    const unknown = messages.find((m) => !(m in NOTES));
    return {
      code: unknown ?? "NO_RESULT",
      label: "No result",
      meaning: unknown ? `The engine gave no estimate (${unknown}).` : "The engine gave no estimate for this comparison.",
      tone: unknown ? "problem" : "quiet",
    };
  }
  return null;
}

/** The notes of codes that do not block the verdict (a control mean of 0, CUPED not applied), and of
 * codes this console does not know, by their code. */
export function comparisonNotes(c: Comparison): Note[] {
  return (c.messages ?? [])
    .filter((code) => !(code in BLOCKING))
    .map((code) => ({ code, ...(NOTES[code] ?? { label: code, meaning: `The engine says ${code} about this comparison.` }) }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** This variant's sentence of the metric's `summary`. The server writes one sentence per comparison,
 * in the order of `comparisons`, each opening with the variant's key ("treatment vs control on …: not
 * enough data yet", "Treatment raised …"); sentences contain full stops of their own (10.1%), so they
 * are found by those openings, not split at dots. Null when the summary does not read that way. */
export function variantSentence(summary: string | undefined, variants: readonly string[], variant: string): string | null {
  if (!summary) return null;
  const starts: number[] = [];
  let from = 0;
  for (const key of variants) {
    const opening = new RegExp(`(?:^|\\s)(${escapeRegExp(key)} (?:vs control on |raised |lowered |did not change ))`, "i");
    const match = opening.exec(summary.slice(from));
    if (!match) return null;
    const at = from + match.index + match[0].length - match[1]!.length;
    starts.push(at);
    from = at + match[1]!.length;
  }
  const index = variants.indexOf(variant);
  if (index < 0) return null;
  return summary.slice(starts[index], starts[index + 1] ?? summary.length).trim();
}

export type GuardrailState = "breached" | "ok" | "no-data" | "no-traffic" | "unjudged";

/** A guardrail's badge: breached (the monitor says so), within bounds once some comparison has a
 * verdict, else why none has one: not enough data yet, no traffic, or no judgement possible (invalid
 * input, no variance...). */
export function guardrailState(reasons: readonly (Reason | null)[], breached: boolean): GuardrailState {
  if (breached) return "breached";
  if (reasons.some((r) => r === null)) return "ok";
  if (reasons.length === 0 || reasons.every((r) => r?.code === "NOT_ENOUGH_DATA")) return "no-data";
  if (reasons.every((r) => r?.code === "NO_TRAFFIC")) return "no-traffic";
  // waiting for data on some, no traffic on the others: still waiting
  if (reasons.every((r) => r?.code === "NOT_ENOUGH_DATA" || r?.code === "NO_TRAFFIC")) return "no-data";
  return "unjudged";
}
