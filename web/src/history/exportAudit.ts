// The History's "Export CSV": every record matching the filters, from the server's export
// (GET /api/v1/audit-logs/export, no page limit, recorded as audit.exported), saved as a file.
import { api, toApiError } from "../api/client";

export interface ExportFilters {
  action?: string;
  resource_type?: string;
  resource_id?: string;
  actor_id?: string;
}

/** The query of an export: only the filters that are set. */
export function exportQuery(filters: ExportFilters): ExportFilters & { format: "csv" } {
  const set = Object.fromEntries(Object.entries(filters).filter(([, value]) => value)) as ExportFilters;
  return { ...set, format: "csv" };
}

/** Download the records matching `filters` as CSV; throws an ApiError with the server's message. */
export async function downloadAudit(filters: ExportFilters): Promise<void> {
  const { data, error, response } = await api.GET("/api/v1/audit-logs/export", {
    params: { query: exportQuery(filters) },
    parseAs: "blob",
  });
  if (!response.ok || !data) throw toApiError(response.status, error, response.headers.get("X-Request-ID"));
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? "experimently-audit.csv";
  const url = URL.createObjectURL(data);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
