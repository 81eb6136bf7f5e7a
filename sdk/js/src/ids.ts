/**
 * Event ids: a UUIDv7 (RFC 9562) as 32 hex digits, the Unix time in milliseconds (48 bits) then 74
 * random bits. Ids made close in time sort close together, so the server's key index takes them at its
 * right edge rather than at a random page each (the same ids the server and the Python SDK make).
 */

const HEX = "0123456789abcdef";

/** `random(n)` returns n random bytes (node:crypto's randomBytes, or crypto.getRandomValues). */
export function timeOrderedId(random: (n: number) => Uint8Array, now: number = Date.now()): string {
  const bytes = random(10); // 80 bits: 12 for rand_a, 62 for rand_b
  let tail = "";
  for (const b of bytes) tail += HEX[b >> 4]! + HEX[b & 15]!;
  const variant = HEX[(parseInt(tail[3]!, 16) & 3) | 8]!;
  const ms = Math.floor(now) % 2 ** 48;
  return ms.toString(16).padStart(12, "0") + "7" + tail.slice(0, 3) + variant + tail.slice(4, 19);
}
