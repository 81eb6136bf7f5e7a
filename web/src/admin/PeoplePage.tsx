import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useCan, useSession } from "../auth/AuthProvider";
import { Badge, Button, Card, Dialog, ErrorBanner, Field, formatDate, Input, PageHeader, ScrollArea, Select, Spinner } from "../ui";
import { useUserMutations, useUsers } from "./api";
import { asksFirst, canResetTwoStep, mfaResetNotice, ROLES, savedNotice, twoStep, type PersonChange, type Role } from "./people";
import { Secret } from "./Secret";

interface Person {
  id: string;
  email: string;
  role: string;
  is_active: boolean;
  mfa_enabled?: boolean;
}

export function PeoplePage() {
  const users = useUsers();
  const { me } = useSession();
  const { create, update, reset, resetMfa } = useUserMutations();
  const can = useCan();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  // granting admin and deactivating wait here for a confirmation; every saved change says so
  const [confirming, setConfirming] = useState<{ person: Person; change: PersonChange } | null>(null);
  const [saved, setSaved] = useState<{ id: string; text: string } | null>(null);
  // resetting someone's two-step verification asks first too: it signs them out
  const [resetting, setResetting] = useState<Person | null>(null);
  const closeReset = () => {
    setResetting(null);
    resetMfa.reset();
  };
  const applyReset = (person: Person) => {
    setSaved(null);
    resetMfa.mutate(person.id, {
      onSuccess: () => {
        setResetting(null);
        setSaved({ id: person.id, text: mfaResetNotice(person.email) });
      },
    });
  };
  const apply = (person: Person, change: PersonChange) => {
    setSaved(null);
    update.mutate(
      { id: person.id, ...change },
      {
        onSuccess: () => {
          setConfirming(null);
          setSaved({ id: person.id, text: savedNotice(person.email, change) });
        },
      },
    );
  };
  const request = (person: Person, change: PersonChange) => {
    update.reset();
    if (asksFirst(change, person)) setConfirming({ person, change });
    else apply(person, change);
  };
  const closeConfirm = () => {
    setConfirming(null);
    update.reset();
  };
  const granting = confirming?.change.role === "admin";
  const fieldError = (path: string) => (create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(
      { email, role },
      {
        onSuccess: (user) => {
          setEmail("");
          if (user.password) setSecret({ label: `Password for ${user.email}`, value: user.password });
        },
      },
    );
  };
  return (
    <>
      <PageHeader title="People">Roles: viewer reads; analyst also reads the history and owns analyses; developer changes what they own; admin does everything.</PageHeader>
      <div className="space-y-4">
        {secret ? <Secret label={secret.label} value={secret.value} /> : null}
        {confirming || resetting ? null : <ErrorBanner error={update.error ?? reset.error ?? resetMfa.error} />}
        <p role="status" className={saved ? "rounded-md bg-emerald-50 p-2 text-sm text-emerald-900 ring-1 ring-inset ring-emerald-600/30" : "sr-only"} data-testid="people-saved">
          {saved?.text ?? ""}
        </p>
        <Dialog
          open={confirming !== null}
          title={granting ? `Make ${confirming?.person.email} an admin?` : `Deactivate ${confirming?.person.email ?? ""}?`}
          onClose={closeConfirm}
          footer={
            <>
              <Button onClick={closeConfirm}>Cancel</Button>
              <Button variant="danger" disabled={update.isPending} onClick={() => confirming && apply(confirming.person, confirming.change)}>
                {granting ? "Make admin" : "Deactivate"}
              </Button>
            </>
          }
        >
          {granting ? (
            <p className="text-sm text-slate-700">
              An admin can do everything: change every flag, segment and experiment in every environment, add and deactivate people
              and change their roles, and manage API keys, environments, webhooks and safety settings.
            </p>
          ) : (
            <p className="text-sm text-slate-700">
              They are signed out everywhere and can no longer sign in, and the API keys they created stop working until they are
              reactivated. Their flags, experiments and history stay.
            </p>
          )}
          <ErrorBanner error={update.error} />
        </Dialog>
        <Dialog
          open={resetting !== null}
          title={`Reset two-step verification for ${resetting?.email ?? ""}?`}
          onClose={closeReset}
          footer={
            <>
              <Button onClick={closeReset}>Cancel</Button>
              <Button variant="danger" disabled={resetMfa.isPending} onClick={() => resetting && applyReset(resetting)}>
                Reset two-step
              </Button>
            </>
          }
        >
          <p className="text-sm text-slate-700">
            For someone who lost their phone. Two-step verification is switched off for them and they are signed out everywhere.
            They then sign in with their password alone and must set up two-step verification again; the codes from their
            authenticator app and their recovery codes no longer work.
          </p>
          <ErrorBanner error={resetMfa.error} />
        </Dialog>
        <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
          {/* on a phone the table scrolls sideways inside its card, and says so; min-w-0 keeps the grid
              cell from growing to the table's width (the page would scroll instead) */}
          <div className="min-w-0">
            <ScrollArea label="People" hint="Scroll sideways for two-step and the actions" frame="rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
              {users.isPending ? <Spinner /> : null}
              <table className="min-w-full text-sm">
                <thead className="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                  <tr>
                    <th scope="col" className="px-3 py-2">Person</th>
                    <th scope="col" className="px-3 py-2">Role</th>
                    <th scope="col" className="whitespace-nowrap px-3 py-2">Two-step</th>
                    <th scope="col" className="hidden px-3 py-2 sm:table-cell">Last sign-in</th>
                    <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {users.data?.map((user) => {
                    const self = user.id === me?.id;
                    return (
                      <tr key={user.id} className={user.is_active ? "" : "text-slate-500"}>
                        <td className="px-3 py-2">
                          {user.email} {user.is_active ? null : <Badge>deactivated</Badge>}
                        </td>
                        <td className="px-3 py-2">
                          <Select
                            aria-label={`Role of ${user.email}`}
                            className="w-36"
                            value={user.role}
                            disabled={self || (update.isPending && update.variables?.id === user.id)}
                            onChange={(e) => request(user, { role: e.target.value as Role })}
                          >
                            {ROLES.map((r) => (
                              <option key={r}>{r}</option>
                            ))}
                          </Select>
                        </td>
                        <td className="px-3 py-2">
                          {/* the reset sits by the status it changes, not among the row's other actions */}
                          <div className="flex items-center gap-x-1 whitespace-nowrap">
                            <span data-testid="two-step" data-value={twoStep(user)}>
                              <Badge tone={twoStep(user) === "on" ? "green" : "gray"}>{twoStep(user)}</Badge>
                            </span>
                            {canResetTwoStep(user, me?.id, can("users:write")) ? (
                              <Button
                                variant="ghost"
                                aria-label={`Reset two-step for ${user.email}`}
                                title="Reset two-step verification (a lost phone)"
                                onClick={() => {
                                  resetMfa.reset();
                                  setResetting(user);
                                }}
                              >
                                Reset…
                              </Button>
                            ) : null}
                          </div>
                        </td>
                        <td className="hidden px-3 py-2 text-xs sm:table-cell">{formatDate(user.last_login_at)}</td>
                        <td className="whitespace-nowrap px-3 py-2 text-right">
                          {self ? null : (
                            <>
                              <Button
                                variant="ghost"
                                onClick={() =>
                                  reset.mutate(user.id, { onSuccess: (r) => setSecret({ label: `New password for ${user.email}`, value: r.password }) })
                                }
                              >
                                Reset password
                              </Button>
                              <Button variant="ghost" onClick={() => request(user, { is_active: !user.is_active })}>
                                {user.is_active ? "Deactivate…" : "Reactivate"}
                              </Button>
                            </>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </ScrollArea>
          </div>
          <Card title="Add a person">
            <form onSubmit={submit} className="space-y-3">
              <ErrorBanner error={create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error} />
              <Field label="Email" error={fieldError("email")}>
                {(p) => <Input {...p} type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />}
              </Field>
              <Field label="Role">
                {(p) => (
                  <Select {...p} value={role} onChange={(e) => setRole(e.target.value as Role)}>
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </Select>
                )}
              </Field>
              <Button type="submit" variant="primary">
                Add person
              </Button>
            </form>
          </Card>
        </div>
      </div>
    </>
  );
}
