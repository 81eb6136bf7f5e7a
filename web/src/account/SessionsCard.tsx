import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { Badge, Button, Card, Dialog, ErrorBanner, formatDate, Spinner } from "../ui";
import { currentFirst, describeDevice } from "./devices";

type Session = components["schemas"]["SessionRead"];

const SESSIONS = ["my-sessions"];

/** Ending a session another tab (or its expiry) ended first is no failure: it is gone either way. */
async function endSession(id: string): Promise<void> {
  try {
    await unwrap(api.DELETE("/api/beta/sessions/{session_id}", { params: { path: { session_id: id } } }));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
}

/** A device's name, with the whole user agent as its tooltip. */
function Device({ session }: { session: Session }) {
  return (
    <span className="font-medium text-slate-900" title={session.user_agent || undefined}>
      {describeDevice(session.user_agent)}
    </span>
  );
}

/** The signed-in person's sessions (one per sign-in, on each device or script), and ending them. */
export function SessionsCard() {
  const queryClient = useQueryClient();
  const sessions = useQuery({
    queryKey: SESSIONS,
    queryFn: async () => (await unwrap(api.GET("/api/beta/sessions"))).data,
  });
  const [ending, setEnding] = useState<Session | null>(null);
  const [endingOthers, setEndingOthers] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: SESSIONS });

  const endOne = useMutation({
    mutationFn: endSession,
    onSuccess: () => setEnding(null),
    onSettled: refresh,
  });
  // DELETE /api/beta/sessions would end this session too (the server ends every one): the others go
  // one by one instead, and this device stays signed in
  const endOthers = useMutation({
    mutationFn: async (ids: string[]) => {
      const results = await Promise.allSettled(ids.map(endSession));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    },
    onSuccess: () => setEndingOthers(false),
    onSettled: refresh,
  });

  const list = currentFirst(sessions.data ?? []);
  const others = list.filter((s) => !s.current);
  const closeOne = () => {
    setEnding(null);
    endOne.reset();
  };
  const closeOthers = () => {
    setEndingOthers(false);
    endOthers.reset();
  };

  return (
    <Card title="Your sessions">
      <p className="mb-3 text-sm text-slate-600">
        Each sign-in is a session: this browser, another device, a script that signed in with your password. End one you do not recognise.
      </p>
      {sessions.isPending ? <Spinner label="Loading sessions" /> : null}
      <ErrorBanner error={sessions.error} />
      {list.length ? (
        <ul aria-label="Sessions" className="divide-y divide-slate-100">
          {list.map((session) => (
            <li key={session.id} data-testid="session" data-current={session.current} className="flex flex-wrap items-center justify-between gap-x-4 gap-y-2 py-2.5">
              <div className="min-w-0">
                <div className="flex flex-wrap items-center gap-2">
                  <Device session={session} />
                  {session.current ? <Badge tone="indigo">This device</Badge> : null}
                </div>
                <div className="mt-0.5 flex flex-wrap gap-x-3 text-xs text-slate-600">
                  <span>{session.ip ? `IP ${session.ip}` : "IP unknown"}</span>
                  {/* the last sign-in or token refresh: the server does not record every request */}
                  <span>Last used {formatDate(session.last_used_at)}</span>
                  <span>Signed in {formatDate(session.started_at)}</span>
                </div>
              </div>
              {session.current ? null : (
                <Button
                  aria-label={`End the session of ${describeDevice(session.user_agent)}${session.ip ? ` at ${session.ip}` : ""}`}
                  onClick={() => {
                    endOne.reset();
                    setEnding(session);
                  }}
                >
                  End…
                </Button>
              )}
            </li>
          ))}
        </ul>
      ) : null}
      {/* under the list it sums up (in the card's header it squeezed the title on a phone) */}
      {others.length > 0 ? (
        <div className="mt-2 border-t border-slate-100 pt-3">
          <Button
            onClick={() => {
              endOthers.reset();
              setEndingOthers(true);
            }}
          >
            Sign out everywhere else…
          </Button>
        </div>
      ) : null}

      <Dialog
        open={ending !== null}
        title={`End the session of ${ending ? describeDevice(ending.user_agent) : ""}?`}
        onClose={closeOne}
        footer={
          <>
            <Button onClick={closeOne}>Cancel</Button>
            <Button variant="danger" disabled={endOne.isPending} onClick={() => ending && endOne.mutate(ending.id)}>
              {endOne.isPending ? "Ending…" : "End session"}
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700">
          That device is signed out: it must sign in again. A page already open there may keep working for a few minutes, until its
          short-lived access token expires.
        </p>
        {ending ? (
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs text-slate-600">
            <dt className="font-medium text-slate-700">IP</dt>
            <dd>{ending.ip || "unknown"}</dd>
            <dt className="font-medium text-slate-700">Last used</dt>
            <dd>{formatDate(ending.last_used_at)}</dd>
            {/* the whole user agent: on a phone there is no tooltip to read it in */}
            <dt className="font-medium text-slate-700">Device</dt>
            <dd className="min-w-0 break-words font-mono">{ending.user_agent || "nothing (no user agent)"}</dd>
          </dl>
        ) : null}
        <ErrorBanner error={endOne.error} />
      </Dialog>

      <Dialog
        open={endingOthers}
        title="Sign out everywhere else?"
        onClose={closeOthers}
        footer={
          <>
            <Button onClick={closeOthers}>Cancel</Button>
            <Button variant="danger" disabled={endOthers.isPending} onClick={() => endOthers.mutate(others.map((s) => s.id))}>
              {endOthers.isPending ? "Ending…" : `End ${others.length} other ${others.length === 1 ? "session" : "sessions"}`}
            </Button>
          </>
        }
      >
        <p className="text-sm text-slate-700">
          Every other device and script signed in as you is signed out and must sign in again. You stay signed in here.
        </p>
        <ErrorBanner error={endOthers.error} />
      </Dialog>
    </Card>
  );
}
