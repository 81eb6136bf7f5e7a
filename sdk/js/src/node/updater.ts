/**
 * Keeping the ruleset current: the first fetch, then the stream (`GET /api/v1/sdk/stream`, with
 * `Last-Event-ID`), falling back to polling `GET /api/v1/sdk/flags` (with `If-None-Match`).
 */

import { createParser } from "eventsource-parser";

import { errorMessage } from "./answers.js";
import type { Logger } from "./options.js";

export interface UpdaterConfig {
  baseUrl: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  stream: boolean;
  pollInterval: number;
  reconnectCap: number;
  readTimeout: number;
  httpTimeout: number;
  log: Logger;
  version: () => string | null;
  apply: (version: string, payload: Record<string, unknown>) => void;
}

type Outcome = "clean" | "failed" | "busy" | "unsupported";

export class Updater {
  connected = false;
  reconnects = 0;
  private readonly stop = new AbortController();
  private useStream: boolean;
  private failure: string | null = null;
  private busySaid = false; // a stream refused with 429 was said; said again only after a stream was open
  readonly firstAttempt: Promise<void>;
  private firstDone!: () => void;

  constructor(private readonly config: UpdaterConfig) {
    this.useStream = config.stream;
    this.firstAttempt = new Promise((resolve) => (this.firstDone = resolve));
  }

  start(): void {
    void this.run().catch((exc) => this.config.log.error(`experimently: updater stopped: ${String(exc)}`));
  }

  close(): void {
    this.stop.abort();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stop.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      t.unref?.();
      const signal = this.stop.signal;
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }

