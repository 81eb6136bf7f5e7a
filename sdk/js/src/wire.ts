// What the Node and browser clients share, written once: the detail an evaluation answers, and how an
// event is encoded for the wire (strict JSON, once, with its size).

/** What `variationDetail` returns, from the Node and the browser client alike (the browser's `ruleId`
 * is always null: a client-side key never sees rules). */
export interface EvaluationDetail {
  flagKey: string;
  value: unknown;
  variation: string | null;
  reason: string;
  errorCode: string | null;
  ruleId: string | null;
  experimentKey: string | null;
  experimentVariant: string | null;
}

/** An event as queued: its JSON, encoded once, and that JSON's size in bytes (UTF-8). */
export interface Queued {
  json: string;
  bytes: number;
}

/** `JSON.stringify`, strict: NaN and infinities throw (instead of becoming `null`), as cycles and BigInts already do. */
export function strictJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError(`${v} is not a JSON number`);
    return v;
  });
}
