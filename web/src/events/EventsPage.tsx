import { useDeferredValue, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { Button, Card, ErrorBanner, Field, Input, PageHeader, Spinner } from "../ui";

const REFRESH_MS = 3_000;

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div className="rounded-md bg-slate-50 p-3 ring-1 ring-slate-200">
      <div className="text-xs text-slate-600">{label}</div>
      <div className="text-lg font-semibold tabular-nums text-slate-900">{value}</div>
      {hint ? <div className="text-xs text-slate-600">{hint}</div> : null}
    </div>
  );
}

function Health({ live }: { live: boolean }) {
  const health = useQuery({
    queryKey: ["events", "health"],
    queryFn: async () => (await unwrap(api.GET("/api/v1/events/health"))).data,
    refetchInterval: live ? REFRESH_MS : false,
  });
  if (health.isPending) return <Spinner />;
  if (!health.data) return <ErrorBanner error={health.error} />;
  const h = health.data;
  const rejected = h.rejected_last_hour.reduce((sum, r) => sum + r.count, 0);
  return (
    <div className="space-y-3">
      <div className="grid grid-cols-2 gap-2 md:grid-cols-4">
        <Figure label={`Accepted a second (last ${h.window_seconds} s)`} value={h.accepted_per_second.toLocaleString(undefined, { maximumFractionDigits: 2 })} />
        <Figure label="Accepted in the last hour" value={h.accepted_last_hour.toLocaleString()} />
        <Figure
          label="Queue depth"
          value={h.queue_depth.toLocaleString()}
          hint={h.oldest_queued_seconds === null ? "nothing waiting" : `oldest waiting ${h.oldest_queued_seconds.toFixed(1)} s`}
        />
        <Figure label="Rejected in the last hour" value={rejected.toLocaleString()} />
      </div>
      {h.rejected_last_hour.length ? (
        <table className="w-full text-left text-sm" aria-label="Rejected events by reason">
          <thead className="text-xs uppercase text-slate-600">
            <tr>
              <th className="py-1 font-medium">Reason</th>
              <th className="py-1 text-right font-medium">Events</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {h.rejected_last_hour.map((r) => (
              <tr key={r.reason}>
                <td className="py-1 pr-2 font-mono text-xs">{r.reason}</td>
                <td className="py-1 text-right tabular-nums">{r.count.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="text-sm text-slate-600">No event refused in the last hour.</p>
      )}
    </div>
  );
}

function time(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function EventsPage() {
  const [name, setName] = useState("");
  const [user, setUser] = useState("");
  const [experiment, setExperiment] = useState("");
  const [live, setLive] = useState(true);
  const filters = useDeferredValue({ name: name.trim(), user: user.trim(), experiment: experiment.trim() });
  const events = useQuery({
    queryKey: ["events", "recent", filters],
    queryFn: async () =>
      (
        await unwrap(
          api.GET("/api/v1/events", {
            params: {
              query: {
                name: filters.name || undefined,
                user_id: filters.user || undefined,
                experiment_key: filters.experiment || undefined,
                limit: 100,
              },
            },
          }),
        )
      ).data,
    refetchInterval: live ? REFRESH_MS : false,
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <PageHeader
        title="Events"
        actions={
          <Button aria-pressed={!live} onClick={() => setLive(!live)}>
            {live ? "Pause" : "Resume live view"}
          </Button>
        }
      >
        What applications send, as it arrives ({live ? `refreshing every ${REFRESH_MS / 1000} s` : "paused"}).
      </PageHeader>
      <div className="space-y-4">
        <Card title="Ingestion health">
          <Health live={live} />
        </Card>
        <Card title="Recent events (newest first, 100 at most)">
          <div className="mb-3 grid grid-cols-1 gap-2 sm:grid-cols-3">
            <Field label="Event name">{(p) => <Input {...p} className="font-mono" value={name} onChange={(e) => setName(e.target.value)} />}</Field>
            <Field label="User id">{(p) => <Input {...p} className="font-mono" value={user} onChange={(e) => setUser(e.target.value)} />}</Field>
            <Field label="Experiment key">{(p) => <Input {...p} className="font-mono" value={experiment} onChange={(e) => setExperiment(e.target.value)} />}</Field>
          </div>
          <ErrorBanner error={events.error} />
          {events.isPending ? (
            <Spinner />
          ) : events.data?.length === 0 ? (
            <p className="text-sm text-slate-600">No event matches{filters.name || filters.user || filters.experiment ? " these filters" : " yet"}.</p>
          ) : (
            <div className="relative overflow-x-auto">
              <table className="w-full text-left text-sm" aria-label="Recent events">
                <thead className="border-b border-slate-200 text-xs uppercase text-slate-600">
                  <tr>
                    <th className="py-1.5 pr-3 font-medium">Received</th>
                    <th className="py-1.5 pr-3 font-medium">Event</th>
                    <th className="py-1.5 pr-3 font-medium">User</th>
                    <th className="hidden py-1.5 pr-3 font-medium sm:table-cell">Experiment</th>
                    <th className="hidden py-1.5 pr-3 text-right font-medium sm:table-cell">Value</th>
                    <th className="hidden py-1.5 font-medium lg:table-cell">Properties</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {events.data?.map((e) => (
                    <tr key={e.seq} data-event={e.event_id}>
                      <td className="whitespace-nowrap py-1.5 pr-3 tabular-nums text-slate-700" title={`occurred ${e.occurred_at}`}>
                        {time(e.received_at)}
                      </td>
                      <td className="py-1.5 pr-3 font-mono text-xs">{e.name}</td>
                      <td className="max-w-[8rem] truncate py-1.5 pr-3 font-mono text-xs" title={e.user_id}>
                        {e.user_id}
                      </td>
                      <td className="hidden py-1.5 pr-3 font-mono text-xs sm:table-cell">
                        {e.experiment_key ? `${e.experiment_key}${e.variant ? ` / ${e.variant}` : ""}` : "—"}
                      </td>
                      <td className="hidden py-1.5 pr-3 text-right tabular-nums sm:table-cell">{e.value ?? "—"}</td>
                      <td className="hidden max-w-xs truncate py-1.5 font-mono text-xs text-slate-600 lg:table-cell" title={JSON.stringify(e.properties)}>
                        {Object.keys(e.properties).length ? JSON.stringify(e.properties) : "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
    </>
  );
}
