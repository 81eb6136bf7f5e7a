import type { components } from "../api/schema";

export type Scope = components["schemas"]["Scope"];

/** The scopes offered when creating a key, in order, with what each lets the key do. */
export const SCOPES: { scope: Scope; help: string }[] = [
  { scope: "evaluate", help: "evaluate flags (server SDKs: they read the rules)" },
  { scope: "track", help: "send events" },
  { scope: "manage", help: "manage flags like a developer" },
  { scope: "client", help: "for the browser SDK: it sees only flag values, never rules; may add track" },
];

/** The server refuses (422) a `client` key with any scope but `track`: it ships inside web pages. */
const CLIENT_COMPATIBLE: readonly Scope[] = ["client", "track"];

/** The scopes after ticking (or unticking) one, keeping the server's rule: ticking `client` unticks
 * `evaluate` and `manage`; ticking either of those unticks `client`. Returns the scopes and the ones
 * that were unticked to keep the rule (for the form to say so). */
export function toggleScope(scopes: readonly Scope[], scope: Scope, checked: boolean): { scopes: Scope[]; unticked: Scope[] } {
  if (!checked) return { scopes: scopes.filter((s) => s !== scope), unticked: [] };
  const next = scopes.includes(scope) ? [...scopes] : [...scopes, scope];
  const conflicts = (s: Scope) => (scope === "client" ? !CLIENT_COMPATIBLE.includes(s) : !CLIENT_COMPATIBLE.includes(scope) && s === "client");
  const unticked = next.filter(conflicts);
  return { scopes: SCOPES.map((s) => s.scope).filter((s) => next.includes(s) && !unticked.includes(s)), unticked };
}

/** A key meant for web pages (the browser SDK), not for a server. */
export function isClientKey(scopes: readonly Scope[]): boolean {
  return scopes.includes("client");
}
