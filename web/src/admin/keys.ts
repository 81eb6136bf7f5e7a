// The API keys list's columns apart from React: when a key expires, and who created it.

/** A key's expiry as the list says it: "never" when it has none, and whether it has passed (an
 * expired key no longer authenticates, whatever its revocation). */
export function keyExpiry(expiresAt: string | null | undefined, now: number = Date.now()): { never: boolean; expired: boolean } {
  if (!expiresAt) return { never: true, expired: false };
  const at = Date.parse(expiresAt);
  return { never: false, expired: Number.isFinite(at) && at <= now };
}

/** Who created a key: the person's email when the viewer may list people (and the list has them),
 * else the id the key carries; null when the key records no creator. */
export function creatorLabel(createdBy: string | null | undefined, people: readonly { id: string; email: string }[] | undefined): string | null {
  if (!createdBy) return null;
  return people?.find((p) => p.id === createdBy)?.email ?? createdBy;
}
