/**
 * The browser client: never sees rules or segments. A client-side key (scope `client`) asks
 * `POST /api/v1/sdk/evaluate` for the values of the flags marked client-visible, for one context; values
 * are kept in memory and in localStorage, re-fetched on `identify`, and events leave with
 * `fetch(..., {keepalive: true})` (also when the page is hidden). See docs/sdk-js.md.
 */

import type { EvaluationDetail, Queued } from "../wire.js";

export type { EvaluationDetail };

/** `JSON.stringify`, strict: NaN and infinities throw (instead of becoming `null`), as cycles and BigInts
 * already do. The Node client's `strictJson` (src/wire.ts) again: the browser bundle is one file, with
 * no chunk to share at run time (types are shared, they leave no code). */
function strictJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError(`${v} is not a JSON number`);
    return v;
  });
}

export type Context = Record<string, unknown>;

/** A flag's value as `POST /api/v1/sdk/evaluate` answers it (and as the storage cache keeps it). */
export interface FlagValue {
  value: unknown;
  variation: string | null;
  reason: string;
  error_code: string | null;
  experiment_key: string | null;
  experiment_variant: string | null;
}


export interface BrowserOptions {
  /** A key of the `client` scope (add `track` to send events). */
  clientKey: string;
  /** The server's root URL (absent or null: the page's own origin). */
  baseUrl?: string | null;
  /** The first context; `user_id` is the unit. */
  context?: Context;
  /** Where values survive reloads (default: `localStorage` when present; null: memory only). */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  fetch?: typeof fetch;
  timeout?: number;
  flushInterval?: number;
  eventCapacity?: number;
  sendEvents?: boolean;
  /** Re-fetch the current context's values this often (ms, at least 1000) and when the page becomes
   * visible again; 0 (default): only on `identify`/`refresh`. */
  pollInterval?: number;
}

export type BrowserChangeListener = (keys: string[]) => void;

const STORAGE_KEY = "experimently:flags";
const MAX_BATCH = 1000; // events per request (the server's limit)
/** JSON per request: a `keepalive` request may carry at most 64 KiB (the Fetch standard's quota,
 * shared by the page's keepalive requests in flight), well under the server's body limit. */
const MAX_BATCH_BYTES = 60 * 1024;
const KEEPALIVE_MAX = 64 * 1024;
const USER_ID_MAX = 200; // the server's limit on an event's user_id, in characters (code points)
const NAME_MAX = 100; // the server's limit on an event's name, in characters (code points)
const MAX_DELAY = 2 ** 31 - 1; // the longest delay a timer takes: beyond it, the timer fires at once
const MIN_POLL_INTERVAL = 1000; // the shortest pollInterval (ms), as the Node client's
const RETRY_BASE = 500; // ms: the backoff after a first failed send, doubling after each
const RETRY_CAP = 30_000; // ms: the longest backoff between failed sends

interface Event {
  event_id: string;
  name: string;
  user_id: string;
  timestamp: string;
  value?: number;
  properties?: Record<string, unknown>;
}



/** The UTF-8 size of `json` (whose lone surrogates, if any, JSON.stringify has escaped). */
function utf8Length(json: string): number {
  let n = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdfff ? 2 : 3; // a surrogate pair: 4
  }
  return n;
}

function warn(message: string): void {
  globalThis.console?.warn(message);
}

/** What a log line may say of a value the page passed: numbers, null and undefined as they are,
 * anything else by its type only (a string may be anything). */
function describe(value: unknown): string {
  if (value === "") return "an empty string";
  if (value === null || value === undefined || typeof value === "number") return String(value);
  return Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** A numeric option as used: null or undefined, the default; not a number from `min` to the longest
 * delay (a whole one for a count), one warning and the default. */
function numberOption(name: string, value: unknown, fallback: number, min: number, whole = false): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value === "number" && value >= min && value <= MAX_DELAY && (!whole || Number.isInteger(value))) return value;
  warn(`experimently: ${name} must be a ${whole ? "whole number" : "number of milliseconds"} from ${min} to ${MAX_DELAY}, not ${describe(value)}: using the default, ${fallback}`);
  return fallback;
}

