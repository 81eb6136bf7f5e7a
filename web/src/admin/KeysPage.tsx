import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { Badge, Button, Card, EmptyState, ErrorBanner, Field, formatDate, Input, PageHeader, Select, Spinner } from "../ui";
import { useKeyMutations, useKeys, useUsers } from "./api";
import { creatorLabel, keyExpiry } from "./keys";
import { isClientKey, SCOPES, toggleScope, type Scope } from "./scopes";
import { Secret } from "./Secret";
import { Snippets } from "./Snippets";

export function KeysPage() {
  const keys = useKeys();
  const environments = useEnvironments();
  const { create, revoke } = useKeyMutations();
  const can = useCan();
  // creators by email when the viewer may list people; otherwise their ids stay
  const users = useUsers({ enabled: can("users:read") });
  const [name, setName] = useState("");
  const [environment, setEnvironment] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["evaluate", "track"]);
  // what ticking a scope unticked to keep the server's rule (a client key adds only track), said once
  const [unticked, setUnticked] = useState<{ by: Scope; scopes: Scope[] } | null>(null);
  const tick = (scope: Scope, checked: boolean) => {
    const next = toggleScope(scopes, scope, checked);
    setScopes(next.scopes);
    setUnticked(next.unticked.length ? { by: scope, scopes: next.unticked } : null);
  };
  const env = environment || environments.data?.[0]?.key || "";
  const fieldError = (path: string) => (create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name, environment: env, scopes }, { onSuccess: () => setName("") });
  };
  const created = create.data;
  return (
    <>
      <PageHeader title="API keys">A key is bound to one environment; applications evaluate flags and send events with it.</PageHeader>
      <div className="space-y-4">
        {created ? (
          <Card title={`Key “${created.name}” for ${created.environment}`}>
            <div className="space-y-3">
              <Secret label="The key" value={created.key} />
              {isClientKey(created.scopes) ? (
                <>
                  <p className="text-sm text-slate-600">
                    Read flags from a web page with it. It sees only the flags marked client-visible (
                    <code className="font-mono text-xs">PUT /api/v1/feature-flags/&#123;key&#125;/client-visible</code>), and a page
                    on another origin needs that origin in the server&apos;s{" "}
                    <code className="font-mono text-xs">EXPERIMENTLY_SDK_CLIENT_ORIGINS</code>.
                  </p>
                  <Snippets key={created.id} apiKey={created.key} flag="my-flag" client />
                </>
              ) : (
                <>
                  <p className="text-sm text-slate-600">Call a flag with it:</p>
                  <Snippets key={created.id} apiKey={created.key} flag="my-flag" />
                </>
              )}
            </div>
          </Card>
        ) : null}
        <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
          <div>
            <ErrorBanner error={keys.error ?? revoke.error} />
            {keys.isPending ? <Spinner /> : null}
            {keys.data?.length === 0 ? (
              <EmptyState title="No API keys yet">Create a key to evaluate flags from your application.</EmptyState>
            ) : (
              <div className="relative overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
                <table className="min-w-full text-sm">
                  <thead className="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                    <tr>
                      <th scope="col" className="px-3 py-2">Key</th>
                      <th scope="col" className="hidden px-3 py-2 sm:table-cell">Environment</th>
                      <th scope="col" className="hidden px-3 py-2 sm:table-cell">Created</th>
                      <th scope="col" className="hidden px-3 py-2 sm:table-cell">Expires</th>
                      <th scope="col" className="hidden px-3 py-2 sm:table-cell">Last used</th>
                      <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
                    </tr>
                  </thead>
                  <tbody className="divide-y divide-slate-100">
                    {keys.data?.map((key) => {
                      const creator = creatorLabel(key.created_by, users.data);
                      const expiry = keyExpiry(key.expires_at);
                      const by = creator ? (
                        // an id may break anywhere to fit; an email only where it must
                        <span title={key.created_by ?? undefined} className={creator === key.created_by ? "break-all font-mono" : "break-words"}>
                          {creator}
                        </span>
                      ) : (
                        "unknown"
                      );
                      const expires = expiry.never ? (
                        "never"
                      ) : (
                        <>
                          {formatDate(key.expires_at)} {expiry.expired ? <Badge tone="red">expired</Badge> : null}
                        </>
                      );
                      const lastUsed = key.last_used_at ? formatDate(key.last_used_at) : "never";
                      return (
                        <tr key={key.id} className={key.revoked_at ? "text-slate-500" : ""} data-key={key.name}>
                          <td className="px-3 py-2">
                            <div className="font-medium">{key.name}</div>
                            <div className="font-mono text-xs">{key.prefix}…</div>
                            <div className="mt-0.5 flex flex-wrap gap-1">
                              {key.scopes.map((s) => (
                                <Badge key={s}>{s}</Badge>
                              ))}
                              {key.revoked_at ? <Badge tone="red">revoked</Badge> : null}
                            </div>
                            {/* on a phone the other columns read here, as lines, instead of off the screen */}
                            <div className="mt-1 space-y-0.5 text-xs text-slate-600 sm:hidden">
                              <div>
                                Environment <span className="font-mono">{key.environment}</span>
                              </div>
                              <div>
                                Created {formatDate(key.created_at)} by {by}
                              </div>
                              <div>
                                Expires {expires} · last used {lastUsed}
                              </div>
                            </div>
                          </td>
                          <td className="hidden px-3 py-2 font-mono text-xs sm:table-cell">{key.environment}</td>
                          <td className="hidden px-3 py-2 text-xs sm:table-cell" data-testid="key-created">
                            <div className="whitespace-nowrap">{formatDate(key.created_at)}</div>
                            <div className="text-slate-600">by {by}</div>
                          </td>
                          <td className="hidden px-3 py-2 text-xs sm:table-cell" data-testid="key-expires">
                            {expires}
                          </td>
                          <td className="hidden px-3 py-2 text-xs sm:table-cell">{lastUsed}</td>
                          <td className="px-3 py-2 text-right">
                            {!key.revoked_at && can("keys:write") ? (
                              <Button variant="ghost" onClick={() => revoke.mutate(key.id)}>
                                Revoke
                              </Button>
                            ) : null}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </div>
          {can("keys:write") ? (
            <Card title="Create a key">
              <form onSubmit={submit} className="space-y-3">
                <ErrorBanner error={create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error} />
                <Field label="Name" error={fieldError("name")}>
                  {(p) => <Input {...p} required placeholder="checkout service" value={name} onChange={(e) => setName(e.target.value)} />}
                </Field>
                <Field label="Environment" error={fieldError("environment")}>
                  {(p) => (
                    <Select {...p} value={env} onChange={(e) => setEnvironment(e.target.value)}>
                      {environments.data?.map((en) => (
                        <option key={en.key} value={en.key}>
                          {en.name}
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
                <fieldset>
                  <legend className="mb-1 text-xs font-medium text-slate-700">Scopes</legend>
                  {SCOPES.map(({ scope, help }) => (
                    <label key={scope} className="flex items-start gap-2 text-sm">
                      <input type="checkbox" className="mt-0.5" checked={scopes.includes(scope)} onChange={(e) => tick(scope, e.target.checked)} />
                      <span>
                        <span className="font-mono text-xs">{scope}</span> <span className="text-xs text-slate-500">{help}</span>
                      </span>
                    </label>
                  ))}
                  <p aria-live="polite" data-testid="scopes-note" className="mt-1 text-xs text-slate-600">
                    {unticked
                      ? unticked.by === "client"
                        ? `A client key adds only track: ${unticked.scopes.join(" and ")} unticked.`
                        : `${unticked.by} is for server-side keys: client unticked.`
                      : null}
                  </p>
                  {fieldError("scopes") ? <p role="alert" className="text-xs text-red-700">{fieldError("scopes")}</p> : null}
                </fieldset>
                <Button type="submit" variant="primary" disabled={create.isPending}>
                  Create key
                </Button>
              </form>
            </Card>
          ) : null}
        </div>
      </div>
    </>
  );
}
