import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { Badge, Button, EmptyState, ErrorBanner, formatDate, Input, PageHeader, Spinner } from "../ui";
import { STATUS_TONE, STATUSES, useExperiments, type Status } from "./api";

const LIMIT = 50;

export function ExperimentsPage() {
  const [params, setParams] = useSearchParams();
  const status = (params.get("status") ?? "") as Status | "";
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const list = useExperiments({ status, q, offset, limit: LIMIT });
  const can = useCan();
  const filters: (Status | "")[] = ["", ...STATUSES];
  return (
    <>
      <PageHeader
        title="Experiments"
        actions={
          can("experiments:write") ? (
            <Link to="/experiments/new" className="inline-flex items-center rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-700">
              New experiment
            </Link>
          ) : null
        }
      >
        A/B tests: a hypothesis, variants served to a share of users, and the metrics that decide.
      </PageHeader>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <div role="group" aria-label="Filter by status" className="flex flex-wrap gap-1">
          {filters.map((s) => (
            <button
              key={s || "all"}
              type="button"
              aria-pressed={status === s}
              onClick={() => {
                setOffset(0);
                setParams(s ? { status: s } : {}, { replace: true });
              }}
              className={`rounded-full px-3 py-1 text-xs font-medium ring-1 ring-inset ${status === s ? "bg-indigo-600 text-white ring-indigo-600" : "bg-white text-slate-700 ring-slate-300 hover:bg-slate-50"}`}
            >
              {s || "all"}
            </button>
          ))}
        </div>
        <Input
          aria-label="Search experiments"
          placeholder="Search by key or name"
          className="w-full sm:w-64"
          value={q}
          onChange={(e) => {
            setOffset(0);
            setQ(e.target.value);
          }}
        />
      </div>
      <ErrorBanner error={list.error} />
      {list.isPending ? (
        <Spinner />
      ) : list.data?.total === 0 && !status && !q ? (
        <EmptyState
          title="No experiments yet"
          action={
            can("experiments:write") ? (
              <Link to="/experiments/new" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700">
                Create an experiment
              </Link>
            ) : null
          }
        >
          Define the metrics first (Metrics), then an experiment measures them on each variant.
        </EmptyState>
      ) : list.data?.total === 0 ? (
        <p className="rounded-lg bg-white p-4 text-sm text-slate-600 ring-1 ring-slate-200">No experiment matches.</p>
      ) : (
        <div className="relative overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="w-full text-left text-sm">
            <thead className="border-b border-slate-200 text-xs uppercase text-slate-600">
              <tr>
                <th className="px-4 py-2 font-medium">Experiment</th>
                <th className="px-4 py-2 font-medium">Status</th>
                <th className="hidden px-4 py-2 font-medium sm:table-cell">Variants</th>
                <th className="hidden px-4 py-2 font-medium md:table-cell">Primary metric</th>
                <th className="hidden px-4 py-2 font-medium md:table-cell">Started</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {list.data?.experiments.map((e) => (
                <tr key={e.key}>
                  <td className="px-4 py-2">
                    <Link to={`/experiments/${e.key}`} className="font-medium text-indigo-700 hover:underline">
                      {e.name}
                    </Link>
                    <div className="font-mono text-xs text-slate-500">{e.key}</div>
                  </td>
                  <td className="px-4 py-2">
                    <Badge tone={STATUS_TONE[e.status]}>{e.status}</Badge>
                  </td>
                  <td className="hidden px-4 py-2 text-slate-700 sm:table-cell">
                    {e.variants.map((v) => `${String(v.key)} ${String(v.weight)}%`).join(" · ")}
                  </td>
                  <td className="hidden px-4 py-2 font-mono text-xs text-slate-700 md:table-cell">{e.primary_metric ?? "—"}</td>
                  <td className="hidden px-4 py-2 text-slate-700 md:table-cell">{formatDate(e.started_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && list.data.total > LIMIT ? (
        <div className="mt-3 flex items-center justify-end gap-2 text-sm text-slate-600">
          {offset + 1}–{Math.min(offset + LIMIT, list.data.total)} of {list.data.total}
          <Button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - LIMIT))}>
            Previous
          </Button>
          <Button disabled={offset + LIMIT >= list.data.total} onClick={() => setOffset(offset + LIMIT)}>
            Next
          </Button>
        </div>
      ) : null}
    </>
  );
}
