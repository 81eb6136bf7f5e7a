import { useState } from "react";
import { Link } from "react-router-dom";
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap } from "../api/client";
import { Button, ErrorBanner, formatDate, Input, Select, Spinner, useDebounced } from "../ui";
import { deepDiff, isUuid, peopleLabels, personLabel, show, summarize } from "./diff";
import { downloadAudit } from "./exportAudit";
import { RESOURCE_TYPES, RETENTION_TYPES } from "./labels";

interface Filters {
  action?: string;
  resource_type?: string;
  resource_id?: string;
  actor_id?: string;
}

const PAGE = 50;

export function useAudit(filters: Filters, offset: number) {
  const queryClient = useQueryClient();
  return useQuery({
    queryKey: ["audit", filters, offset],
    queryFn: async () => {
      const query = Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as Filters;
      // experiments' records carry the experiment's id: a key typed in the filter is looked up first
      let experiment: { id: string; key: string } | null = null;
      if (query.resource_id && !isUuid(query.resource_id) && (!query.resource_type || query.resource_type === "experiment")) {
        experiment = await experimentByKey(queryClient, query.resource_id);
        if (experiment) query.resource_id = experiment.id;
      }
      const body = await unwrap(api.GET("/api/v1/audit-logs", { params: { query: { ...query, limit: PAGE, offset } } }));
      const total = (body.meta as { pagination?: { total: number } }).pagination?.total ?? body.data.length;
      return { rows: body.data, total, experiment };
    },
    placeholderData: keepPreviousData,
  });
}

/** The experiment with this key, if any, through the list's text search: a key that is not an
 * experiment's (a flag's, a segment's) is an empty answer, not a 404. Remembered for a minute. */
