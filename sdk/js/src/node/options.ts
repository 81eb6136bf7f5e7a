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
  baseUrl?: string;
  /** Accepted for compatibility with the seed API; the key already fixes the environment. */
  environment?: string;
  initTimeout?: number;
  stream?: boolean;
  pollInterval?: number;
  reconnectCap?: number;
  streamReadTimeout?: number;
  offline?: boolean;
  /** A saved `GET /api/v1/sdk/flags` body (with or without the `data` envelope). */
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

export const consoleLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};
