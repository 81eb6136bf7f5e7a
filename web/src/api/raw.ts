// Calls to endpoints the generated schema does not describe yet (added in the same release; the types
// below follow the API's documented answers). Same session, same error envelope as `api`.
import { authedFetch, toApiError } from "./client";

export async function getJson<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== "") params.set(key, String(value));
  const search = params.toString();
  const response = await authedFetch(new Request(search ? `${path}?${search}` : path));
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) throw toApiError(response.status, body);
  return body as T;
}