function experimentByKey(queryClient: QueryClient, key: string): Promise<{ id: string; key: string } | null> {
  return queryClient.fetchQuery({
    queryKey: ["experiment-by-key", key],
    staleTime: 60_000,
    queryFn: async () => {
      const body = await unwrap(api.GET("/api/v1/experiments", { params: { query: { q: key, sort: "key", limit: 100 } } }));
      const found = body.data.find((e) => e.key === key);
      if (found) return { id: found.id, key: found.key };
      // more matches than one page holds (a short key inside many others): ask for the key itself
      const total = (body.meta as { pagination?: { total: number } }).pagination?.total ?? body.data.length;
      return total > body.data.length ? findExperiment(key) : null;
    },
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

/** A label with the id it stands for in a tooltip (and for screen readers). */
function Labelled({ label, id }: { label: string; id: string }) {
  return (
    <span title={id} aria-label={`${label} (id ${id})`} className="underline decoration-slate-300 decoration-dotted underline-offset-2">
      {label}
    </span>
  );
}

/** A changed value: a person's id by their label (the id in a tooltip) when the page's records know it. */
function Value({ field, value, people }: { field: string; value: unknown; people: ReadonlyMap<string, string> }) {
  const label = personLabel(field, value, people);
  return label && typeof value === "string" ? <Labelled label={label} id={value} /> : <>{show(value)}</>;
}

function Resource({ type, id, label }: { type: string; id: string | null; label: string | null }) {
  // underlined, not told by colour alone: the grey text around it is too close in contrast
  const link = "text-indigo-700 underline decoration-indigo-300 underline-offset-2 hover:decoration-indigo-700";
  if (type === "experiment" && id && label) {
    return (
      <>
        experiment{" "}
        <Link className={link} to={`/experiments/${encodeURIComponent(label)}`} title={id}>
          {label}
        </Link>
      </>
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
  if (id && label && label !== id) {
    return (
      <>
        {type} <Labelled label={label} id={id} />
      </>
    );
  }
  return (
    <>
      {type} {id}
    </>
  );
}

/** The audit log as a table with a field-level diff per change. `fixed` pins filters (a flag's history).
 * Typed filters ask the server once the typing stops; the resource type is a list of the known ones. */
export function AuditTable({ fixed = {} }: { fixed?: Filters }) {
  const [typed, setTyped] = useState<Filters>({});
  const [offset, setOffset] = useState(0);
  const settled = useDebounced(typed, 300);
  const filters: Filters = { action: settled.action, resource_id: settled.resource_id, resource_type: typed.resource_type };
  const audit = useAudit({ ...filters, ...fixed }, offset);
  const exporting = useMutation({ mutationFn: downloadAudit });
  const rows = audit.data?.rows ?? [];
  // people's ids in the records (an owner, a schedule's creator) read by the labels the page's own records give them
  const people = peopleLabels(rows);
  const filtered = Object.values(filters).some(Boolean);
  const update = (name: keyof Filters, value: string) => {
    setOffset(0);
    setTyped({ ...typed, [name]: value.trim() });
  };
  const field = (name: keyof Filters, label: string) =>
    name in fixed ? null : (
      <Input
        aria-label={`Filter by ${label}`}
        placeholder={label}
        className={name === "resource_id" ? "w-64" : "w-44"}
        value={typed[name] ?? ""}
        onChange={(e) => update(name, e.target.value)}
      />
    );
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap gap-2">
        {field("action", "action, e.g. flag.killed")}
        {"resource_type" in fixed ? null : (
          <Select aria-label="Filter by resource type" className="w-56" value={typed.resource_type ?? ""} onChange={(e) => update("resource_type", e.target.value)}>
            <option value="">Any resource type</option>
            {RESOURCE_TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
            <optgroup label="Deleted by data retention">
              {RETENTION_TYPES.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </optgroup>
          </Select>
        )}
        {field("resource_id", "resource: key, or id")}
        <Button
          className="ml-auto"
          disabled={exporting.isPending}
          onClick={() => exporting.mutate({ ...filters, ...fixed, ...(audit.data?.experiment && filters.resource_id ? { resource_id: audit.data.experiment.id } : {}) })}
        >
          {exporting.isPending ? "Exporting…" : "Export CSV"}
        </Button>
      </div>
      <p className="text-xs text-slate-500">
        Action filters take several actions separated by commas, or every action of a kind: <span className="font-mono">api_key.*</span>. Export
        CSV saves every record the filters match (not only this page); the export is itself recorded.
      </p>
      <ErrorBanner error={exporting.error} />
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
        // below the sm breakpoint each record is a card (when and who on one line, then what and the
        // changes at full width), so nothing lies off-screen; from sm up it is the table
        <div className="relative overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="block min-w-full text-sm sm:table" data-testid="audit-table">
            <thead className="sr-only bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500 sm:not-sr-only sm:table-header-group">
              <tr>
                <th scope="col" className="px-3 py-2">When</th>
                <th scope="col" className="px-3 py-2">Who</th>
                <th scope="col" className="px-3 py-2">What</th>
                <th scope="col" className="px-3 py-2">Changes</th>
              </tr>
            </thead>
            <tbody className="block divide-y divide-slate-100 align-top sm:table-row-group">
              {rows.map((row) => {
                const changes = row.before && row.after ? deepDiff(row.before, row.after) : [];
                const summary = changes.length ? [] : summarize(row.action, row.before, row.after, people);
                return (
                  <tr key={row.id} className="flex flex-wrap items-baseline gap-x-2 gap-y-1 px-3 py-2 sm:table-row sm:p-0">
                    <td className="whitespace-nowrap text-xs text-slate-600 sm:px-3 sm:py-2">{formatDate(row.occurred_at)}</td>
                    <td className="min-w-0 text-xs sm:px-3 sm:py-2">
                      <span aria-hidden className="text-slate-500 sm:hidden">by </span>
                      {row.actor_id && row.actor_label && row.actor_type !== "system" ? (
                        <Labelled label={row.actor_label} id={row.actor_id} />
                      ) : (
                        (row.actor_label ?? row.actor_type)
                      )}
                    </td>
                    <td className="basis-full sm:px-3 sm:py-2">
                      <div className="font-mono text-xs font-medium">{row.action}</div>
                      <div className="text-xs text-slate-500">
                        <Resource type={row.resource_type} id={row.resource_id ?? null} label={row.resource_label ?? null} />
                      </div>
                      {row.reason ? <div className="mt-1 text-xs italic text-slate-700">“{row.reason}”</div> : null}
                    </td>
                    <td className="basis-full sm:px-3 sm:py-2">
                      {changes.length ? (
                        <ul className="space-y-0.5 font-mono text-xs">
                          {changes.slice(0, 12).map((c) => (
                            <li key={c.path} className="break-all">
                              <span className="text-slate-700">{c.path}</span>:{" "}
                              <del className="bg-red-50 text-red-800">
                                <Value field={c.path} value={c.before} people={people} />
                              </del>{" "}
                              →{" "}
                              <ins className="bg-emerald-50 text-emerald-800 no-underline">
                                <Value field={c.path} value={c.after} people={people} />
                              </ins>
                            </li>
                          ))}
                          {changes.length > 12 ? <li className="text-slate-500">and {changes.length - 12} more</li> : null}
                        </ul>
                      ) : (
                        <ul className="space-y-0.5 text-xs text-slate-600" data-testid="audit-summary">
                          {(summary.length ? summary : ["—"]).slice(0, 12).map((line) => (
                            <li key={line} className="break-words">
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
                <tr className="block sm:table-row">
                  <td colSpan={4} className="block px-3 py-6 text-center text-slate-500 sm:table-cell">
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
