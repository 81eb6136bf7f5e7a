/**
 * An OpenFeature provider for `@openfeature/web-sdk` over the browser client (values evaluated by the
 * server for one context, read synchronously). Reasons, variants and error codes are the server's
 * (OpenFeature's vocabulary); see docs/sdk-js.md.
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
} from "@openfeature/web-sdk";

import type { BrowserClient, Context } from "../browser/index.js";
import { FITS, toResolution } from "./resolution.js";

/** OpenFeature's context as the client's: `targetingKey` is the `user_id`. */
export function toContext(context: EvaluationContext): Context {
  const { targetingKey, ...attributes } = context;
  return targetingKey === undefined ? { ...attributes } : { ...attributes, user_id: targetingKey };
}

export class ExperimentlyWebProvider implements Provider {
  readonly metadata = { name: "experimently-web" } as const;
  readonly runsOn = "client" as const;
  readonly events = new OpenFeatureEventEmitter();
  private reconciling = 0;

  constructor(readonly client: BrowserClient) {
    // values changed by refresh or polling: a configuration change (a context change is the SDK's own event)
    client.onChange((keys) => {
      if (this.reconciling === 0) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: keys });
    });
  }

  private async identify(context: EvaluationContext): Promise<boolean> {
    this.reconciling++;
    try {
      return await this.client.identify(toContext(context));
    } finally {
      this.reconciling--;
    }
  }

  /** Ready with fresh values, or with values cached for this context; a provider error otherwise. */
  async initialize(context?: EvaluationContext): Promise<void> {
    const fresh = context !== undefined && Object.keys(context).length ? await this.identify(context) : await this.client.ready;
    if (!fresh && !Object.keys(this.client.allFlags()).length) {
      throw new Error("experimently: no flag values (server unreachable and nothing cached for this context)");
    }
  }

  /** The SDK emits `Reconciling` while this runs, then `ContextChanged` (or `Error` when it throws). */
  async onContextChange(_old: EvaluationContext, context: EvaluationContext): Promise<void> {
    if (!(await this.identify(context))) throw new Error("experimently: no fresh values for the new context");
  }

  async onClose(): Promise<void> {
    await this.client.close();
  }

  private resolve<T>(flagKey: string, fallback: T, fits: (v: unknown) => boolean): ResolutionDetails<T> {
    const d = this.client.variationDetail(flagKey, null);
    const metadata = { experiment_key: d.experimentKey, experiment_variant: d.experimentVariant };
    return toResolution(ErrorCode, flagKey, fallback, fits, { value: d.value, variation: d.variation, reason: d.reason, errorCode: d.errorCode, metadata });
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean): ResolutionDetails<boolean> {
    return this.resolve(flagKey, defaultValue, FITS.boolean);
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string): ResolutionDetails<string> {
    return this.resolve(flagKey, defaultValue, FITS.string);
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number): ResolutionDetails<number> {
    return this.resolve(flagKey, defaultValue, FITS.number);
  }

  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T): ResolutionDetails<T> {
    return this.resolve(flagKey, defaultValue, FITS.object);
  }

  /** `client.track(name, {value, ...properties})` becomes an event of the current context's user. */
  track(trackingEventName: string, _context: EvaluationContext, details: TrackingEventDetails): void {
    const { value, ...properties } = details;
    this.client.track(trackingEventName, value, Object.keys(properties).length ? (properties as Record<string, unknown>) : undefined);
  }
}
