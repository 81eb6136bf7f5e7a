import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { ApiError } from "../api/client";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { Badge, Button, Card, ErrorBanner, Field, Input, PageHeader, Spinner } from "../ui";
import { useEnvironmentMutations } from "./api";

export function EnvironmentsPage() {
  const environments = useEnvironments();
  const { create } = useEnvironmentMutations();
  const can = useCan();
  const [key, setKey] = useState("");
  const [name, setName] = useState("");
  const [production, setProduction] = useState(false);
  const fieldError = (path: string) => (create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ key, name, is_production: production }, { onSuccess: () => (setKey(""), setName("")) });
  };
  return (
    <>
      <PageHeader title="Environments">Each environment has its own targeting for every flag, and its own API keys.</PageHeader>
      <div className="grid gap-4 lg:grid-cols-[1fr_20rem]">
        <div>
          {environments.isPending ? <Spinner /> : null}
          <ul className="divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            {environments.data?.map((env) => (
              <li key={env.key} className="flex items-center gap-2 px-4 py-3">
                <span className="font-medium">{env.name}</span>
                <span className="font-mono text-xs text-slate-500">{env.key}</span>
                {env.is_production ? <Badge tone="red">production</Badge> : null}
                <Link to={`/admin/environments/${env.key}/safety`} className="ml-auto text-sm text-indigo-700 hover:underline" aria-label={`Safety settings of ${env.name}`}>
                  Safety settings
                </Link>
              </li>
            ))}
          </ul>
        </div>
        {can("environments:write") ? (
          <Card title="Add an environment">
            <form onSubmit={submit} className="space-y-3">
              <ErrorBanner error={create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error} />
              <Field label="Key" error={fieldError("key")}>
                {(p) => <Input {...p} required className="font-mono" value={key} onChange={(e) => setKey(e.target.value)} />}
              </Field>
              <Field label="Name" error={fieldError("name")}>
                {(p) => <Input {...p} required value={name} onChange={(e) => setName(e.target.value)} />}
              </Field>
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={production} onChange={(e) => setProduction(e.target.checked)} /> Production
              </label>
              <Button type="submit" variant="primary">
                Add environment
              </Button>
            </form>
          </Card>
        ) : null}
      </div>
    </>
  );
}