/** `pollInterval` as used: 0 (the default) is off; a number under the minimum (a negative one, NaN: a
 * tight loop against the key's rate limit, or none at all) is the minimum, with one warning. */
function pollOption(value: unknown): number {
  if (value === 0) return 0;
  if (typeof value === "number" && !(value >= MIN_POLL_INTERVAL)) {
    warn(`experimently: pollInterval ${value} is below ${MIN_POLL_INTERVAL} ms or not a number: polling every ${MIN_POLL_INTERVAL} ms`);
    return MIN_POLL_INTERVAL;
  }
  return numberOption("pollInterval", value, 0, MIN_POLL_INTERVAL);
}

/** Full-jitter exponential backoff (ms) after `attempt` consecutive failed sends, as the Node client's
 * `retryDelay` (src/node/events.ts) without its Retry-After part (kept apart: see `flushQueue`). A
 * copy, not an import, for the reason `strictJson` is one. */
function retryDelay(attempt: number): number {
  return Math.random() * Math.min(RETRY_CAP, RETRY_BASE * 2 ** Math.min(attempt, 20));
}

/** True when `text` is longer than `max` characters as the server counts them (code points). */
function over(text: string, max: number): boolean {
  return text.length > max && [...text].length > max;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An event's `user_id` as sent, or null when the server would refuse it (it takes a non-empty string;
 * a finite number is sent as its text). */
function eventUser(user: unknown): string | null {
  if (typeof user === "string") return user === "" ? null : user;
  return typeof user === "number" && Number.isFinite(user) ? String(user) : null;
}

