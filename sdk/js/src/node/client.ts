/**
 * The Node client: evaluates locally on the environment's ruleset, kept current over the stream;
 * sends exposures and events in the background. No method throws or rejects into the application.
 */

import { randomBytes } from "node:crypto";

import { type CompiledExperiment, assign, compileExperiment } from "../engine/assignment.js";
import type { Context } from "../engine/conditions.js";
import { type EvaluationResult, type ExperimentResolver, Ruleset, errorResult, evaluate } from "../engine/flags.js";
import { unitText } from "../engine/values.js";
import { timeOrderedId } from "../ids.js";
import { Dedup, EventQueue, type WireEvent, invalidEvent, invalidName, nameLabel } from "./events.js";
import { USER_ID_MAX, codePoints, exposureId } from "./exposures.js";
import { type ClientOptions, type Logger, type Settings, checkedBaseUrl, checkedOptions, consoleLogger, describe } from "./options.js";
import { Updater } from "./updater.js";
import type { EvaluationDetail } from "../wire.js";

export type { EvaluationDetail };

export const VERSION = "0.1.0";
const RUNNING = "running";
const WARNED_NAMES_MAX = 1000; // event names whose invalid events were logged at `warn`
/** What an HTTP header value may hold (RFC 9110 field-value: visible characters, spaces, tabs, obs-text). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;


/** A new ruleset is in use: its version and the flag and experiment keys whose definition changed. */
export interface ChangeEvent {
  /** As `version`: the server's ETag of the ruleset, or `"bootstrap"`. */
  version: string | null;
  keys: string[];
}

export type ChangeListener = (event: ChangeEvent) => void;

interface Snapshot {
  version: string | null;
  payload: Record<string, unknown>;
  ruleset: Ruleset;
  experiments: ReadonlyMap<string, CompiledExperiment>;
}

const EMPTY: Snapshot = { version: null, payload: {}, ruleset: Ruleset.empty(), experiments: new Map() };

type Attributes = Record<string, unknown>;

/** What one evaluation pass needs from the server (sticky look-ups) and what it exposed. */
interface Pass {
  missing: Array<[CompiledExperiment, string, Context]>;
  exposures: Array<[string, string, string]>;
}

function buildContext(userId: unknown, attributes: Attributes | undefined): Context {
  const context: Context = attributes ? { ...attributes } : {};
  if (userId !== undefined && userId !== null) context.user_id = userId;
  return context;
}

/** An event's `user_id` as sent, or null when the server would refuse it (it takes a non-empty string;
 * a finite number is sent as its text). */
function eventUser(userId: unknown): string | null {
  if (typeof userId === "string") return userId === "" ? null : userId;
  if (typeof userId === "number" && Number.isFinite(userId)) return String(userId);
  return null;
}

/** `log` with every occurrence of `secret` masked: no message shows the SDK key whole, whatever an
 * error (a `fetch` implementation's, say) quotes. Keys under 8 characters are not real keys. */
function redacting(log: Logger, secret: string): Logger {
  if (secret.length < 8) return log;
  const mask = `${secret.slice(0, 4)}…`;
  const clean = (m: string): string => (m.includes(secret) ? m.split(secret).join(mask) : m);
  return {
    debug: (m) => log.debug(clean(m)),
    info: (m) => log.info(clean(m)),
    warn: (m) => log.warn(clean(m)),
    error: (m) => log.error(clean(m)),
  };
}