  /** One conditional GET of the payload; true when the server answered with a usable body or 304. */
  async fetchOnce(): Promise<boolean> {
    const { config } = this;
    const headers: Record<string, string> = { ...config.headers };
    const version = config.version();
    if (version) headers["If-None-Match"] = `"${version}"`;
    const timeout = timeoutSignal(this.stop.signal, config.httpTimeout);
    try {
      const response = await config.fetch(`${config.baseUrl}/api/v1/sdk/flags`, { headers, signal: timeout.signal });
      if (response.status === 304) {
        this.recovered();
        return true;
      }
      if (response.status !== 200) {
        const why = await errorMessage(response);
        const auth = response.status === 401 || response.status === 403;
        const hint = response.status === 404 ? this.rootHint() : "";
        this.failed(auth ? "error" : "warn", `ruleset fetch answered ${response.status}: ${why}${hint}`);
        return false;
      }
      // a page that is not the server's (a proxy's, a console's: a baseUrl a path too deep) is not
      // the server answering, whatever its status; never quoted (it may be anything)
      const type = response.headers.get("content-type") ?? "";
      if (!/json/i.test(type)) {
        await response.body?.cancel();
        this.failed("error", `ruleset fetch answered 200 with ${mediaType(type)}, not JSON${this.rootHint()}`);
        return false;
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        this.failed("error", `ruleset fetch answered 200 with a body that is not JSON${this.rootHint()}`);
        return false;
      }
      const data = isObject(body) ? body.data : undefined;
      if (!isObject(data) || !Array.isArray(data.flags)) {
        this.failed("error", `ruleset fetch answered 200 with JSON that is not an SDK payload${this.rootHint()}`);
        return false;
      }
      const etag = (response.headers.get("etag") ?? "").replace(/^W\//, "").replace(/"/g, "");
      this.recovered();
      config.apply(etag, data);
      return true;
    } catch (exc) {
      if (!this.stop.signal.aborted) this.failed("warn", `server unreachable (${String(exc)})`);
      return false;
    } finally {
      timeout.release(); // the request is over: no listener left on the client's signal
    }
  }

  /** Said with every answer that suggests a wrong `baseUrl`. */
  private rootHint(): string {
    return ` (is '${this.config.baseUrl}' the server's root URL?)`;
  }

  /** A failure is logged when it differs from the last one: an outage is one line, not one per retry. */
  private failed(level: "warn" | "error", failure: string): void {
    if (failure !== this.failure) {
      this.config.log[level](`experimently: ${failure}; serving the last ruleset or the defaults, retrying`);
    } else {
      this.config.log.debug(`experimently: ${failure}`);
    }
    this.failure = failure;
  }

  /** Said at warning level, as the failure was: whoever saw one line sees the other. A fetch that
   * succeeds and a stream that opens both end a failure. */
  private recovered(): void {
    if (this.failure !== null) {
      this.config.log.warn(`experimently: the server answers again (was: ${this.failure})`);
      this.failure = null;
    }
  }

  private async run(): Promise<void> {
    await this.fetchOnce();
    this.firstDone();
    let attempt = 0;
    while (!this.stop.signal.aborted) {
      if (!this.useStream) {
        await this.sleep(this.config.pollInterval);
        if (this.stop.signal.aborted) return;
        await this.fetchOnce();
        continue;
      }
      const outcome = await this.streamOnce();
      if (this.stop.signal.aborted) return;
      await this.fetchOnce(); // catch up on what happened while not connected
      if (outcome === "unsupported") {
        // when the fetch failed too (a 404 there: a wrong baseUrl), it said what is wrong
        if (this.failure === null) this.config.log.warn(`experimently: the server has no stream; polling every ${this.config.pollInterval} ms`);
        this.useStream = false;
        continue;
      }
      if (outcome === "busy" && !this.busySaid) {
        this.busySaid = true;
        this.config.log.warn(
          `experimently: the server refused the stream (429: too many streams open for this key); polling every ${this.config.pollInterval} ms until it accepts one`,
        );
      }
      attempt = outcome === "clean" ? 0 : attempt + 1;
      let delay = Math.random() * Math.min(this.config.reconnectCap, 500 * 2 ** Math.min(attempt, 20));
      if (outcome === "busy") delay = Math.max(delay, this.config.pollInterval);
      this.reconnects++;
      await this.sleep(delay);
    }
  }

  private async streamOnce(): Promise<Outcome> {
    const { config } = this;
    const headers: Record<string, string> = { ...config.headers, Accept: "text/event-stream" };
    const version = config.version();
    if (version) headers["Last-Event-ID"] = version;
    const local = new AbortController();
    const onStop = (): void => local.abort();
    this.stop.signal.addEventListener("abort", onStop);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const resetIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => local.abort(), config.readTimeout);
      idle.unref?.();
    };
    let received = false;
    try {
      resetIdle();
      const response = await config.fetch(`${config.baseUrl}/api/v1/sdk/stream`, { headers, signal: local.signal });
      const type = response.headers.get("content-type") ?? "";
      if (response.status !== 200 || response.body === null || !/^text\/event-stream/i.test(type)) {
        await response.body?.cancel();
        if (response.status === 404) return "unsupported";
        if (response.status === 429) return "busy";
        // the fetch that follows says why, once: a refused key is one line, not one per reconnect; a
        // page that is not an event stream is not the server answering again
        config.log.debug(`experimently: stream answered ${response.status}${response.status === 200 ? ` with ${mediaType(type)}` : ""}`);
        return "failed";
      }
      this.connected = true;
      this.busySaid = false;
      this.recovered(); // the stream answering is the server answering again
      const parser = createParser({
        onEvent: (event) => {
          received = true;
          if (event.event === "put") {
            const data = JSON.parse(event.data) as { version: unknown; payload: Record<string, unknown> };
            config.apply(String(data.version), data.payload);
          }
        },
        onComment: () => resetIdle(),
      });
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        resetIdle();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (exc) {
      if (!this.stop.signal.aborted) config.log.info(`experimently: stream interrupted: ${String(exc)}`);
    } finally {
      clearTimeout(idle);
      this.connected = false;
      this.stop.signal.removeEventListener("abort", onStop);
      local.abort();
    }
    return received ? "clean" : "failed";
  }
}

/** A signal aborted by `parent` or after `ms` (AbortSignal.any needs Node 20.3; we support 18), and
 * `release`, to call when the request is over: it removes the listener on `parent` (a long-lived
 * signal, which would otherwise gather one per request until each timed out) and the timer. */
export function timeoutSignal(parent: AbortSignal, ms: number): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  const t = setTimeout(abort, ms);
  t.unref?.();
  const release = (): void => {
    clearTimeout(t);
    parent.removeEventListener("abort", abort);
  };
  controller.signal.addEventListener("abort", release, { once: true });
  if (parent.aborted) abort();
  else parent.addEventListener("abort", abort, { once: true });
  return { signal: controller.signal, release };
}

/** A Content-Type as a log line names it: its media type (cut short), or that there is none. */
function mediaType(contentType: string): string {
  const type = contentType.split(";")[0]!.trim();
  if (type === "") return "no content type";
  return type.length > 60 ? `${type.slice(0, 60)}…` : type;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
