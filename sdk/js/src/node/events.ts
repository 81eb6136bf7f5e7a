/** Events from the application to the server: a bounded queue, batches, retries (see docs/sdk-js.md). */

import { errorMessage, rejectedOf } from "./answers.js";
import type { Logger } from "./options.js";

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

export type Post = (batch: WireEvent[]) => Promise<Response>;

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

export class EventQueue {
  dropped = 0;
  /** Of `dropped`: events the server refused (a 4xx batch, or one by one in an accepted batch). */
  refused = 0;
  retryBase = 500;
  retryCap = 30_000;
  private queue: WireEvent[] = [];
  private sending: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval>;
  private closing = false;
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

  add(event: WireEvent): void {
    if (this.closing) return;
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= this.batchSize) this.kick();
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

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.slice(0, this.batchSize);
      const sent = await this.send(batch);
      if (!sent) return;
      this.queue.splice(0, batch.length);
    }
  }

  /** Post `batch` until accepted or dropped (true) or until the close deadline gives up (false). */
  private async send(batch: WireEvent[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      let retryAfter: string | null = null;
      try {
        const response = await this.post(batch);
        if (response.status < 300) {
          const rejected = await rejectedOf(response);
          if (rejected.length) {
            this.log.warn(`experimently: the server refused ${rejected.length} events: ${JSON.stringify(rejected.slice(0, 3))}`);
            this.refuse(rejected.length);
          }
          return true;
        }
        if (response.status !== 429 && response.status < 500) {
          const why = await errorMessage(response);
          this.log.error(`experimently: events refused with ${response.status} (${why}); ${batch.length} events dropped`);
          this.refuse(batch.length);
          return true;
        }
        retryAfter = response.headers.get("retry-after");
        this.log.info(`experimently: events got ${response.status}; retrying`);
      } catch (exc) {
        this.log.info(`experimently: events not sent (${String(exc)}); retrying`);
      }
      const delay = retryDelay(attempt, retryAfter, this.retryBase, this.retryCap);
      if (this.deadline !== null && Date.now() + delay > this.deadline) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        t.unref?.();
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      if (this.deadline !== null && Date.now() > this.deadline) return false;
    }
  }

  private refuse(count: number): void {
    this.dropped += count;
    this.refused += count;
  }

  /** Send everything queued now; true when the queue was emptied within `timeout` ms and the server
   * refused none of it. */
  async flush(timeout: number): Promise<boolean> {
    const until = Date.now() + timeout;
    const refused = this.refused;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeout); // ref'd: the caller is waiting for it
    });
    try {
      while (this.queue.length && Date.now() < until) {
        const done = await Promise.race([this.kick().then(() => true), expired]);
        if (!done) break;
      }
      return this.queue.length === 0 && this.refused === refused;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(timeout: number): Promise<void> {
    clearInterval(this.timer);
    this.deadline = Date.now() + timeout;
    this.wake?.();
    const ok = await this.flush(timeout);
    this.closing = true;
    if (!ok) this.log.warn(`experimently: ${this.queue.length} events not sent at close (server unreachable)`);
  }
}
