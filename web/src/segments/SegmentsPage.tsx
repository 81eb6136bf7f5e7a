import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { ApiError } from "../api/client";
import { useCan } from "../auth/AuthProvider";
import { slug } from "../experiments/wizard";
import { Button, Dialog, EmptyState, ErrorBanner, Field, Input, PageHeader, Spinner } from "../ui";
import { useSegmentMutations, useSegments } from "./api";

export function SegmentsPage() {
  const segments = useSegments();
  const can = useCan();
  const navigate = useNavigate();
  const { create } = useSegmentMutations();
  const [open, setOpen] = useState(false);
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  // the key follows the name until the person edits it (as for flags, metrics and experiments)
  const [keyEdited, setKeyEdited] = useState(false);
  const fieldError = (path: string) =>
    create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ key, name, conditions: [] }, { onSuccess: (s) => navigate(`/segments/${s.key}`) });
  };
  return (
    <>
      <PageHeader
        title="Segments"
        actions={can("segments:write") ? <Button variant="primary" onClick={() => setOpen(true)}>New segment</Button> : null}
      >
        Reusable groups of users, referenced by flag rules with “is in segment”.
      </PageHeader>
      <Dialog open={open} title="New segment" onClose={() => setOpen(false)}>
        <form onSubmit={submit} className="flex flex-col gap-3">
          <ErrorBanner error={create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error} />
          <Field label="Name" error={fieldError("name")}>
            {(p) => (
              <Input
                {...p}
                required
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                  if (!keyEdited) setKey(slug(e.target.value));
                }}
              />
            )}
          </Field>
          <Field label="Key" error={fieldError("key")} hint="Used in flag rules; cannot change later.">
            {(p) => (
              <Input
                {...p}
                required
                className="font-mono"
                value={key}
                onChange={(e) => {
                  setKey(e.target.value);
                  setKeyEdited(true);
                }}
              />
            )}
          </Field>
          <div className="flex justify-end gap-2">
            <Button onClick={() => setOpen(false)}>Cancel</Button>
            <Button type="submit" variant="primary">Create segment</Button>
          </div>
        </form>
      </Dialog>
      <ErrorBanner error={segments.error} />
      {segments.isPending ? (
        <Spinner />
      ) : segments.data?.length === 0 ? (
        <EmptyState title="No segments yet">Group users once (beta testers, internal staff, a region) and target them from any flag.</EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {segments.data?.map((s) => (
            <li key={s.key} className="px-4 py-3">
              <Link to={`/segments/${s.key}`} className="font-medium text-indigo-700 hover:underline">
                {s.name}
              </Link>
              <div className="font-mono text-xs text-slate-500">
                {s.key} · {s.conditions.length} condition{s.conditions.length === 1 ? "" : "s"}
              </div>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
