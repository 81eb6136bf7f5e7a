/**
 * An OpenFeature provider for `@openfeature/server-sdk` over the Node client (local evaluation).
 * Reasons, variants and error codes are the engine's (OpenFeature's vocabulary); see docs/sdk-js.md.
 */

import {
  type EvaluationContext,
  type FlagMetadata,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
} from "@openfeature/server-sdk";

import type { ExperimentationClient } from "../node/client.js";

const CODES: Record<string, ErrorCode> = {
  FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND,
  TYPE_MISMATCH: ErrorCode.TYPE_MISMATCH,
  PARSE_ERROR: ErrorCode.PARSE_ERROR,
  INVALID_CONTEXT: ErrorCode.INVALID_CONTEXT,
  GENERAL: ErrorCode.GENERAL,
};

export class ExperimentlyProvider implements Provider {
  readonly metadata = { name: "experimently" } as const;
  readonly runsOn = "server" as const;
  readonly events = new OpenFeatureEventEmitter();

  constructor(readonly client: ExperimentationClient) {
    client.onChange((change) => this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: change.keys }));
  }

  /** Ready once a ruleset is in use; throws (provider error) when none arrived within `initTimeout`. */
  async initialize(): Promise<void> {
    if (!(await this.client.waitForInitialization())) throw new Error("experimently: no ruleset within initTimeout");
  }

  async onClose(): Promise<void> {
    await this.client.close();
  }

  private async resolve<T>(flagKey: string, fallback: T, context: EvaluationContext, fits: (v: unknown) => boolean): Promise<ResolutionDetails<T>> {
    const { targetingKey, ...attributes } = context;
    const d = await this.client.variationDetail(flagKey, targetingKey ?? null, attributes as Record<string, unknown>, null);
    if (d.errorCode !== null) {
      return { value: fallback, reason: "ERROR", errorCode: CODES[d.errorCode] ?? ErrorCode.GENERAL, errorMessage: `experimently: ${d.errorCode}` };
    }
    if (!fits(d.value)) {
      return { value: fallback, reason: "ERROR", errorCode: ErrorCode.TYPE_MISMATCH, errorMessage: `flag '${flagKey}' is not of the requested type` };
    }
    const flagMetadata: Record<string, string> = {};
    if (d.ruleId !== null) flagMetadata.rule_id = d.ruleId;
    if (d.experimentKey !== null) flagMetadata.experiment_key = d.experimentKey;
    if (d.experimentVariant !== null) flagMetadata.experiment_variant = d.experimentVariant;
    if (this.client.version !== null) flagMetadata.ruleset_version = this.client.version;
    return { value: d.value as T, reason: d.reason, flagMetadata: flagMetadata as FlagMetadata, ...(d.variation === null ? {} : { variant: d.variation }) };
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.resolve(flagKey, defaultValue, context, (v) => typeof v === "boolean");
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, defaultValue, context, (v) => typeof v === "string");
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, defaultValue, context, (v) => typeof v === "number");
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.resolve(flagKey, defaultValue, context, (v) => typeof v === "object" && v !== null);
  }

  /** `client.track(name, context, {value, ...properties})` becomes an Experimently event. */
  track(trackingEventName: string, context: EvaluationContext, details: TrackingEventDetails): void {
    if (context.targetingKey === undefined) return;
    const { value, ...properties } = details;
    this.client.track(trackingEventName, context.targetingKey, value ?? null, properties as Record<string, unknown>);
  }
}
