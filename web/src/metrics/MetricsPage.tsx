import { useState } from "react";
import { Link } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { Badge, EmptyState, ErrorBanner, Input, PageHeader, Spinner } from "../ui";
import { useMetrics } from "./api";

export function MetricsPage() {
  const metrics = useMetrics();
  const can = useCan();
  const [q, setQ] = useState("");
  const needle = q.trim().toLowerCase();
  const shown = (metrics.data ?? []).filter(
    (m) => !needle || m.key.includes(needle) || m.name.toLowerCase().includes(needle) || m.event_name.toLowerCase().includes(needle),
  );
  const newButton = can("metrics:write") ? (
    <Link to="/metric-definitions/new" className="inline-flex items-center rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-700">
      New metric
    </Link>
  ) : null;
  return (
    <>
      <PageHeader title="Metrics" actions={newButton}>
        What experiments measure: an event, which of its occurrences count, and how they add up per user.
      </PageHeader>
      <ErrorBanner error={metrics.error} />
      {metrics.isPending ? (
        <Spinner />
      ) : metrics.data?.length === 0 ? (
        <EmptyState title="No metrics yet" action={newButton}>
          A metric turns tracked events into a number per user: a conversion (did the user send <code>purchase</code>?), a
          count, a sum of values or a ratio.
        </EmptyState>
      ) : (
        <>
          <Input aria-label="Search metrics" placeholder="Search by key, name or event" className="mb-3 w-full sm:w-72" value={q} onChange={(e) => setQ(e.target.value)} />
          <div className="relative overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            <table className="w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-xs uppercase text-slate-600">
                <tr>
                  <th className="px-4 py-2 font-medium">Metric</th>
                  <th className="px-4 py-2 font-medium">Kind</th>
                  <th className="hidden px-4 py-2 font-medium sm:table-cell">Event</th>
                  <th className="hidden px-4 py-2 font-medium md:table-cell">Better when</th>
                  <th className="hidden px-4 py-2 font-medium md:table-cell">Format</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {shown.map((m) => (
                  <tr key={m.key}>
                    <td className="px-4 py-2">
                      <Link to={`/metric-definitions/${m.key}`} className="font-medium text-indigo-700 hover:underline">
                        {m.name}
                      </Link>
                      <div className="font-mono text-xs text-slate-500">{m.key}</div>
                    </td>
                    <td className="px-4 py-2">
                      <Badge tone="indigo">{m.kind}</Badge>
                    </td>
                    <td className="hidden px-4 py-2 font-mono text-xs sm:table-cell">
                      {m.event_name}
                      {m.kind === "ratio" && m.denominator_event ? ` / ${m.denominator_event}` : ""}
                      {m.conditions.length ? <span className="text-slate-500"> · {m.conditions.length} condition(s)</span> : null}
                    </td>
                    <td className="hidden px-4 py-2 md:table-cell">{m.direction === "higher" ? "higher ↑" : "lower ↓"}</td>
                    <td className="hidden px-4 py-2 text-slate-700 md:table-cell">
                      {m.format ? `${m.format.type}${m.format.currency ? ` ${m.format.currency}` : ""}${m.format.duration_unit ? ` (${m.format.duration_unit})` : ""}` : "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
