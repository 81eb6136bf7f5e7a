import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { Badge, Button, Card, EmptyState, ErrorBanner, Field, formatDate, Input, PageHeader, Spinner } from "../ui";
import { useDeliveries, useWebhookMutations, useWebhooks } from "./api";
import { Secret } from "./Secret";

const EVENT_TYPES = [
  "experiment.scheduled",
  "experiment.unscheduled",
  "experiment.started",
  "experiment.paused",
  "experiment.resumed",
  "experiment.completed",
  "experiment.archived",
  "experiment.guardrail_breached",
  "webhook.ping",
];

function Deliveries({ id, active }: { id: string; active: boolean }) {
  const deliveries = useDeliveries(id);
  const { retry } = useWebhookMutations();
  if (deliveries.isPending) return <Spinner />;
  if (!deliveries.data?.length) return <p className="text-sm text-slate-500">No deliveries yet.{active ? " Send a ping." : ""}</p>;
  return (
    <ul className="divide-y divide-slate-100 text-sm">
      {deliveries.data.map((d) => (
        <li key={d.id} className="flex flex-wrap items-center gap-2 py-1.5">
          <span className="font-mono text-xs">{d.event_type}</span>
          <Badge tone={d.status === "delivered" ? "green" : d.status === "failed" ? "red" : "amber"}>{d.status}</Badge>
          <span className="text-xs text-slate-500">
            {d.attempts} attempt{d.attempts === 1 ? "" : "s"}
            {d.last_status_code ? ` · HTTP ${d.last_status_code}` : ""}
            {d.last_error ? ` · ${d.last_error}` : ""} · {formatDate(d.created_at)}
          </span>
          {d.status === "failed" && active ? (
            <Button variant="ghost" className="ml-auto" onClick={() => retry.mutate({ id, delivery: d.id })}>
              Retry
            </Button>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

export function WebhooksPage() {
  const hooks = useWebhooks();
  const { create, remove, ping } = useWebhookMutations();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<string[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const fieldError = (path: string) => (create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ url, event_types: types }, { onSuccess: () => setUrl("") });
  };
  return (
    <>
      <PageHeader title="Webhooks">Signed HTTP POSTs when experiments change state, retried with backoff.</PageHeader>
      <div className="space-y-4">
        {create.data ? <Secret label={`Signing secret for ${create.data.url}`} value={create.data.secret} /> : null}
        <ErrorBanner error={hooks.error ?? remove.error ?? ping.error} />
        <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
          <div className="space-y-3">
            {hooks.isPending ? <Spinner /> : null}
            {hooks.data?.length === 0 ? <EmptyState title="No webhooks yet">Add an endpoint to hear about experiments as they start, pause and finish.</EmptyState> : null}
            {hooks.data?.map((hook) => (
              <Card
                key={hook.id}
                title={hook.url}
                actions={
                  <span className="flex gap-1">
                    <Button
                      variant="ghost"
                      disabled={!hook.active}
                      title={hook.active ? undefined : "Inactive: nothing is sent to it"}
                      onClick={() => ping.mutate(hook.id, { onSuccess: () => setOpen(hook.id) })}
                    >
                      Ping
                    </Button>
                    <Button variant="ghost" aria-expanded={open === hook.id} onClick={() => setOpen(open === hook.id ? null : hook.id)}>
                      Deliveries
                    </Button>
                    <Button variant="ghost" onClick={() => remove.mutate(hook.id)}>
                      Delete
                    </Button>
                  </span>
                }
              >
                <div className="flex flex-wrap gap-1">
                  {(hook.event_types.length ? hook.event_types : ["every event"]).map((t) => (
                    <Badge key={t}>{t}</Badge>
                  ))}
                  {hook.active ? null : <Badge tone="red">inactive</Badge>}
                </div>
                {open === hook.id ? (
                  <div className="mt-3 border-t border-slate-100 pt-2">
                    <Deliveries id={hook.id} active={hook.active} />
                  </div>
                ) : null}
              </Card>
            ))}
          </div>
          <Card title="Add a webhook">
            <form onSubmit={submit} className="space-y-3">
              <ErrorBanner error={create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error} />
              <Field label="URL" error={fieldError("url")}>
                {(p) => <Input {...p} type="url" required placeholder="https://example.com/hooks" value={url} onChange={(e) => setUrl(e.target.value)} />}
              </Field>
              <fieldset>
                <legend className="mb-1 text-xs font-medium text-slate-700">Events (none checked: every event)</legend>
                {EVENT_TYPES.map((t) => (
                  <label key={t} className="flex items-center gap-2 text-xs">
                    <input type="checkbox" checked={types.includes(t)} onChange={(e) => setTypes(e.target.checked ? [...types, t] : types.filter((x) => x !== t))} />
                    <span className="font-mono">{t}</span>
                  </label>
                ))}
              </fieldset>
              <Button type="submit" variant="primary">
                Add webhook
              </Button>
            </form>
          </Card>
        </div>
      </div>
    </>
  );
}
