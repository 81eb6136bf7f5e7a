/**
 * An OpenFeature provider for `@openfeature/server-sdk` over the Node client (local evaluation).
 * Reasons, variants and error codes are the engine's (OpenFeature's vocabulary); see docs/sdk-js.md.
 */

import {
  type EvaluationContext,
  type JsonValue,
  type Provider,
  type ResolutionDetails,
  type TrackingEventDetails,
  ErrorCode,
  OpenFeatureEventEmitter,
  ProviderEvents,
} from "@openfeature/server-sdk";

import type { ExperimentationClient } from "../node/client.js";
import { FITS, toResolution } from "./resolution.js";

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
    const metadata = { rule_id: d.ruleId, experiment_key: d.experimentKey, experiment_variant: d.experimentVariant, ruleset_version: this.client.version };
    return toResolution(ErrorCode, flagKey, fallback, fits, { ...d, metadata });
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.resolve(flagKey, defaultValue, context, FITS.boolean);
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, defaultValue, context, FITS.string);
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, defaultValue, context, FITS.number);
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return this.resolve(flagKey, defaultValue, context, FITS.object);
  }

  /** `client.track(name, context, {value, ...properties})` becomes an Experimently event; without a
   * `targetingKey` the client refuses it as any event without a user (counted in `droppedEvents`). */
  track(trackingEventName: string, context: EvaluationContext, details: TrackingEventDetails): void {
    const { value, ...properties } = details;
    this.client.track(trackingEventName, context.targetingKey as string, value ?? null, properties as Record<string, unknown>);
  }
}
