import { ApiError } from "../api/client";

/** The server names a flag's fields from its root (`environments.production.rules[0]...`), and those of
 * one environment's PUT from that body (`rules[0]...`); an editor of one environment looks both up
 * relative to it. */
export function fieldErrorsFor(error: unknown, prefix: string): Map<string, string> {
  const map = new Map<string, string>();
  if (!(error instanceof ApiError) || (error.status !== 422 && error.status !== 409)) return map;
  for (const { path, message } of error.fieldErrors) {
    const relative = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (!map.has(relative)) map.set(relative, message);
  }
  return map;
}

/** Someone else changed the resource since this edit was loaded (a stale `version`), not any 409: a
 * create whose key exists, or a delete of something in use, is a 409 too, with its own message. */
export function isConflict(error: unknown): error is ApiError {
  return error instanceof ApiError && error.isStaleVersion;
}
