import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useSession } from "../auth/AuthProvider";
import { Badge, Button, Card, ErrorBanner, Field, formatDate, Input, PageHeader, Select, Spinner } from "../ui";
import { useUserMutations, useUsers } from "./api";
import { Secret } from "./Secret";

type Role = "admin" | "developer" | "analyst" | "viewer";
const ROLES: Role[] = ["viewer", "analyst", "developer", "admin"];

export function PeoplePage() {
  const users = useUsers();
  const { me } = useSession();
  const { create, update, reset } = useUserMutations();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
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
        <ErrorBanner error={update.error ?? reset.error} />
        <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
          <div className="overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            {users.isPending ? <Spinner /> : null}
            <table className="min-w-full text-sm">
              <thead className="bg-slate-50 text-left text-xs font-medium uppercase tracking-wide text-slate-500">
                <tr>
                  <th scope="col" className="px-3 py-2">Person</th>
                  <th scope="col" className="px-3 py-2">Role</th>
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
                          className="w-32"
                          value={user.role}
                          disabled={self}
                          onChange={(e) => update.mutate({ id: user.id, role: e.target.value as Role })}
                        >
                          {ROLES.map((r) => (
                            <option key={r}>{r}</option>
                          ))}
                        </Select>
                      </td>
                      <td className="hidden whitespace-nowrap px-3 py-2 text-xs sm:table-cell">{formatDate(user.last_login_at)}</td>
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
                            <Button variant="ghost" onClick={() => update.mutate({ id: user.id, is_active: !user.is_active })}>
                              {user.is_active ? "Deactivate" : "Reactivate"}
                            </Button>
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
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
