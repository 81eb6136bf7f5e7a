/**
 * Experiment exposure ids: the server's deterministic id (`experimently_sdk.ids.exposure_id`), so an
 * exposure is stored once whoever sends it. `exposure:<experiment>:<unit>` while that fits in the
 * server's 128 characters of an event id (code points, as Python counts them), else `exposure:` and
 * the first 48 hex digits of the SHA-256 of the key and the unit joined by U+001F (UTF-8).
 */

import { createHash } from "node:crypto";

/** The server's limit on an event id, in characters (code points). */
export const EVENT_ID_MAX = 128;
/** The server's limit on an event's `user_id` (the unit), in characters (code points). */
export const USER_ID_MAX = 200;

/** The length of `text` in code points (a surrogate pair is one character, as in Python). */
export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++, n++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
  }
  return n;
}

/** The id of the exposure of `unit` to an experiment (the same as the server's and the Python SDK's). */
export function exposureId(experimentKey: string, unit: string): string {
  const readable = `exposure:${experimentKey}:${unit}`;
  // UTF-16 units are never fewer than code points: the short case needs no count
  if (readable.length <= EVENT_ID_MAX || codePoints(readable) <= EVENT_ID_MAX) return readable;
  const digest = createHash("sha256").update(`${experimentKey}\u001f${unit}`, "utf8").digest("hex");
  return `exposure:${digest.slice(0, 48)}`;
}
