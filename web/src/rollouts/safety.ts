// The safety-settings form's draft (strings, as typed) and the body sent from it: an empty field is
// left out (inherited), numbers are sent as numbers (a bad one reaches the server, whose 422 lands on
// the field).
import { ApiError } from "../api/client";
import type { SafetySettings, SafetySettingsUpdate } from "./api";

export interface Draft {
  guardrail_metrics: string;
  success_metric: string;
  min_units: string;
  alpha: string;
  action: "" | "rollback" | "pause" | "notify";
  max_wait_seconds: string;
}

export function draftOf(s: SafetySettings): Draft {
  const text = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));
  return {
    guardrail_metrics: s.guardrail_metrics.join(", "),
    success_metric: s.success_metric ?? "",
    min_units: text(s.min_units),
    alpha: text(s.alpha),
    action: (s.action ?? "") as Draft["action"],
    max_wait_seconds: text(s.max_wait_seconds),
  };
}

/** An inherited setting as the form shows it: a list joined with commas, `fallback` for nothing set
 * (null, an empty text or an empty list). */
export function inheritedText(value: unknown, fallback: string): string {
  if (Array.isArray(value)) return value.length ? value.join(", ") : fallback;
  return value === null || value === undefined || value === "" ? fallback : String(value);
}

export function toBody(d: Draft, version: number): SafetySettingsUpdate {
  const num = (v: string) => (v.trim() === "" ? null : Number(v));
  const metrics = d.guardrail_metrics
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter(Boolean);
  return {
    guardrail_metrics: metrics.length ? metrics : null,
    success_metric: d.success_metric.trim() || null,
    min_units: num(d.min_units),
    alpha: num(d.alpha),
    action: d.action || null,
    max_wait_seconds: num(d.max_wait_seconds),
    version: version > 0 ? version : null,
  };
}

/** The server's message for one field of a 422 (its path may carry the body's prefix). */
export function fieldError(error: unknown, path: string): string | undefined {
  if (!(error instanceof ApiError) || error.status !== 422) return undefined;
  return error.fieldErrors.find((e) => e.path === path || e.path === `body.${path}` || e.path.startsWith(`${path}[`) || e.path.startsWith(`${path}.`))?.message;
}
