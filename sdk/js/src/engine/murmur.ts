/**
 * Deterministic bucketing, identical to the Python engine (`experimently_sdk/bucketing.py`):
 * `bucket(seed, unit) = murmurhash3_x86_32(utf8(seed + ":" + unit), 0) % 10000` (unsigned).
 */

export const BUCKETS = 10_000;

const encoder = new TextEncoder();

/** MurmurHash3 x86 32-bit of `bytes` (unsigned). */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const n = bytes.length;
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

/** The bucket in [0, 10000) of `unit` under `seed`. */
export function bucket(seed: string, unit: string): number {
  return murmur3(encoder.encode(seed + ":" + unit)) % BUCKETS;
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
