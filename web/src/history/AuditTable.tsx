import { useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { Button, ErrorBanner, formatDate, Input, Spinner } from "../ui";
import { deepDiff, show } from "./diff";

interface Filters {
  action?: string;
  resource_type?: string;
  resource_id?: string;
  actor_id?: string;
}

const PAGE = 50;

export function useAudit(filters: Filters, offset: number) {
  return useQuery({
    queryKey: ["audit", filters, offset],
    queryFn: async () => {
      const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as Filters;
      const body = await unwrap(api.GET("/api/v1/audit-logs", { params: { query: { ...query, limit: PAGE, offset } } }));
      const total = (body.meta as { pagination?: { total: number } }).pagination?.total ?? body.data.length;
      return { rows: body.data, total };
    },
    placeholderData: keepPreviousData,
  });
}

/** The audit log as a table with a field-level diff per change. `fixed` pins filters (a flag's history). */
export function AuditTable({ fixed = {} }: { fixed?: Filters }) {
  const [filters, setFilters] = useState<Filters>({});
  const [offset, setOffset] = useState(0);
  const audit = useAudit({ ...filters, ...fixed }, offset);
  const field = (name: keyof Filters, label: string) =>
    name in fixed ? null : (
      <Input
        aria-label={`Filter by ${label}`}
        placeholder={label}
        className="w-44"
        value={filters[name] ?? ""}
        onChange={(e) => {
          setOffset(0);
          setFilters({ ...filters, [name]: e.target.value.trim() });
        }}
      />
    );
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap gap-2">
        {field("action", "action, e.g. flag.killed")}
        {field("resource_type", "resource type")}
        {field("resource_id", "resource key or id")}
      </div>
      <ErrorBanner error={audit.error} />
      {audit.isPending ? (
        <Spinner />
      ) : (
        <div className="overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="min-w-full text-sm" data-testid="audit-table">
            <thead className="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
              <tr>
                <th scope="col" className="px-3 py-2">When</th>
                <th scope="col" className="px-3 py-2">Who</th>
                <th scope="col" className="px-3 py-2">What</th>
                <th scope="col" className="px-3 py-2">Changes</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 align-top">
              {(audit.data?.rows ?? []).map((row) => {
                const changes = row.before && row.after ? deepDiff(row.before, row.after) : [];
                return (
                  <tr key={row.id}>
                    <td className="whitespace-nowrap px-3 py-2 text-xs text-slate-600">{formatDate(row.occurred_at)}</td>
                    <td className="px-3 py-2 text-xs">{row.actor_label ?? row.actor_type}</td>
                    <td className="px-3 py-2">
                      <div className="font-mono text-xs font-medium">{row.action}</div>
                      <div className="text-xs text-slate-500">
                        {row.resource_type} {row.resource_id}
                      </div>
                      {row.reason ? <div className="mt-1 text-xs italic text-slate-700">“{row.reason}”</div> : null}
                    </td>
                    <td className="px-3 py-2">
                      {changes.length ? (
                        <ul className="space-y-0.5 font-mono text-xs">
                          {changes.slice(0, 12).map((c) => (
                            <li key={c.path} className="break-all">
                              <span className="text-slate-700">{c.path}</span>: <del className="bg-red-50 text-red-800">{show(c.before)}</del> →{" "}
                              <ins className="bg-emerald-50 text-emerald-800 no-underline">{show(c.after)}</ins>
                            </li>
                          ))}
                          {changes.length > 12 ? <li className="text-slate-500">and {changes.length - 12} more</li> : null}
                        </ul>
                      ) : (
                        <span className="text-xs text-slate-500">{row.after && !row.before ? "created" : "—"}</span>
                      )}
                    </td>
                  </tr>
                );
              })}
              {audit.data?.rows.length === 0 ? (
                <tr>
                  <td colSpan={4} className="px-3 py-6 text-center text-slate-500">
                    Nothing recorded yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      )}
      {(audit.data?.total ?? 0) > PAGE ? (
        <div className="flex justify-end gap-2">
          <Button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Newer
          </Button>
          <Button disabled={offset + PAGE >= (audit.data?.total ?? 0)} onClick={() => setOffset(offset + PAGE)}>
            Older
          </Button>
        </div>
      ) : null}
    </div>
  );
}
