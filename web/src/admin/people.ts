// The People page's decisions apart from React: which changes ask first, and what the page says once
// one is saved.

export type Role = "admin" | "developer" | "analyst" | "viewer";
export const ROLES: Role[] = ["viewer", "analyst", "developer", "admin"];

export interface PersonChange {
  role?: Role;
  is_active?: boolean;
}

/** Granting admin and deactivating ask first; other role changes and reactivating apply at once. */
export function asksFirst(change: PersonChange, current: { role: string; is_active: boolean }): boolean {
  return (change.role === "admin" && current.role !== "admin") || (change.is_active === false && current.is_active);
}

/** The line shown once a change is saved. */
export function savedNotice(email: string, change: PersonChange): string {
  if (change.role) return `Saved: ${email} is now ${/^[aeiou]/.test(change.role) ? "an" : "a"} ${change.role}.`;
  if (change.is_active === false) return `Saved: ${email} is deactivated, signed out everywhere, and their API keys stop working.`;
  return `Saved: ${email} is active again and can sign in.`;
}

/** The line shown once a person's two-step verification is reset. */
export function mfaResetNotice(email: string): string {
  return `Saved: two-step verification is reset for ${email}: they are signed out, sign in with the password alone and must set it up again.`;
}

/** The "Two-step" column: on or off, as `GET /users` says (`mfa_enabled`; absent from an older server). */
export function twoStep(user: { mfa_enabled?: boolean | null }): "on" | "off" {
  return user.mfa_enabled ? "on" : "off";
}

/** Who may be offered "Reset two-step": someone else, with it on, by a viewer allowed to change people. */
export function canResetTwoStep(user: { id: string; mfa_enabled?: boolean | null }, me: string | undefined, mayWrite: boolean): boolean {
  return mayWrite && user.id !== me && Boolean(user.mfa_enabled);
}
