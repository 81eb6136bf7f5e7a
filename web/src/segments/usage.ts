// What the server names when it refuses to delete a segment in use: 409 CONFLICT with
// `details.used_by`, one entry per flag environment, segment or experiment that references it.
import { ApiError } from "../api/client";

export interface SegmentUse {
  type: "flag" | "segment" | "experiment" | string;
  key: string;
  environment?: string;
}

/** The uses a refused delete names (none for any other error). */
export function usesOf(error: unknown): SegmentUse[] {
  if (!(error instanceof ApiError) || error.status !== 409 || !Array.isArray(error.details.used_by)) return [];
  return (error.details.used_by as unknown[]).filter(
    (u): u is SegmentUse => typeof u === "object" && u !== null && typeof (u as SegmentUse).key === "string",
  );
}

/** One line per flag (its environments together), then segments, then experiments, each with the
 * console's page for it. */
export function groupUses(uses: SegmentUse[]): { type: string; key: string; environments: string[]; href: string | null }[] {
  const order = ["flag", "segment", "experiment"];
  const rows = new Map<string, { type: string; key: string; environments: string[]; href: string | null }>();
  for (const use of uses) {
    const id = `${use.type}:${use.key}`;
    const row = rows.get(id) ?? { type: use.type, key: use.key, environments: [], href: hrefOf(use) };
    if (use.environment && !row.environments.includes(use.environment)) row.environments.push(use.environment);
    rows.set(id, row);
  }
  const rank = (type: string) => (order.includes(type) ? order.indexOf(type) : order.length);
  return [...rows.values()].sort((a, b) => rank(a.type) - rank(b.type));
}

function hrefOf(use: SegmentUse): string | null {
  const key = encodeURIComponent(use.key);
  if (use.type === "flag") return `/flags/${key}${use.environment ? `?env=${encodeURIComponent(use.environment)}` : ""}`;
  if (use.type === "segment") return `/segments/${key}`;
  if (use.type === "experiment") return `/experiments/${key}`;
  return null;
}
