/**
 * The browser client: never sees rules or segments. A client-side key (scope `client`) asks
 * `POST /api/v1/sdk/evaluate` for the values of the flags marked client-visible, for one context; values
 * are kept in memory and in localStorage, re-fetched on `identify`, and events leave with
 * `fetch(..., {keepalive: true})` (also when the page is hidden). See docs/sdk-js.md.
 */

export type Context = Record<string, unknown>;

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
  baseUrl?: string;
  /** The first context; `user_id` is the unit. */
  context?: Context;
  /** Where values survive reloads (default: `localStorage` when present; null: memory only). */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  fetch?: typeof fetch;
  timeout?: number;
  flushInterval?: number;
  eventCapacity?: number;
  sendEvents?: boolean;
  /** Re-fetch the current context's values this often (ms) and when the page becomes visible again; 0 (default): only on `identify`/`refresh`. */
  pollInterval?: number;
}

export type BrowserChangeListener = (keys: string[]) => void;

const STORAGE_KEY = "experimently:flags";

interface Event {
  event_id: string;
  name: string;
  user_id: string;
  timestamp: string;
  value?: number;
  properties?: Record<string, unknown>;
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

export class BrowserClient {
  private values: Record<string, FlagValue> = {};
  private context: Context = {};
  private readonly listeners: BrowserChangeListener[] = [];
  private readonly queue: Event[] = [];
  private readonly seen = new Set<string>();
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly storage: BrowserOptions["storage"];
  private readonly timer: ReturnType<typeof setInterval> | undefined;
  private readonly poller: ReturnType<typeof setInterval> | undefined;
  private generation = 0;
  private notBefore = 0; // the server's Retry-After
  dropped = 0;
  /** Resolves (never rejects) once the first context has fresh values (true) or could not get them. */
  ready: Promise<boolean>;

  constructor(private readonly options: BrowserOptions) {
    this.base = (options.baseUrl ?? "").replace(/\/+$/, "");
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
    if (options.sendEvents !== false) {
      this.timer = setInterval(() => void this.flush(), options.flushInterval ?? 5000);
      g.addEventListener?.("pagehide", () => void this.flush());
    }
    const poll = options.pollInterval ?? 0;
    if (poll > 0) this.poller = setInterval(() => void this.refresh(), poll);
    g.addEventListener?.("visibilitychange", () => {
      if (g.document?.visibilityState === "hidden") void this.flush();
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
    try {
      const { user_id, ...rest } = this.context;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.options.timeout ?? 5000);
      const response = await this.fetchFn(`${this.base}/api/v1/sdk/evaluate`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": this.options.clientKey },
        body: JSON.stringify({ user_id: user_id ?? null, context: rest }),
        signal: controller.signal,
      }).finally(() => clearTimeout(timer));
      if (response.status !== 200) return false;
      const values = ((await response.json()) as { data: { flags: Record<string, FlagValue> } }).data.flags;
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

  variationDetail(flagKey: string, defaultValue: unknown = null): FlagValue {
    const found = this.values[flagKey];
    if (found === undefined) {
      return { value: defaultValue, variation: null, reason: "ERROR", error_code: "FLAG_NOT_FOUND", experiment_key: null, experiment_variant: null };
    }
    if (defaultValue !== null && defaultValue !== undefined && found.value !== null && typeof found.value !== typeof defaultValue) {
      return { ...found, value: defaultValue, variation: null, reason: "ERROR", error_code: "TYPE_MISMATCH" };
    }
    const user = this.context.user_id;
    if (found.variation !== null && user !== undefined && user !== null) {
      const seen = `${flagKey}\u0000${String(user)}\u0000${found.variation}`;
      if (!this.seen.has(seen)) {
        this.seen.add(seen);
        this.enqueue("flag_exposure", undefined, { flag: flagKey, variation: found.variation });
      }
    }
    return found;
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

  /** Queue an event for the current context's user. */
  track(name: string, value?: number, properties?: Record<string, unknown>): void {
    this.enqueue(name, value, properties);
  }

  private enqueue(name: string, value?: number, properties?: Record<string, unknown>): void {
    const user = this.context.user_id;
    if (this.options.sendEvents === false || user === undefined || user === null) return;
    if (this.queue.length >= (this.options.eventCapacity ?? 1000)) {
      this.dropped++;
      return;
    }
    const event: Event = { event_id: randomId(), name, user_id: String(user), timestamp: new Date().toISOString() };
    if (value !== undefined) event.value = value;
    if (properties) event.properties = properties;
    this.queue.push(event);
  }

  /** Send queued events (keepalive, so it survives the page going away); true when accepted. */
  async flush(): Promise<boolean> {
    if (!this.queue.length) return true;
    if (Date.now() < this.notBefore) return false;
    const batch = this.queue.splice(0, 1000);
    try {
      const response = await this.fetchFn(`${this.base}/api/v1/events/batch`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": this.options.clientKey },
        body: JSON.stringify({ events: batch }),
        keepalive: true,
      });
      if (response.status === 429 || response.status >= 500) {
        this.queue.unshift(...batch); // retried at a later flush, never before Retry-After
        this.notBefore = Date.now() + Number(response.headers.get("retry-after") ?? 0) * 1000 || 0;
        return false;
      }
      if (response.status >= 300) this.dropped += batch.length;
      return response.status < 300;
    } catch {
      this.queue.unshift(...batch);
      return false;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.poller);
    await this.flush();
  }
}