/** The server's message from its error envelope, else the status text. */
async function errorMessage(response: Response): Promise<string> {
  try {
    const message = ((await response.json()) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return message;
  } catch {
    // not JSON: the status text says what there is to say
  }
  return response.statusText || "no message";
}

/** Why the rejected entry `r` (`{index, path, reason}`) of an accepted batch was refused, with the event's name. */
function describeRejected(r: { index?: unknown; path?: unknown; reason?: unknown; message?: unknown }, batch: Queued[]): string {
  let name = "?";
  try {
    name = String((JSON.parse(batch[r.index as number]!.json) as Event).name);
  } catch {
    // no such index
  }
  return `'${name}': ${r.path ? `${String(r.path)} ` : ""}${String(r.reason ?? r.message)}`;
}

/**
 * A UUIDv7 in hex, as ../ids.ts makes for the Node client (why: docs/events.md, "Event ids"). A copy,
 * not an import: dist/browser.js stays one file that a page can load as it is (a module both entries
 * import becomes a shared chunk). crypto.getRandomValues, unlike randomUUID, needs no secure context.
 */
function randomId(): string {
  const bytes = new Uint8Array(10); // 80 bits: 12 for rand_a, 62 for rand_b
  const c = globalThis.crypto as Crypto | undefined;
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  let tail = "";
  for (const b of bytes) tail += b.toString(16).padStart(2, "0");
  const variant = ((parseInt(tail[3]!, 16) & 3) | 8).toString(16);
  const ms = (Date.now() % 2 ** 48).toString(16).padStart(12, "0");
  return ms + "7" + tail.slice(0, 3) + variant + tail.slice(4, 19);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function errorDetail(flagKey: string, value: unknown, errorCode: string): EvaluationDetail {
  return { flagKey, value, variation: null, reason: "ERROR", errorCode, ruleId: null, experimentKey: null, experimentVariant: null };
}

export class BrowserClient {
  private values: Record<string, FlagValue> = {};
  private context: Context = {};
  private readonly listeners: BrowserChangeListener[] = [];
  private readonly queue: Queued[] = [];
  private readonly seen = new Set<string>();
  private readonly base: string;
  private readonly key: string | null; // null: no usable key or baseUrl, no network
  private readonly sending: boolean; // events are queued and sent
  private readonly fetchFn: typeof fetch;
  private readonly storage: BrowserOptions["storage"];
  private readonly timeout: number;
  private readonly capacity: number; // events held at most
  private failure: string | null = null; // the last failure said; said again only after values arrived
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly poller: ReturnType<typeof setInterval> | undefined;
  private generation = 0;
  private notBefore = 0; // the server's Retry-After: no send before it
  private backoffUntil = 0; // after failed sends: no periodic or explicit flush before it
  private failures = 0; // consecutive failed sends (no answer, 429 or 5xx)
  private refused = 0; // of `dropped`: events the server refused
  private readonly warnedNames = new Set<string>(); // event names already warned about (invalid events)
  private warnedLongUnit = false;
  dropped = 0;
  /** Of `dropped`: events that found the queue full. */
  private overflowed = 0;
  private overflowSaidAt = -Infinity;
  /** Resolves (never rejects) once the first context has fresh values (true) or could not get them. */
  ready: Promise<boolean>;

  constructor(options: BrowserOptions) {
    options = options ?? ({} as BrowserOptions); // a JavaScript caller may pass nothing: no key, said below
    // null or undefined: the page's origin; relative (a path) or http(s), else refused like a bad key
    const given: unknown = options.baseUrl ?? "";
    let base = typeof given === "string" ? given.trim().replace(/\/+$/, "") : "";
    let baseProblem: string | null = null;
    if (typeof given !== "string") baseProblem = `baseUrl must be an http:// or https:// URL, not ${describe(given)}`;
    else if (/^[a-z][a-z\d+.-]*:/i.test(base) && !/^https?:\/\//i.test(base)) {
      baseProblem = `baseUrl must be an http:// or https:// URL, not '${base.length > 100 ? `${base.slice(0, 100)}…` : base}'`;
    }
    if (/\/api\/v1$/i.test(base) && baseProblem === null) {
      base = base.slice(0, -"/api/v1".length).replace(/\/+$/, "");
      warn(`experimently: baseUrl should be the server's root, without /api/v1: using '${base}'`);
    }
    this.base = base;
    // trimmed: a key pasted with a line break; refused (never printed) when a header cannot carry it
    const key = typeof options.clientKey === "string" ? options.clientKey.trim() : "";
    const keyUsable = key !== "" && /^[\t\x20-\x7e\x80-\xff]*$/.test(key);
    this.key = keyUsable && baseProblem === null ? key : null;
    if (this.key === null) {
      globalThis.console?.error(
        baseProblem !== null
          ? `experimently: ${baseProblem}: serving cached values or defaults, no network`
          : key === ""
            ? "experimently: no client key: serving cached values or defaults, no network"
            : "experimently: the client key holds characters an HTTP header cannot carry: serving cached values or defaults, no network",
      );
    }
    this.timeout = numberOption("timeout", options.timeout, 5000, 1);
    this.capacity = numberOption("eventCapacity", options.eventCapacity, 1000, 1, true);
    const flushInterval = numberOption("flushInterval", options.flushInterval, 5000, 1);
    this.sending = options.sendEvents !== false && this.key !== null;
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    let storage = options.storage;
    if (storage === undefined) {
      try {
        storage = globalThis.localStorage ?? null;
      } catch {
        storage = null; // access denied (privacy settings)
      }
    }
    this.storage = storage;
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void; document?: { visibilityState?: string } };
    if (this.sending) {
      this.timer = setInterval(() => void this.flush(), flushInterval);
      g.addEventListener?.("pagehide", () => void this.flushQueue(true));
    }
    const poll = pollOption(options.pollInterval);
    if (poll > 0) this.poller = setInterval(() => void this.refresh(), poll);
    g.addEventListener?.("visibilitychange", () => {
      if (g.document?.visibilityState === "hidden") void this.flushQueue(true);
      else if (poll > 0) void this.refresh();
    });
    this.ready = this.identify(options.context ?? {});
  }

  /** Switch to `context`: cached values for it at once (if stored), then fresh ones from the server. */
  async identify(context: Context): Promise<boolean> {
    const generation = ++this.generation;
    this.context = { ...context };
    try {
      const stored = JSON.parse(this.storage?.getItem(STORAGE_KEY) ?? "null") as { context: Context; values: Record<string, FlagValue> } | null;
      if (stored && sameJson(stored.context, this.context)) this.replace(stored.values);
    } catch {
      // unreadable cache: ignore it
    }
    return this.fetchValues(generation);
  }

  /** Fetch the current context's values again (changes reach `onChange` listeners); never rejects. */
  refresh(): Promise<boolean> {
    return this.fetchValues(this.generation); // an identify meanwhile wins over this answer
  }

  private async fetchValues(generation: number): Promise<boolean> {
    if (this.key === null) return false;
    try {
      const { user_id, ...rest } = this.context;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeout);
      const response = await this.fetchFn(`${this.base}/api/v1/sdk/evaluate`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": this.key },
        body: JSON.stringify({ user_id: user_id ?? null, context: rest }),
        signal: controller.signal,
      }).finally(() => clearTimeout(timer));
      if (response.status !== 200) {
        // a refused key or a wrong baseUrl is said (once); an outage, a 429 or a 5xx leaves the cached
        // values in place and `ready` false, as a page going offline does
        if (response.status >= 400 && response.status < 500 && response.status !== 429) {
          const hint = response.status === 404 ? this.rootHint() : "";
          this.failed(`POST /api/v1/sdk/evaluate answered ${response.status}: ${await errorMessage(response)}${hint}`);
        }
        return false;
      }
      // a page that is not the server's (a proxy's, a console's: a baseUrl a path too deep) is not
      // the server answering, whatever its status; never quoted (it may be anything)
      const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
      let data: unknown;
      try {
        data = /json/i.test(type) ? ((await response.json()) as { data?: unknown }).data : undefined;
      } catch {
        // not JSON: said below
      }
      if (!isObject(data) || !isObject(data.flags)) {
        const what = /json/i.test(type) ? "a body that is not the server's values" : `${type.slice(0, 60) || "no content type"}, not JSON`;
        this.failed(`POST /api/v1/sdk/evaluate answered 200 with ${what}${this.rootHint()}`);
        return false;
      }
      const values = data.flags as Record<string, FlagValue>;
      this.failure = null;
      if (generation !== this.generation) return false; // a newer identify won
      this.replace(values);
      try {
        this.storage?.setItem(STORAGE_KEY, JSON.stringify({ context: this.context, values }));
      } catch {
        // storage full or denied: memory only
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Said once (`console.error`) until values arrive again: not once per poll. */
  private failed(failure: string): void {
    if (failure === this.failure) return;
    this.failure = failure;
    globalThis.console?.error(`experimently: ${failure}; serving cached values or defaults`);
  }

  private rootHint(): string {
    return this.base === "" ? " (is the page's origin the server's? set baseUrl)" : ` (is '${this.base}' the server's root URL?)`;
  }

  private replace(values: Record<string, FlagValue>): void {
    const old = this.values;
    this.values = values;
    const keys = [...new Set([...Object.keys(old), ...Object.keys(values)])].filter((k) => !sameJson(old[k], values[k]));
    if (!keys.length) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(keys.sort());
      } catch {
        // a failing listener does not stop the others
      }
    }
  }

  /** Call `listener(changedKeys)` whenever values change; returns an unsubscribe function. */
  onChange(listener: BrowserChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The flag's value with the reason, variation and error code: the Node client's shape. */
  variationDetail(flagKey: string, defaultValue: unknown = null): EvaluationDetail {
    const found = this.values[flagKey];
    if (found === undefined) return errorDetail(flagKey, defaultValue, "FLAG_NOT_FOUND");
    if (defaultValue !== null && defaultValue !== undefined && found.value !== null && typeof found.value !== typeof defaultValue) {
      return errorDetail(flagKey, defaultValue, "TYPE_MISMATCH");
    }
    const user = eventUser(this.context.user_id);
    if (found.variation !== null && user !== null) {
      const seen = `${flagKey}\u0000${user}\u0000${found.variation}`;
      if (!this.seen.has(seen)) {
        this.seen.add(seen);
        this.enqueue("flag_exposure", undefined, { flag: flagKey, variation: found.variation });
      }
    }
    return {
      flagKey,
      value: found.value,
      variation: found.variation,
      reason: found.reason,
      errorCode: found.error_code,
      ruleId: null,
      experimentKey: found.experiment_key,
      experimentVariant: found.experiment_variant,
    };
  }

  variation<T = unknown>(flagKey: string, defaultValue: T | null = null): T {
    return this.variationDetail(flagKey, defaultValue).value as T;
  }

  isEnabled(flagKey: string): boolean {
    return this.variationDetail(flagKey, false).value === true;
  }

  allFlags(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.values).map(([k, v]) => [k, v.value]));
  }

  /** Queue an event for the current context's user. An event that could never be sent (a name that
   * is not a string of 1 to 100 characters, no `user_id` in the context or one over 200 characters, a
   * value that is not a finite number, properties that are not strict JSON: NaN, an infinity, a
   * cycle, a BigInt) is not queued: it is counted in `dropped` and a warning names it (once per event
   * name). */
  track(name: string, value?: number | null, properties?: Record<string, unknown>): void {
    if (!this.sending) return;
    if (typeof name !== "string" || name === "" || over(name, NAME_MAX)) {
      const label = typeof name !== "string" ? describe(name) : name.length > NAME_MAX ? `${name.slice(0, NAME_MAX)}…` : name;
      this.invalid(
        label,
        typeof name !== "string"
          ? `the event name must be a string, not ${describe(name)}`
          : name === ""
            ? "the event name is empty"
            : `the event name is longer than the server takes (${NAME_MAX} characters)`,
      );
      return;
    }
    const user = eventUser(this.context.user_id);
    if (user === null) {
      this.invalid(name, `the context's user_id must be a non-empty string or a finite number, not ${describe(this.context.user_id)}`);
      return;
    }
    if (over(user, USER_ID_MAX)) {
      this.invalid(name, `the context's user_id is longer than the server takes (${USER_ID_MAX} characters)`);
      return;
    }
    if (value !== undefined && value !== null && (typeof value !== "number" || !Number.isFinite(value))) {
      this.invalid(name, typeof value === "number" ? `value must be a finite number, not ${value}` : `value must be a number, not ${typeof value}`);
      return;
    }
    if (properties !== undefined && properties !== null && (typeof properties !== "object" || Array.isArray(properties))) {
      this.invalid(name, "properties must be an object");
      return;
    }
    this.enqueue(name, value ?? undefined, properties ?? undefined);
  }

  private invalid(name: string, problem: string): void {
    this.dropped++;
    if (this.warnedNames.has(name) || this.warnedNames.size >= 1000) return;
    this.warnedNames.add(name);
    warn(`experimently: event '${name}' not sent: ${problem} (said once per event name)`);
  }

  private enqueue(name: string, value?: number, properties?: Record<string, unknown>): void {
    const userId = eventUser(this.context.user_id);
    if (!this.sending || userId === null) return;
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      this.overflowed++;
      const now = Date.now();
      if (now - this.overflowSaidAt >= 30_000) {
        this.overflowSaidAt = now; // said at once, then at most every 30 s
        warn(`experimently: the event queue is full (${this.capacity} events): ${this.overflowed} events dropped so far; the server may be unreachable`);
      }
      return;
    }
    if (name === "flag_exposure" && over(userId, USER_ID_MAX)) {
      this.dropped++; // the server would refuse it
      if (!this.warnedLongUnit) {
        this.warnedLongUnit = true;
        warn(`experimently: flag exposures of a user_id of ${[...userId].length} characters are not sent: the server takes at most ${USER_ID_MAX} (said once; each is counted in dropped)`);
      }
      return;
    }
    const event: Event = { event_id: randomId(), name, user_id: userId, timestamp: new Date().toISOString() };
    if (value !== undefined) event.value = value;
    if (properties) event.properties = properties;
    let json: string;
    try {
      json = strictJson(event); // encoded now: a later change of `properties` cannot block the queue
    } catch (exc) {
      this.invalid(name, `properties are not plain JSON (${(exc instanceof Error ? exc.message : String(exc)).split("\n")[0]})`);
      return;
    }
    this.queue.push({ json, bytes: utf8Length(json) });
  }

  /** Events at the head of the queue that make one request: at most 1,000 and 60 KiB of JSON (a
   * single larger event goes alone). */
  private batchLength(): number {
    let count = 0;
    let bytes = 0;
    for (const event of this.queue) {
      if (count >= MAX_BATCH || (count > 0 && bytes + event.bytes + 1 > MAX_BATCH_BYTES)) break;
      count++;
      bytes += event.bytes + 1;
    }
    return count;
  }

  /** Send queued events (keepalive, so it survives the page going away); true when all were accepted.
   * After a failed send it sends nothing until the backoff is over, nor before the server's
   * Retry-After, and answers false. */
  flush(): Promise<boolean> {
    return this.flushQueue(false);
  }

  /** `final` (the page is hidden or going away, or `close()`): one try even during the backoff, since
   * events still queued when the page goes are lost; never before the server's Retry-After. A failed
   * send backs off (full jitter, 500 ms doubling to 30 s) whatever the flushInterval, so an offline
   * page does not post as fast as its timer fires; the first batch answered ends the backoff. */
  private async flushQueue(final: boolean): Promise<boolean> {
    const refused = this.refused;
    while (this.queue.length) {
      const now = Date.now();
      if (now < this.notBefore || (!final && now < this.backoffUntil)) return false;
      const retry = await this.send(this.queue.splice(0, this.batchLength()));
      if (retry.length) {
        this.queue.unshift(...retry); // retried at a later flush, after the backoff and Retry-After
        this.backoffUntil = Date.now() + retryDelay(this.failures++);
        return false;
      }
      this.failures = 0;
      this.backoffUntil = 0;
    }
    return this.refused === refused;
  }

  /** Post `batch`; a 413 sends it again in halves (one event refused alone is dropped). Resolves to the
   * events to try again later (answered 429 or 5xx, or lost to the network), in order. */
  private async send(batch: Queued[]): Promise<Queued[]> {
    const body = `{"events":[${batch.map((e) => e.json).join(",")}]}`;
    let response: Response;
    try {
      response = await this.fetchFn(`${this.base}/api/v1/events/batch`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": this.key! },
        body,
        keepalive: utf8Length(body) <= KEEPALIVE_MAX, // beyond, a keepalive request is refused outright
      });
    } catch {
      return batch;
    }
    if (response.status === 413 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      const retry = await this.send(batch.slice(0, half));
      return retry.length ? [...retry, ...batch.slice(half)] : this.send(batch.slice(half));
    }
    if (response.status === 429 || response.status >= 500) {
      this.notBefore = Date.now() + Number(response.headers.get("retry-after") ?? 0) * 1000 || 0;
      return batch;
    }
    if (response.status >= 300) {
      this.dropped += batch.length;
      this.refused += batch.length;
      return [];
    }
    try {
      const rejected = ((await response.json()) as { data?: { rejected?: unknown } }).data?.rejected;
      if (Array.isArray(rejected) && rejected.length) {
        this.dropped += rejected.length;
        this.refused += rejected.length;
        const named = rejected.slice(0, 3).map((r) => describeRejected(r ?? {}, batch));
        warn(`experimently: the server refused ${rejected.length} events: ${named.join("; ")}${rejected.length > 3 ? `; and ${rejected.length - 3} more` : ""}`);
      }
    } catch {
      // no JSON body: nothing to say
    }
    return [];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.poller);
    await this.flushQueue(true);
  }
}
