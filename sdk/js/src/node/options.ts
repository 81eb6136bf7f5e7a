/** Options of the Node client (see docs/sdk-js.md for each). Durations are milliseconds. */

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ClientOptions {
  /** An API key of the environment with the scopes `evaluate` (and `track` for events). */
  apiKey: string;
  /** The server's root URL (null: the default). */
  baseUrl?: string | null;
  /** Accepted for compatibility with the seed API; the key already fixes the environment. */
  environment?: string;
  initTimeout?: number;
  stream?: boolean;
  pollInterval?: number;
  reconnectCap?: number;
  streamReadTimeout?: number;
  offline?: boolean;
  /** A saved `GET /api/v1/sdk/flags` body (with or without the `data` envelope), parsed: an object
   * with a `flags` array. */
  bootstrap?: Record<string, unknown>;
  sendEvents?: boolean;
  eventCapacity?: number;
  eventBatchSize?: number;
  flushInterval?: number;
  dedupCapacity?: number;
  stickyTimeout?: number;
  httpTimeout?: number;
  closeTimeout?: number;
  logger?: Logger;
  /** The fetch implementation (default: the global one of Node 18+). */
  fetch?: typeof fetch;
}

export const DEFAULTS = {
  baseUrl: "http://127.0.0.1:8000",
  initTimeout: 5000,
  stream: true,
  pollInterval: 30_000,
  reconnectCap: 30_000,
  streamReadTimeout: 60_000,
  offline: false,
  sendEvents: true,
  eventCapacity: 10_000,
  eventBatchSize: 500,
  flushInterval: 2000,
  dedupCapacity: 100_000,
  stickyTimeout: 500,
  httpTimeout: 5000,
  closeTimeout: 5000,
};

export type Settings = typeof DEFAULTS;

/** The longest delay a timer takes (2^31 - 1 ms): beyond it, Node fires the timer at once. */
export const MAX_DELAY = 2 ** 31 - 1;
/** The shortest `pollInterval` used (ms): 0 polled in a tight loop, hundreds of requests a second. As
 * the Python SDK's `poll_interval`, at least 1 s. */
export const MIN_POLL_INTERVAL = 1000;
/** The shortest `reconnectCap` used (ms): a smaller one reconnected in a tight loop while the server was
 * down, hundreds of connection attempts a second. As the Python SDK's `reconnect_cap`, at least 1 s. */
export const MIN_RECONNECT_CAP = 1000;
/** The most events per request the server takes. */
const SERVER_BATCH_MAX = 1000;

type NumberOption = { [K in keyof Settings]: Settings[K] extends number ? K : never }[keyof Settings];

/** Each numeric option's smallest and largest value, and whether it counts (a whole number) or waits
 * (milliseconds). A value outside, or not a number, is one warning and the default (but see FLOORS). */
const BOUNDS: Record<NumberOption, [number, number, "count" | "ms"]> = {
  initTimeout: [0, MAX_DELAY, "ms"], // 0: evaluations do not wait for the first fetch
  pollInterval: [MIN_POLL_INTERVAL, MAX_DELAY, "ms"],
  reconnectCap: [MIN_RECONNECT_CAP, MAX_DELAY, "ms"],
  streamReadTimeout: [1, MAX_DELAY, "ms"],
  eventCapacity: [1, Number.MAX_SAFE_INTEGER, "count"],
  eventBatchSize: [1, SERVER_BATCH_MAX, "count"],
  flushInterval: [1, MAX_DELAY, "ms"],
  dedupCapacity: [1, Number.MAX_SAFE_INTEGER, "count"],
  stickyTimeout: [0, MAX_DELAY, "ms"],
  httpTimeout: [1, MAX_DELAY, "ms"],
  closeTimeout: [0, MAX_DELAY, "ms"],
};

/** Options whose number under the minimum (or NaN) is the minimum, not the default, and what the
 * minimum then means: 0 polled or reconnected in a tight loop. */
const FLOORS: Partial<Record<NumberOption, string>> = { pollInterval: "polling every", reconnectCap: "reconnecting after at most" };

/** What a log line may say of a value the application passed: numbers, null and undefined as they
 * are, anything else by its type only (a string may be a payload or a secret). */
export function describe(value: unknown): string {
  if (value === "") return "an empty string";
  if (value === null || value === undefined || typeof value === "number") return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** The options as the client uses them, `baseUrl` aside (see `checkedBaseUrl`): null and undefined
 * mean the default; a numeric option that is not a number, or out of its range, is one warning and
 * the default, except a `pollInterval` or `reconnectCap` under the minimum (or NaN), which is the
 * minimum. */
export function checkedOptions(options: ClientOptions, log: Logger): Settings {
  const settings: Settings = { ...DEFAULTS };
  for (const name of Object.keys(BOUNDS) as NumberOption[]) settings[name] = checkedNumber(name, options[name], log);
  settings.stream = options.stream ?? DEFAULTS.stream;
  settings.offline = options.offline ?? DEFAULTS.offline;
  settings.sendEvents = options.sendEvents ?? DEFAULTS.sendEvents;
  return settings;
}

function checkedNumber(name: NumberOption, value: unknown, log: Logger): number {
  const fallback = DEFAULTS[name];
  if (value === undefined || value === null) return fallback;
  const [min, max, kind] = BOUNDS[name];
  const floor = FLOORS[name];
  if (floor !== undefined && typeof value === "number" && !(value >= min)) {
    log.warn(`experimently: ${name} ${value} is below ${min} ms or not a number: ${floor} ${min} ms`);
    return min;
  }
  if (typeof value === "number" && value >= min && value <= max && (kind === "ms" || Number.isInteger(value))) return value;
  const what = kind === "ms" ? `a number of milliseconds from ${min} to ${max}` : `a whole number from ${min} to ${max}`;
  log.warn(`experimently: ${name} must be ${what}, not ${describe(value)}: using the default, ${fallback}`);
  return fallback;
}

/** The server's root URL as the client uses it (null and undefined: the default; a trailing `/api/v1`
 * cut, with one warning), or null with one error when it cannot be one: then the client makes no
 * request, as with an unusable key. Never a URL's credentials in a message. */
export function checkedBaseUrl(value: unknown, log: Logger): string | null {
  if (value === undefined || value === null) return DEFAULTS.baseUrl;
  let problem: string;
  if (typeof value !== "string") {
    problem = `baseUrl must be an http:// or https:// URL, not ${describe(value)}`;
  } else {
    let base = value.trim().replace(/\/+$/, "");
    let url: URL | null = null;
    try {
      url = new URL(base);
    } catch {
      // not a URL: said below
    }
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
      const shown = base.length > 100 ? `${base.slice(0, 100)}…` : base;
      problem = `baseUrl must be an http:// or https:// URL, not '${shown}'`;
    } else if (url.username !== "" || url.password !== "") {
      problem = "baseUrl holds credentials (user:password@), which fetch refuses to send";
    } else {
      if (/\/api\/v1$/i.test(base)) {
        base = base.slice(0, -"/api/v1".length).replace(/\/+$/, "");
        log.warn(`experimently: baseUrl should be the server's root, without /api/v1: using '${base}'`);
      }
      return base;
    }
  }
  log.error(`experimently: ${problem}: serving defaults (or the bootstrap), no network`);
  return null;
}

export const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};
