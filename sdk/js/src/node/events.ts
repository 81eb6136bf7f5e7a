/**
 * Events from the application to the server: a bounded queue, batches, retries (see docs/sdk-js.md).
 * Each event is encoded once, as strict JSON, when it is queued: an event that cannot be (a cycle, a
 * BigInt, NaN or an infinity, which `JSON.stringify` would write as `null`) is never queued, so it
 * cannot block the queue, and a later change of its properties cannot either. Batches are bounded by
 * count and by encoded size (`MAX_BATCH_BYTES`); a batch answered 413 is sent again in halves, down to
 * a single event, which alone is dropped.
 */

import { errorMessage, rejectedOf } from "./answers.js";
import { codePoints } from "./exposures.js";
import { type Logger, describe } from "./options.js";
import { type Queued, strictJson } from "../wire.js";

export interface WireEvent {
  event_id: string;
  name: string;
  user_id: string;
  timestamp: string;
  value?: number;
  properties?: Record<string, unknown>;
  experiment_key?: string;
  variant?: string;
}

/** Posts a request body: `{"events": [...]}` as JSON. */
export type Post = (body: string) => Promise<Response>;

/** JSON per request: half the server's default body limit (`EXPERIMENTLY_MAX_BODY_BYTES`, 2 MiB). */
export const MAX_BATCH_BYTES = 1024 * 1024;



/** The server's limit on an event's name, in characters (code points). */
export const NAME_MAX = 100;

/** Why `name` cannot be an event's name (the server takes a string of 1 to `NAME_MAX` characters),
 * or null. */
export function invalidName(name: unknown): string | null {
  if (typeof name !== "string") return `the event name must be a string, not ${describe(name)}`;
  if (name === "") return "the event name is empty";
  if (name.length > NAME_MAX && codePoints(name) > NAME_MAX) return `the event name is longer than the server takes (${NAME_MAX} characters)`;
  return null;
}

/** An event's name as a log line shows it: a long one cut, one that is not a string by its type. */
export function nameLabel(name: unknown): string {
  if (typeof name !== "string") return describe(name);
  return name.length > NAME_MAX ? `${name.slice(0, NAME_MAX)}…` : name;
}

/** Why an event with this value and these properties could never be sent, or null: the value must be
 * a finite number (or absent), the properties an object (`add` then checks that it is strict JSON). */
export function invalidEvent(value: unknown, properties: unknown): string | null {
  if (value !== undefined && value !== null) {
    if (typeof value !== "number") return `value must be a number, not ${typeof value}`;
    if (!Number.isFinite(value)) return `value must be a finite number, not ${value}`;
  }
  if (properties !== undefined && properties !== null && (typeof properties !== "object" || Array.isArray(properties))) {
    return `properties must be an object, not ${Array.isArray(properties) ? "an array" : typeof properties}`;
  }
  return null;
}

/** A refused event as the log names it: `'name': path reason` (the server's `path` and `reason`, or
 * `message`), the name read back from the batch by the server's `index`. */
function describeRejected(rejected: unknown, batch: Queued[]): string {
  const r = (typeof rejected === "object" && rejected !== null ? rejected : {}) as Record<string, unknown>;
  let name = "?";
  const queued = typeof r.index === "number" ? batch[r.index] : undefined;
  if (queued !== undefined) {
    try {
      const value = (JSON.parse(queued.json) as { name?: unknown }).name;
      if (typeof value === "string") name = nameLabel(value);
    } catch {
      // our own JSON: always parses
    }
  }
  const why = typeof r.reason === "string" ? r.reason : typeof r.message === "string" ? r.message : JSON.stringify(rejected);
  const path = typeof r.path === "string" && r.path ? `${r.path} ` : "";
  return `'${name}': ${path}${why}`;
}

function firstLine(exc: unknown): string {
  return (exc instanceof Error ? exc.message : String(exc)).split("\n")[0]!;
}

