import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { Badge, Button, EmptyState, ErrorBanner, Input, PageHeader, ScrollArea, Select, Spinner } from "../ui";
import { CreateFlagDialog } from "./CreateFlagDialog";
import { envConfig, staleReason, useFlags, useStaleFlags } from "./api";
import type { StaleFlag } from "../api/types";

const PAGE = 100;

/** Server-side search and paging: the page stays as fast at 5,000 flags as at 5. */
export function FlagsPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const can = useCan();
  const [text, setText] = useState(params.get("q") ?? "");
  const q = params.get("q") ?? "";
  const tag = params.get("tag") ?? "";
  const archived = params.get("archived") === "1";
  const offset = Number(params.get("offset") ?? 0);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    const timer = setTimeout(() => {
      if (text !== q) update({ q: text, offset: "" });
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- debounce the text only
  }, [text]);

  const update = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };

  const flags = useFlags({ q, tag, archived, offset, limit: PAGE });
  const stale = useStaleFlags();
  const environments = useEnvironments();
  const envs = environments.data ?? [];
  const rows = flags.data?.flags ?? [];
  const total = flags.data?.total ?? 0;
  const firstRun = !flags.isPending && total === 0 && !q && !tag && !archived;

  return (
    <>
      <PageHeader
        title="Flags"
        actions={
          can("flags:write") ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New flag
            </Button>
          ) : null
        }
      >
        {flags.data ? `${total.toLocaleString()} flag${total === 1 ? "" : "s"}` : null}
      </PageHeader>
      <CreateFlagDialog open={creating} onClose={() => setCreating(false)} onCreated={(key) => navigate(`/flags/${key}`)} />
      {firstRun ? (
        <EmptyState
          title="Create your first flag"
          action={
            can("flags:write") ? (
              <Button variant="primary" onClick={() => setCreating(true)}>
                Create a flag
              </Button>
            ) : null
          }
        >
          A flag switches a feature on or off per environment, for everyone or for the people your rules pick. Then{" "}
          <Link className="text-indigo-700 underline" to="/start">
            create an API key and call it from your code
          </Link>
          .
        </EmptyState>
      ) : (
        <>
          <div className="mb-3 flex flex-wrap items-end gap-2">
            <Input
              type="search"
              aria-label="Search flags"
              placeholder="Search key or name"
              className="w-72 max-w-full"
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
            <Input
              aria-label="Filter by tag"
              placeholder="tag"
              className="w-32"
              value={tag}
              onChange={(e) => update({ tag: e.target.value.trim(), offset: "" })}
            />
            <Select
              aria-label="Archived"
              className="w-36"
              value={archived ? "1" : ""}
              onChange={(e) => update({ archived: e.target.value, offset: "" })}
            >
              <option value="">Active flags</option>
              <option value="1">Archived flags</option>
            </Select>
          </div>
          <ErrorBanner error={flags.error} />
          {flags.isPending ? (
            <Spinner />
          ) : (
            <ScrollArea label="Flags" hint="Scroll sideways for the other environments" frame="rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
              <table className="min-w-full text-sm" data-testid="flags-table">
                <thead className="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                  <tr>
                    <th scope="col" className="px-3 py-2">Flag</th>
                    <th scope="col" className="hidden px-3 py-2 md:table-cell">Tags</th>
                    {envs.map((env) => (
                      <th key={env.key} scope="col" className="px-3 py-2 text-center">
                        {env.key}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {rows.map((flag) => (
                    <tr key={flag.key} className="hover:bg-slate-50">
                      <td className="max-w-xs px-3 py-2">
                        <Link to={`/flags/${flag.key}`} className="font-medium text-indigo-700 hover:underline">
                          {flag.name}
                        </Link>
                        <div className="flex flex-wrap items-center gap-1 font-mono text-xs text-slate-500">
                          {flag.key}
                          <StaleBadge row={stale.data?.get(flag.key)} />
                          {flag.archived ? <Badge>archived</Badge> : null}
                        </div>
                      </td>
                      <td className="hidden px-3 py-2 md:table-cell">
                        <div className="flex flex-wrap gap-1">
                          {flag.tags.map((t) => (
                            <button key={t} type="button" onClick={() => update({ tag: t, offset: "" })}>
                              <Badge tone="indigo">{t}</Badge>
                            </button>
                          ))}
                        </div>
                      </td>
                      {envs.map((env) => {
                        const on = envConfig(flag, env.key).enabled;
                        return (
                          <td key={env.key} className="px-3 py-2 text-center">
                            <span
                              className={`inline-block h-2.5 w-2.5 rounded-full ${on ? "bg-emerald-500" : "bg-slate-300"}`}
                              title={`${env.key}: ${on ? "on" : "off"}`}
                            />
                            <span className="sr-only">{on ? "on" : "off"}</span>
                          </td>
                        );
                      })}
                    </tr>
                  ))}
                  {rows.length === 0 ? (
                    <tr>
                      <td colSpan={2 + envs.length} className="px-3 py-6 text-center text-slate-500">
                        No flag matches.
                      </td>
                    </tr>
                  ) : null}
                </tbody>
              </table>
            </ScrollArea>
          )}
          {total > PAGE ? (
            <nav aria-label="Pages" className="mt-3 flex items-center justify-between text-sm text-slate-600">
              <span>
                {offset + 1}–{Math.min(offset + PAGE, total)} of {total.toLocaleString()}
              </span>
              <span className="flex gap-2">
                <Button disabled={offset === 0} onClick={() => update({ offset: String(Math.max(0, offset - PAGE)) })}>
                  Previous
                </Button>
                <Button disabled={offset + PAGE >= total} onClick={() => update({ offset: String(offset + PAGE) })}>
                  Next
                </Button>
              </span>
            </nav>
          ) : null}
        </>
      )}
    </>
  );
}

function StaleBadge({ row }: { row: StaleFlag | undefined }) {
  if (!row) return null;
  return (
    <Badge tone="amber" title={staleReason(row)}>
      {row.reason === "shipped" ? "stale (shipped)" : "stale"}
    </Badge>
  );
}