function detail(r: EvaluationResult): EvaluationDetail {
  return {
    flagKey: r.flagKey,
    value: r.value,
    variation: r.variation,
    reason: r.reason,
    errorCode: r.errorCode,
    ruleId: r.ruleId,
    experimentKey: r.experimentKey,
    experimentVariant: r.experimentVariant,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stableJson(value: unknown): string {
  return JSON.stringify(value);
}

export class ExperimentationClient {
  private snapshot: Snapshot = EMPTY;
  private readonly listeners: ChangeListener[] = [];
  private readonly opts: Settings;
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly updater: Updater | null = null;
  private readonly events: EventQueue | null = null;
  private readonly exposureDedup: Dedup;
  private readonly flagDedup: Dedup;
  private readonly sticky = new Map<string, string | null>();
  private readonly ready: Promise<void>;
  private settled = false; // `ready` has resolved: evaluations need not wait for it
  private readonly stopAll = new AbortController();
  private closed = false;
  /** Callers of `waitForInitialization` waiting for a ruleset: told true on one, false on close. */
  private readonly waiters = new Set<(ok: boolean) => void>();
  private readonly warnedNames = new Set<string>(); // event names already warned about (invalid events)
  private warnedLongUnit = false;

  constructor(options: ClientOptions) {
    options = options ?? ({} as ClientOptions); // a JavaScript caller may pass nothing: no key, said below
    // a key read from a mounted secret often ends with a line break: it is not part of the key
    const apiKey = typeof options.apiKey === "string" ? options.apiKey.trim() : "";
    this.log = redacting(options.logger ?? consoleLogger, apiKey);
    this.opts = checkedOptions(options, this.log);
    if (!this.opts.offline) {
      const base = checkedBaseUrl(options.baseUrl, this.log); // null: said, and no network
      if (base === null) this.opts.offline = true;
      else this.opts.baseUrl = base;
    }
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.headers = { "X-API-Key": apiKey, "User-Agent": `experimently-sdk-js/${VERSION}` };
    this.exposureDedup = new Dedup(this.opts.dedupCapacity);
    this.flagDedup = new Dedup(this.opts.dedupCapacity);
    if (options.bootstrap !== undefined && options.bootstrap !== null) this.loadBootstrap(options.bootstrap);
    if (!this.opts.offline && (apiKey === "" || !HEADER_VALUE.test(apiKey))) {
      // never the key itself in the message: it is a secret
      this.log.error(
        apiKey === ""
          ? "experimently: no SDK key: serving defaults (or the bootstrap), no network"
          : "experimently: the SDK key holds characters an HTTP header cannot carry (a line break or a control character inside it?): serving defaults (or the bootstrap), no network",
      );
      this.opts.offline = true;
    }
    if (this.opts.offline) {
      this.ready = Promise.resolve();
      this.settled = true;
      return;
    }
    if (this.opts.sendEvents) {
      this.events = new EventQueue(
        (body) => this.post("/api/v1/events/batch", body, this.opts.httpTimeout),
        this.log,
        this.opts.eventCapacity,
        this.opts.eventBatchSize,
        this.opts.flushInterval,
      );
    }
    this.updater = new Updater({
      baseUrl: this.opts.baseUrl,
      headers: this.headers,
      fetch: this.fetchFn,
      stream: this.opts.stream,
      pollInterval: this.opts.pollInterval,
      reconnectCap: this.opts.reconnectCap,
      readTimeout: this.opts.streamReadTimeout,
      httpTimeout: this.opts.httpTimeout,
      log: this.log,
      version: () => this.snapshot.version,
      apply: (version, payload) => this.onPayload(version, payload),
    });
    this.updater.start();
    const first = this.updater.firstAttempt;
    this.ready = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.initTimeout);
      void first.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
    void this.ready.then(() => (this.settled = true));
  }

  // ----- state ------------------------------------------------------------------------------------

  /** True once a ruleset (from the server or the bootstrap) is in use. */
  get initialized(): boolean {
    return this.snapshot.version !== null;
  }

  /** The version of the ruleset in use: the server's ETag of it, or `"bootstrap"` while the bootstrap
   * is in use (a saved body has no ETag); null before any ruleset. */
  get version(): string | null {
    return this.snapshot.version;
  }

  get droppedEvents(): number {
    return this.events?.dropped ?? 0;
  }

  /** True as soon as a ruleset (the server's or the bootstrap) is in use; else waits for one, through
   * failed attempts (the server may be starting), at most `initTimeout`, and resolves false. Offline
   * (or without a usable key) or closed, with no ruleset: false at once. */
  waitForInitialization(): Promise<boolean> {
    if (this.initialized) return Promise.resolve(true);
    if (this.opts.offline || this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(this.initialized), this.opts.initTimeout); // ref'd: the caller waits for it
      this.waiters.add(done);
    });
  }

  /** Call `listener` after each new ruleset; returns a function that removes it. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  // ----- rulesets ---------------------------------------------------------------------------------

  /** Use a saved `GET /api/v1/sdk/flags` body (with or without the `data` envelope): an object with a
   * `flags` array, as the Python SDK checks. Anything else is one error that never quotes it (it may
   * list segment members: user ids, e-mail addresses), and the client is not initialized by it. */
  private loadBootstrap(source: unknown): void {
    const ignored = (why: string): void => this.log.error(`experimently: bootstrap ignored: ${why}`);
    if (typeof source === "string") return ignored("it is a string; pass the parsed object (JSON.parse)");
    const payload = isObject(source) && isObject(source.data) ? source.data : source;
    if (!isObject(payload) || !Array.isArray(payload.flags)) return ignored("not an SDK payload (GET /api/v1/sdk/flags)");
    try {
      this.install("bootstrap", payload);
    } catch (exc) {
      ignored(`it could not be used (${exc instanceof Error ? exc.name : typeof exc})`); // its message may quote the payload
    }
  }

  private onPayload(version: string, payload: Record<string, unknown>): void {
    try {
      this.install(version, payload);
    } catch (exc) {
      this.log.error(`experimently: ruleset ${version} could not be used; keeping the previous one: ${String(exc)}`);
    }
  }

  private install(version: string, payload: Record<string, unknown>): void {
    const old = this.snapshot;
    const ruleset = Ruleset.fromPayload(payload, { previous: old.ruleset });
    for (const [key, problems] of ruleset.errors) this.log.warn(`experimently: flag '${key}' refused: ${JSON.stringify(problems)}`);
    const experiments = new Map<string, CompiledExperiment>();
    for (const doc of Array.isArray(payload.experiments) ? payload.experiments : []) {
      try {
        const key = String((doc as Record<string, unknown>).key);
        const previous = old.experiments.get(key);
        experiments.set(key, previous !== undefined && stableJson(previous.document) === stableJson(doc) ? previous : compileExperiment(doc));
      } catch (exc) {
        this.log.warn(`experimently: experiment refused: ${String(exc)}`);
      }
    }
    const next: Snapshot = { version, payload, ruleset, experiments };
    this.snapshot = next;
    for (const done of [...this.waiters]) done(true);
    const keys = changedKeys(old, next);
    for (const [exp] of experiments) if (keys.has(exp)) this.forgetSticky(exp);
    for (const listener of [...this.listeners]) {
      try {
        listener({ version, keys: [...keys].sort() });
      } catch (exc) {
        this.log.error(`experimently: change listener failed: ${String(exc)}`);
      }
    }
  }

  private forgetSticky(experimentKey: string): void {
    for (const key of this.sticky.keys()) if (key.startsWith(experimentKey + "\u0000")) this.sticky.delete(key);
  }

  // ----- evaluation -------------------------------------------------------------------------------

  private resolver(snapshot: Snapshot, pass: Pass, local: Map<string, string | null>): ExperimentResolver {
    return (key, context) => {
      const exp = snapshot.experiments.get(key);
      if (exp === undefined || exp.status !== RUNNING) return null;
      const unit = unitText(context[exp.bucketBy]);
      if (unit === null || unit === "") return null; // an empty unit names nobody: the server leaves it out too
      if (unit.length > USER_ID_MAX && codePoints(unit) > USER_ID_MAX) {
        // the server leaves such a unit out of experiments: so does the SDK
        this.unitTooLong(exp.key, unit);
        return null;
      }
      let variant: string | null;
      const entry = key + "\u0000" + unit;
      if (exp.overrides.has(unit)) variant = exp.overrides.get(unit)!;
      else if (exp.serverSticky && this.sticky.has(entry)) variant = this.sticky.get(entry)!;
      else if (exp.serverSticky && local.has(entry)) variant = local.get(entry)!;
      else {
        variant = assign(exp, context, snapshot.ruleset.segmentMatchers).variant;
        if (exp.serverSticky) pass.missing.push([exp, unit, context]);
      }
      if (variant !== null) pass.exposures.push([exp.key, unit, variant]);
      return variant;
    };
  }

  /**
   * Run `fn` with an experiment resolver; experiments the payload marks `"assignment": "server"` are
   * asked of the server once per unit (at most `stickyTimeout`), exactly as the Python client does.
   */
  private decide<T>(fn: (snapshot: Snapshot, resolver: ExperimentResolver) => T): T | Promise<T> {
    if (this.settled) {
      // the common case, without a Promise: ready, and no server-assigned experiment to ask about
      const snapshot = this.snapshot;
      const local = new Map<string, string | null>();
      const pass: Pass = { missing: [], exposures: [] };
      const out = fn(snapshot, this.resolver(snapshot, pass, local));
      if (!pass.missing.length) {
        for (const [exp, unit, variant] of pass.exposures) this.exposure(exp, unit, variant);
        return out;
      }
    }
    return this.decideAsync(fn);
  }

  private async decideAsync<T>(fn: (snapshot: Snapshot, resolver: ExperimentResolver) => T): Promise<T> {
    await this.ready;
    const snapshot = this.snapshot;
    const local = new Map<string, string | null>();
    for (let round = 0; ; round++) {
      const pass: Pass = { missing: [], exposures: [] };
      const out = fn(snapshot, this.resolver(snapshot, pass, local));
      if (!pass.missing.length || round >= 3) {
        for (const [exp, unit, variant] of pass.exposures) this.exposure(exp, unit, variant);
        return out;
      }
      await Promise.all(pass.missing.map(([exp, unit, context]) => this.lookUp(exp, unit, context, local)));
    }
  }

  private async lookUp(exp: CompiledExperiment, unit: string, context: Context, local: Map<string, string | null>): Promise<void> {
    const entry = exp.key + "\u0000" + unit;
    const fallback = assign(exp, context, this.snapshot.ruleset.segmentMatchers).variant;
    if (this.opts.offline) {
      local.set(entry, fallback);
      return;
    }
    try {
      const rest = Object.fromEntries(Object.entries(context).filter(([k]) => k !== exp.bucketBy));
      const response = await this.post(
        `/api/v1/experiments/${encodeURIComponent(exp.key)}/assign`,
        JSON.stringify({ unit_id: unit, context: rest }),
        this.opts.stickyTimeout,
      );
      if (response.status !== 200) {
        this.log.info(`experimently: sticky look-up answered ${response.status}`);
        local.set(entry, fallback);
        return;
      }
      const variant = ((await response.json()) as { data: { variant: unknown } }).data.variant;
      this.sticky.set(entry, variant === null || variant === undefined ? null : String(variant));
      if (this.sticky.size > this.opts.dedupCapacity) this.sticky.delete(this.sticky.keys().next().value as string);
    } catch (exc) {
      this.log.info(`experimently: sticky look-up failed (${String(exc)}); using the buckets`);
      local.set(entry, fallback);
    }
  }

  /** The result at once when the client is ready and no server look-up is needed, else a Promise of it. */
  private evaluateOne(flagKey: string, userId: unknown, attributes: Attributes | undefined, fallback: unknown): EvaluationResult | Promise<EvaluationResult> {
    const failed = (exc: unknown): EvaluationResult => {
      this.log.error(`experimently: evaluation of '${flagKey}' failed: ${String(exc)}`);
      return errorResult(flagKey, fallback, "GENERAL");
    };
    const done = (result: EvaluationResult): EvaluationResult => {
      const user = result.variation !== null ? eventUser(userId) : null; // no user, no exposure
      if (user !== null) this.flagExposure(flagKey, user, result.variation!);
      return result;
    };
    try {
      const context = buildContext(userId, attributes);
      const result = this.decide((s, resolver) => evaluate(s.ruleset, flagKey, context, fallback, resolver));
      return result instanceof Promise ? result.then(done).catch(failed) : done(result);
    } catch (exc) {
      return failed(exc);
    }
  }

  /** The flag's value for this user, with the reason, variation and error code. */
  async variationDetail(flagKey: string, userId?: string | number | null, attributes?: Attributes, defaultValue: unknown = null): Promise<EvaluationDetail> {
    return detail(await this.evaluateOne(flagKey, userId, attributes, defaultValue));
  }

  /** The flag's value for this user (`defaultValue` when it cannot be evaluated). */
  async variation<T = unknown>(flagKey: string, userId?: string | number | null, attributes?: Attributes, defaultValue: T | null = null): Promise<T> {
    return (await this.evaluateOne(flagKey, userId, attributes, defaultValue)).value as T;
  }

  /** True only when the flag's value is `true` (the seed's API). */
  async isFeatureEnabled(featureKey: string, userId?: string | number | null, attributes?: Attributes): Promise<boolean> {
    return (await this.evaluateOne(featureKey, userId, attributes, false)).value === true;
  }

  /** Every flag's value for this user (flags the ruleset refused are left out). */
  async allFlags(userId?: string | number | null, attributes?: Attributes): Promise<Record<string, unknown>> {
    try {
      await this.ready;
      const out: Record<string, unknown> = {};
      for (const key of this.snapshot.ruleset.compiled.keys()) out[key] = (await this.evaluateOne(key, userId, attributes, null)).value;
      return out;
    } catch (exc) {
      this.log.error(`experimently: allFlags failed: ${String(exc)}`);
      return {};
    }
  }

  /** The unit's variant of a running experiment, or null (not running, not targeted, excluded). */
  async getVariant(experimentKey: string, unitId: string | number, attributes?: Attributes): Promise<string | null> {
    try {
      return await this.decide((snapshot, resolver) => {
        const exp = snapshot.experiments.get(experimentKey);
        if (exp === undefined) return null;
        const context: Context = attributes ? { ...attributes } : {};
        context[exp.bucketBy] = unitId;
        return resolver(experimentKey, context);
      });
    } catch (exc) {
      this.log.error(`experimently: getVariant of '${experimentKey}' failed: ${String(exc)}`);
      return null;
    }
  }

  // ----- events -----------------------------------------------------------------------------------

  /** Queue an event (no I/O here; batches are sent in the background). An event that could never be
   * sent (a name that is not a string of 1 to 100 characters; no user id: null, undefined, an empty
   * string, anything but a string or a finite number; a user id over 200 characters; a value that is
   * not a finite number; properties that are not strict JSON: NaN, an infinity, a cycle, a BigInt) is
   * not queued: it is logged and counted in `droppedEvents`. After `close()` nothing is queued
   * (counted too, said once). */
  track(name: string, userId: string | number, value?: number | null, properties?: Record<string, unknown>): void {
    try {
      if (this.events === null) return;
      const user = eventUser(userId);
      const problem =
        invalidName(name) ??
        (user === null
          ? `user_id must be a non-empty string or a finite number, not ${describe(userId)}`
          : user.length > USER_ID_MAX && codePoints(user) > USER_ID_MAX
            ? `user_id is longer than the server takes (${USER_ID_MAX} characters)`
            : invalidEvent(value, properties));
      if (user === null || problem !== null) {
        this.events.dropped++;
        this.invalid(nameLabel(name), problem!);
        return;
      }
      const event: WireEvent = { event_id: randomId(), name, user_id: user, timestamp: new Date().toISOString() };
      if (value !== undefined && value !== null) event.value = value;
      if (properties && Object.keys(properties).length) event.properties = properties;
      const unencodable = this.events.add(event); // encoded now, strictly: counted as dropped when it cannot be
      if (unencodable !== null) this.invalid(name, `properties are not plain JSON (${unencodable})`);
    } catch (exc) {
      this.log.error(`experimently: track failed: ${String(exc)}`);
    }
  }

  private invalid(name: string, problem: string): void {
    if (this.warnedNames.has(name) || this.warnedNames.size >= WARNED_NAMES_MAX) {
      this.log.debug(`experimently: event '${name}' not sent: ${problem}`);
      return;
    }
    this.warnedNames.add(name);
    this.log.warn(`experimently: event '${name}' not sent: ${problem} (said once per event name)`);
  }

  /** Said once per client: a unit the server would leave out of every experiment. */
  private unitTooLong(experimentKey: string, unit: string): void {
    if (this.warnedLongUnit) return;
    this.warnedLongUnit = true;
    this.log.warn(
      `experimently: a unit of ${codePoints(unit)} characters is in no experiment (${experimentKey}): the server stores at most ${USER_ID_MAX} (said once per client)`,
    );
  }

  /** True (and the exposure counted as dropped) when `unit` is longer than the server takes as a
   * `user_id`: the server would refuse the exposure, so it is not queued. */
  private tooLong(events: EventQueue, kind: string, unit: string): boolean {
    if (unit.length <= USER_ID_MAX) return false;
    const length = codePoints(unit);
    if (length <= USER_ID_MAX) return false;
    events.dropped++;
    if (!this.warnedLongUnit) {
      this.warnedLongUnit = true;
      this.log.warn(
        `experimently: ${kind} of a unit of ${length} characters not sent: the server takes at most ${USER_ID_MAX} (said once per client; each is counted in droppedEvents)`,
      );
    }
    return true;
  }

  private exposure(experimentKey: string, unit: string, variant: string): void {
    if (this.events !== null && this.exposureDedup.first(`${experimentKey}\u0000${unit}\u0000${variant}`)) {
      if (this.tooLong(this.events, "an exposure", unit)) return;
      this.events.add({
        event_id: exposureId(experimentKey, unit), // the server's own: stored once whoever sends it
        name: "exposure",
        user_id: unit,
        timestamp: new Date().toISOString(),
        experiment_key: experimentKey,
        variant,
      });
    }
  }

  private flagExposure(flagKey: string, userId: string, variation: string): void {
    if (this.events !== null && this.flagDedup.first(`${flagKey}\u0000${userId}\u0000${variation}`)) {
      if (this.tooLong(this.events, "a flag exposure", userId)) return;
      this.events.add({
        event_id: randomId(),
        name: "flag_exposure",
        user_id: userId,
        timestamp: new Date().toISOString(),
        properties: { flag: flagKey, variation },
      });
    }
  }

  /** Send queued events now; true when everything was accepted within `timeout` ms. */
  async flush(timeout?: number): Promise<boolean> {
    try {
      return this.events === null ? true : await this.events.flush(timeout ?? this.opts.closeTimeout);
    } catch (exc) {
      this.log.error(`experimently: flush failed: ${String(exc)}`);
      return false;
    }
  }

  /** Stop updates and send what is queued (at most `closeTimeout`). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const done of [...this.waiters]) done(false);
    try {
      this.updater?.close();
      this.stopAll.abort();
      await this.events?.close(this.opts.closeTimeout);
    } catch (exc) {
      this.log.error(`experimently: close failed: ${String(exc)}`);
    }
  }

  /** POST a JSON `body` (already encoded). */
  private post(path: string, body: string, timeout: number): Promise<Response> {
    return this.fetchFn(this.opts.baseUrl + path, {
      method: "POST",
      headers: { ...this.headers, "Content-Type": "application/json" },
      body,
      signal: AbortSignal.timeout(timeout),
    });
  }
}

function randomId(): string {
  return timeOrderedId((n) => randomBytes(n)); // node:crypto: the global `crypto` needs Node 19+
}

function changedKeys(old: Snapshot, next: Snapshot): Set<string> {
  const flags = (s: Snapshot): Map<string, string> =>
    new Map(
      (Array.isArray(s.payload.flags) ? s.payload.flags : []).map((f: Record<string, unknown>) => [String(f.key), stableJson(f)]),
    );
  const keys = new Set<string>();
  const a = flags(old);
  const b = flags(next);
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) keys.add(k);
  for (const k of new Set([...old.experiments.keys(), ...next.experiments.keys()])) {
    const x = old.experiments.get(k)?.document;
    const y = next.experiments.get(k)?.document;
    if (stableJson(x) !== stableJson(y)) keys.add(k);
  }
  return keys;
}

/** The seed's name and a shorter one. */
export { ExperimentationClient as Client };
