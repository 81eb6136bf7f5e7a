/**
 * The mapping both OpenFeature providers share (server.ts over the Node client, web.ts over the
 * browser client): an Experimently evaluation to OpenFeature's resolution details. An engine error
 * code becomes OpenFeature's (unknown ones `GENERAL`), a value of the wrong type is `TYPE_MISMATCH`
 * with the caller's default, and rule, experiment and ruleset become flag metadata.
 *
 * Only types come from `@openfeature/core` (both SDKs re-export its `ErrorCode` and
 * `ResolutionDetails`); each provider hands in the `ErrorCode` enum of its own SDK, so this module
 * adds no import at run time.
 */

import type { ErrorCode, FlagMetadata, ResolutionDetails } from "@openfeature/core";

/** The engine's error codes, each OpenFeature's code of the same name; any other is `GENERAL`. */
const CODES = ["FLAG_NOT_FOUND", "TYPE_MISMATCH", "PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"] as const;

/** An evaluation as both clients give it, in OpenFeature's terms. */
export interface Evaluated {
  value: unknown;
  variation: string | null;
  reason: string;
  errorCode: string | null;
  /** rule_id, experiment_key, experiment_variant, ruleset_version: those that are not null */
  metadata: Record<string, string | null>;
}

/** The value if it fits the requested type, else the fallback with the error OpenFeature expects. */
export function toResolution<T>(
  codes: typeof ErrorCode,
  flagKey: string,
  fallback: T,
  fits: (v: unknown) => boolean,
  d: Evaluated,
): ResolutionDetails<T> {
  if (d.errorCode !== null) {
    const known = CODES.find((code) => code === d.errorCode);
    return { value: fallback, reason: "ERROR", errorCode: codes[known ?? "GENERAL"], errorMessage: `experimently: ${d.errorCode}` };
  }
  if (!fits(d.value)) {
    return { value: fallback, reason: "ERROR", errorCode: codes.TYPE_MISMATCH, errorMessage: `flag '${flagKey}' is not of the requested type` };
  }
  const flagMetadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(d.metadata)) if (value !== null) flagMetadata[name] = value;
  return { value: d.value as T, reason: d.reason, flagMetadata: flagMetadata as FlagMetadata, ...(d.variation === null ? {} : { variant: d.variation }) };
}

/** Requested types: what each `resolve<Type>Evaluation` accepts as a flag's value. */
export const FITS = {
  boolean: (v: unknown): boolean => typeof v === "boolean",
  string: (v: unknown): boolean => typeof v === "string",
  number: (v: unknown): boolean => typeof v === "number",
  object: (v: unknown): boolean => typeof v === "object" && v !== null,
} as const;