/** Full-jitter exponential backoff (ms), never shorter than the server's Retry-After (seconds). */
export function retryDelay(attempt: number, retryAfter: string | null, base: number, cap: number): number {
  let delay = Math.random() * Math.min(cap, base * 2 ** attempt);
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) delay = Math.max(delay, Math.min(seconds, 300) * 1000);
  }
  return delay;
}

/** Seen keys, bounded: beyond `capacity` the oldest are forgotten. */
export class Dedup {
  private readonly seen = new Set<string>();
  constructor(private readonly capacity: number) {}

  first(key: string): boolean {
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }
}

/** A full queue is said at once, then at most this often (milliseconds). */
export const OVERFLOW_WARNING_MS = 30_000;

export class EventQueue {
  dropped = 0;
  /** Of `dropped`: events the server refused (a 4xx batch, or one by one in an accepted batch). */
  refused = 0;
  /** Of `dropped`: events that found the queue full (the server unreachable for long, or events
   * tracked faster than they are sent). Said at once, then at most every `OVERFLOW_WARNING_MS`. */
  overflowed = 0;
  private overflowSaidAt = -Infinity;
  /** Of `dropped`: events added after `close` began (never sent). Said once. */
  afterClose = 0;
  /** Events lost (refused, overflowed, or added after `close`) when the last `flush` answered. */
  private flushedLost = 0;
  retryBase = 500;
  retryCap = 30_000;
  batchBytes = MAX_BATCH_BYTES;
  private queue: Queued[] = [];
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval>;
  private closing = false; // `close` began: new events are dropped
  private closed = false; // `close` answered: `flush` sends nothing more
  private deadline: number | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly post: Post,
    private readonly log: Logger,
    readonly capacity: number,
    readonly batchSize: number,
    flushInterval: number,
  ) {
    this.timer = setInterval(() => this.kick(), flushInterval);
    this.timer.unref?.();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queue `event`, encoded now; null, or why it is not strict JSON (then it is counted as dropped). */
  add(event: WireEvent): string | null {
    if (this.closing) {
      this.dropped++;
      if (this.afterClose++ === 0) {
        this.log.warn("experimently: client is closed: events tracked after close() are not sent (said once; each is counted in droppedEvents)");
      }
      return null;
    }
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      this.overflowed++;
      const now = Date.now();
      if (now - this.overflowSaidAt >= OVERFLOW_WARNING_MS) {
        this.overflowSaidAt = now;
        this.log.warn(
          `experimently: the event queue is full (${this.capacity} events): ${this.overflowed} events dropped so far. ` +
            "The server may be unreachable, or events come faster than they are sent: raise eventCapacity or lower flushInterval",
        );
      }
      return null;
    }
    let json: string;
    try {
      json = strictJson(event);
    } catch (exc) {
      this.dropped++;
      return firstLine(exc);
    }
    this.queue.push({ json, bytes: Buffer.byteLength(json, "utf8") });
    if (this.queue.length >= this.batchSize) this.kick();
    return null;
  }

  /** Start sending if idle; returns the running send loop. */
  private kick(): Promise<void> {
    if (this.sending === null && this.queue.length) {
      this.sending = this.drain().finally(() => {
        this.sending = null;
      });
    }
    return this.sending ?? Promise.resolve();
  }

  /** Events at the head of the queue that make one batch: at most `batchSize` and `batchBytes` of JSON
   * (a single larger event goes alone). */
  private batchLength(): number {
    let count = 0;
    let bytes = 0;
    for (const event of this.queue) {
      if (count >= this.batchSize || (count > 0 && bytes + event.bytes + 1 > this.batchBytes)) break;
      count++;
      bytes += event.bytes + 1;
    }
    return count;
  }

  /** Send batches from the head of the queue; each stays there until accepted or dropped. A part of a
   * batch answered 413 is sent again in halves; one event refused alone is dropped. */
  private async drain(): Promise<void> {
    let left = 0; // events of the current batch not sent yet
    let part = 0; // events per request within it (halved on each 413)
    while (this.queue.length) {
      if (left === 0) left = part = this.batchLength();
      const count = Math.min(part, left);
      const outcome = await this.send(this.queue.slice(0, count));
      if (outcome === "gave up") return;
      if (outcome === "too large") {
        if (count > 1) {
          part = Math.ceil(count / 2);
          this.log.info(`experimently: ${count} events too large for one request (413); sending halves`);
          continue;
        }
        this.log.error(`experimently: an event of ${this.queue[0]!.bytes} bytes refused as too large (413); dropped`);
        this.refuse(1);
      }
      this.queue.splice(0, count);
      left -= count;
    }
  }

  /** Post `batch` until accepted or dropped ("done"), answered 413 ("too large"), or until the close
   * deadline gives up. */
  private async send(batch: Queued[]): Promise<"done" | "too large" | "gave up"> {
    const body = `{"events":[${batch.map((e) => e.json).join(",")}]}`;
    for (let attempt = 0; ; attempt++) {
      let retryAfter: string | null = null;
      try {
        const response = await this.post(body);
        if (response.status < 300) {
          const rejected = await rejectedOf(response);
          if (rejected.length) {
            const named = rejected.slice(0, 3).map((r) => describeRejected(r, batch));
            const more = rejected.length > 3 ? `; and ${rejected.length - 3} more` : "";
            this.log.warn(`experimently: the server refused ${rejected.length} events: ${named.join("; ")}${more}`);
            this.refuse(rejected.length);
          }
          return "done";
        }
        if (response.status === 413) return "too large";
        if (response.status !== 429 && response.status < 500) {
          const why = await errorMessage(response);
          this.log.error(`experimently: events refused with ${response.status} (${why}); ${batch.length} events dropped`);
          this.refuse(batch.length);
          return "done";
        }
        retryAfter = response.headers.get("retry-after");
        this.log.info(`experimently: events got ${response.status}; retrying`);
      } catch (exc) {
        this.log.info(`experimently: events not sent (${String(exc)}); retrying`);
      }
      const delay = retryDelay(attempt, retryAfter, this.retryBase, this.retryCap);
      if (this.deadline !== null && Date.now() + delay > this.deadline) return "gave up";
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        t.unref?.();
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      if (this.deadline !== null && Date.now() > this.deadline) return "gave up";
    }
  }

  private refuse(count: number): void {
    this.dropped += count;
    this.refused += count;
  }

  /** Send what is queued; true when the queue emptied within `timeout` and no event was lost since the
   * previous flush answered (refused by the server, dropped for a full queue, or added after `close`):
   * every event `track` queued since then reached the server. After `close` nothing is sent: the
   * answer comes at once. */
  async flush(timeout: number): Promise<boolean> {
    if (this.closed) return this.settle();
    const until = Date.now() + timeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeout); // ref'd: the caller is waiting for it
    });
    try {
      while (this.queue.length && Date.now() < until) {
        const done = await Promise.race([this.kick().then(() => true), expired]);
        // closing (a deadline set), a send loop that returns with events left has given up: sending
        // again at once would hammer an unreachable server until the deadline
        if (!done || this.deadline !== null) break;
      }
      return this.settle();
    } finally {
      clearTimeout(timer);
    }
  }

  /** What `flush` answers: nothing queued, and nothing lost since the previous answer. */
  private settle(): boolean {
    const lost = this.refused + this.overflowed + this.afterClose;
    const before = this.flushedLost;
    this.flushedLost = lost;
    return this.queue.length === 0 && lost === before;
  }

  async close(timeout: number): Promise<void> {
    clearInterval(this.timer);
    this.closing = true;
    this.deadline = Date.now() + timeout;
    this.wake?.();
    const ok = await this.flush(timeout);
    this.closed = true;
    if (!ok) this.log.warn(`experimently: ${this.queue.length} events not sent at close (server unreachable)`);
  }
}
