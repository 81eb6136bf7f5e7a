import { useEffect, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { useCan } from "../auth/AuthProvider";
import { ConditionBuilder } from "../flags/ConditionBuilder";
import { fieldErrorsFor, isConflict } from "../flags/errors";
import type { Condition } from "../flags/operators";
import { Button, Card, Dialog, ErrorBanner, PageHeader, Spinner } from "../ui";
import { useSegment, useSegmentMutations, useSegments } from "./api";
import { groupUses, usesOf } from "./usage";

/** Flags whose rules reference the segment (scans the first 500 flags; the server checks on delete). */
function useUsedBy(key: string) {
  return useQuery({
    queryKey: ["segment", key, "used-by"],
    queryFn: async () => {
      const flags = (await unwrap(api.GET("/api/v1/feature-flags", { params: { query: { limit: 500 } } }))).data;
      return flags.filter((f) => JSON.stringify(f.environments).includes(`"${key}"`) && JSON.stringify(f.environments).includes("_segment"));
    },
  });
}

export function SegmentPage() {
  const { key = "" } = useParams();
  const segment = useSegment(key);
  const segments = useSegments();
  const usedBy = useUsedBy(key);
  const { update, remove } = useSegmentMutations();
  const navigate = useNavigate();
  const can = useCan();
  const [conditions, setConditions] = useState<Condition[]>([]);
  const [deleting, setDeleting] = useState(false);
  const closeDelete = () => {
    setDeleting(false);
    remove.reset();
  };
  const uses = groupUses(usesOf(remove.error));
  const flagNames = new Map((usedBy.data ?? []).map((f) => [f.key, f.name] as const));
  useEffect(() => {
    if (segment.data) setConditions(segment.data.conditions as unknown as Condition[]);
  }, [segment.data]);
  if (segment.isPending) return <Spinner />;
  if (!segment.data) return <ErrorBanner error={segment.error} />;
  const data = segment.data;
  const canWrite = can("segments:write", data.owner_id);
  const errors = fieldErrorsFor(update.error, "");
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/segments" className="text-indigo-700 hover:underline">
          Segments
        </Link>
      </nav>
      <PageHeader
        title={data.name}
        actions={
          canWrite ? (
            <Button variant="ghost" onClick={() => setDeleting(true)}>
              Delete…
            </Button>
          ) : null
        }
      >
        <span className="font-mono">{data.key}</span> · version {data.version}
      </PageHeader>
      <Dialog
        open={deleting}
        title={`Delete segment “${data.name}”?`}
        onClose={closeDelete}
        footer={
          <>
            <Button onClick={closeDelete}>{uses.length ? "Close" : "Cancel"}</Button>
            {uses.length ? null : (
              <Button variant="danger" disabled={remove.isPending} onClick={() => remove.mutate(key, { onSuccess: () => navigate("/segments") })}>
                Delete segment
              </Button>
            )}
          </>
        }
      >
        {uses.length ? (
          <div role="alert" data-testid="segment-in-use" className="space-y-1 text-sm text-slate-800">
            <p className="font-medium text-red-800">Not deleted: the segment is in use. Remove it from these first:</p>
            <ul className="list-disc space-y-0.5 pl-5">
              {uses.map((use) => (
                <li key={`${use.type}:${use.key}`}>
                  {use.type}{" "}
                  {use.href ? (
                    <Link className="text-indigo-700 hover:underline" to={use.href} onClick={closeDelete}>
                      {use.type === "flag" ? (flagNames.get(use.key) ?? use.key) : use.key}
                    </Link>
                  ) : (
                    use.key
                  )}
                  {use.type === "flag" && flagNames.has(use.key) ? <span className="font-mono text-xs text-slate-500"> {use.key}</span> : null}
                  {use.environments.length ? <span className="text-slate-600"> (rules in {use.environments.join(", ")})</span> : null}
                </li>
              ))}
            </ul>
          </div>
        ) : (
          <>
            <p className="text-sm text-slate-700">
              The segment <span className="font-mono">{data.key}</span> and its {data.conditions.length} condition{data.conditions.length === 1 ? "" : "s"} are
              deleted for good (the history keeps the last version). The server refuses while a flag rule, another segment or an
              experiment uses it, and says which.
            </p>
            <ErrorBanner error={remove.error} />
          </>
        )}
      </Dialog>
      <div className="space-y-4">
        <ErrorBanner error={isConflict(update.error) ? new Error("Changed by someone else: reload the page, your conditions are kept until then.") : update.error && !errors.size ? update.error : null} />
        <Card title="A user is in this segment when every condition holds">
          <ConditionBuilder
            conditions={conditions}
            onChange={setConditions}
            segments={(segments.data ?? []).map((s) => s.key).filter((k) => k !== key)}
            errorAt={(path) => errors.get(path)}
            basePath="conditions"
            emptyText="No conditions: every user is in this segment."
            disabled={!canWrite}
          />
          {canWrite ? (
            <div className="mt-3 flex justify-end">
              <Button variant="primary" disabled={update.isPending} onClick={() => update.mutate({ key, version: data.version, conditions })}>
                Save segment
              </Button>
            </div>
          ) : null}
        </Card>
        <Card title="Used by">
          {usedBy.data?.length ? (
            <ul className="space-y-1 text-sm">
              {usedBy.data.map((f) => (
                <li key={f.key}>
                  <Link className="text-indigo-700 hover:underline" to={`/flags/${f.key}`}>
                    {f.name}
                  </Link>{" "}
                  <span className="font-mono text-xs text-slate-500">{f.key}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="text-sm text-slate-500">No flag rule uses this segment.</p>
          )}
        </Card>
      </div>
    </>
  );
}
