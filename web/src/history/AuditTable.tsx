import { useState } from "react";
import { Link } from "react-router-dom";
import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";
import { api, ApiError, unwrap } from "../api/client";
import { Button, ErrorBanner, formatDate, Input, Spinner } from "../ui";
import { deepDiff, isUuid, show, summarize } from "./diff";

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
      // experiments' records carry the experiment's id: a key typed in the filter is looked up first
      let experiment: { id: string; key: string } | null = null;
      if (query.resource_id && !isUuid(query.resource_id) && (!query.resource_type || query.resource_type === "experiment")) {
        experiment = await findExperiment(query.resource_id);
        if (experiment) query.resource_id = experiment.id;
      }
      const body = await unwrap(api.GET("/api/v1/audit-logs", { params: { query: { ...query, limit: PAGE, offset } } }));
      const total = (body.meta as { pagination?: { total: number } }).pagination?.total ?? body.data.length;
      return { rows: body.data, total, experiment };
    },
    placeholderData: keepPreviousData,
  });
}

async function findExperiment(key: string): Promise<{ id: string; key: string } | null> {
  try {
    const found = await unwrap(api.GET("/api/v1/experiments/{ref}", { params: { path: { ref: key } } }));
    return { id: found.data.id, key: found.data.key };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return null;
    throw error;
  }
}

/** The keys of the experiments named by id in these records (their snapshots hold the key; event
 * records such as `experiment.aggregated` do not, so those are looked up). */
function useExperimentKeys(rows: { resource_type: string; resource_id: string | null; before?: unknown; after?: unknown }[]): Map<string, string> {
  const keys = new Map<string, string>();
  for (const row of rows) {
    if (row.resource_type !== "experiment" || !row.resource_id) continue;
    const snapshot = (row.after ?? row.before) as { key?: unknown } | null | undefined;
    if (typeof snapshot?.key === "string") keys.set(row.resource_id, snapshot.key);
  }
  const missing = [...new Set(rows.filter((r) => r.resource_type === "experiment" && r.resource_id && !keys.has(r.resource_id)).map((r) => r.resource_id!))];
  const looked = useQueries({
    queries: missing.map((id) => ({
      queryKey: ["experiment-key", id],
      queryFn: async () => (await findExperiment(id))?.key ?? null,
      staleTime: Infinity,
    })),
  });
  missing.forEach((id, i) => {
    const key = looked[i]?.data;
    if (key) keys.set(id, key);
  });
  return keys;
}

function Resource({ type, id, experimentKeys }: { type: string; id: string | null; experimentKeys: Map<string, string> }) {
  const link = "text-indigo-700 hover:underline";
  if (type === "experiment" && id) {
    const key = experimentKeys.get(id);
    return key ? (
      <>
        experiment{" "}
        <Link className={link} to={`/experiments/${encodeURIComponent(key)}`} title={id}>
          {key}
        </Link>
      </>
    ) : (
      <>experiment {id}</>
    );
  }
  const pages: Record<string, string> = { flag: "/flags/", segment: "/segments/", metric: "/metric-definitions/" };
  if (id && pages[type]) {
    return (
      <>
        {type}{" "}
        <Link className={link} to={`${pages[type]}${encodeURIComponent(id)}`}>
          {id}
        </Link>
      </>
    );
  }
  return (
    <>
      {type} {id}
    </>
  );
}

/** The audit log as a table with a field-level diff per change. `fixed` pins filters (a flag's history). */
export function AuditTable({ fixed = {} }: { fixed?: Filters }) {
  const [filters, setFilters] = useState<Filters>({});
  const [offset, setOffset] = useState(0);
  const audit = useAudit({ ...filters, ...fixed }, offset);
  const experimentKeys = useExperimentKeys(audit.data?.rows ?? []);
  const filtered = Object.values(filters).some(Boolean);
  const field = (name: keyof Filters, label: string) =>
    name in fixed ? null : (
      <Input
        aria-label={`Filter by ${label}`}
        placeholder={label}
        className={name === "resource_id" ? "w-64" : "w-44"}
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
        {field("resource_id", "resource: key, or id")}
      </div>
      {audit.data?.experiment && filters.resource_id ? (
        <p className="text-xs text-slate-600" data-testid="audit-resolved">
          Showing experiment <span className="font-mono">{audit.data.experiment.key}</span> (its records name it by id{" "}
          <span className="font-mono">{audit.data.experiment.id}</span>).
        </p>
      ) : null}
      <ErrorBanner error={audit.error} />
      {audit.isPending ? (
        <Spinner />
      ) : (
        <div className="relative overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
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
                        <Resource type={row.resource_type} id={row.resource_id ?? null} experimentKeys={experimentKeys} />
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
                        <ul className="space-y-0.5 text-xs text-slate-600" data-testid="audit-summary">
                          {(summarize(row.action, row.before, row.after).length ? summarize(row.action, row.before, row.after) : ["—"]).slice(0, 12).map((line) => (
                            <li key={line} className="break-all">
                              {line}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                  </tr>
                );
              })}
              {audit.data?.rows.length === 0 ? (
                <tr>
                  <td colSpan={4} className="px-3 py-6 text-center text-slate-500">
                    {filtered ? "Nothing matches this filter." : "Nothing recorded yet."}
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
