/**
 * Deterministic bucketing, identical to the Python engine (`experimently_sdk/bucketing.py`):
 * `bucket(seed, unit) = murmurhash3_x86_32(utf8(seed + ":" + unit), 0) % 10000` (unsigned).
 */

export const BUCKETS = 10_000;

const encoder = new TextEncoder();

/** MurmurHash3 x86 32-bit of `bytes` (unsigned). */
export function murmur3(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let h = seed >>> 0;
  const n = length;
  const blocks = n & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    let k =
      (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[i + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[i + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[i]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

let scratch = new Uint8Array(1024);

/** MurmurHash3 of the UTF-8 bytes of `text`, encoded into a reused buffer (no allocation). */
export function murmurText(text: string): number {
  const n = text.length;
  // ASCII fast path: the characters are the bytes
  let h = 0;
  let i = 0;
  const blocks = n & ~3;
  for (; i < blocks; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) > 0x7f) return murmurUtf8(text);
    let k = a | (b << 8) | (c << 16) | (d << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let j = n - 1; j >= i; j--) {
    const c = text.charCodeAt(j);
    if (c > 0x7f) return murmurUtf8(text);
    k = (k << 8) | c;
  }
  if (n & 3) {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmurUtf8(text: string): number {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
  const { written } = encoder.encodeInto(text, scratch);
  return murmur3(scratch, 0, written);
}

/** The bucket in [0, 10000) of `unit` under `seed`. */
export function bucket(seed: string, unit: string): number {
  return murmurText(seed + ":" + unit) % BUCKETS;
}

/** Upper bounds (exclusive) of each weighted range: [5000, 5000] basis points -> [5000, 10000]. */
export function cumulativeBoundaries(basisPoints: readonly number[]): number[] {
  let total = 0;
  return basisPoints.map((p) => (total += p));
}

/** Index of the range holding `value` (bisect_right: zero-weight ranges are never picked). */
export function pick(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value < bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
