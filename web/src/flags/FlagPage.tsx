import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { AuditTable } from "../history/AuditTable";
import { Badge, Button, ErrorBanner, PageHeader, Spinner } from "../ui";
import { EnvironmentPanel } from "./EnvironmentPanel";
import { ClientVisibleCard } from "./ClientVisibleCard";
import { VariationsCard } from "./VariationsCard";
import { envConfig, useArchiveFlag, useFlag } from "./api";

export function FlagPage() {
  const { key = "" } = useParams();
  const flag = useFlag(key);
  const environments = useEnvironments();
  const can = useCan();
  const [params, setParams] = useSearchParams();
  const archive = useArchiveFlag(key);
  const [confirmArchive, setConfirmArchive] = useState(false);
  if (flag.isPending || environments.isPending) return <Spinner />;
  if (flag.error || !flag.data) return <ErrorBanner error={flag.error ?? "not found"} />;
  const data = flag.data;
  const envs = environments.data ?? [];
  const tab = params.get("env") ?? envs[0]?.key ?? "history";
  const canWrite = can("flags:write", data.owner_id) && !data.archived;
  const tabs = [...envs.map((e) => ({ id: e.key, label: e.name || e.key, on: envConfig(data, e.key).enabled })), ...(can("audit:read") ? [{ id: "history", label: "History", on: null }] : [])];

  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/flags" className="text-indigo-700 hover:underline">
          Flags
        </Link>
      </nav>
      <PageHeader
        title={data.name}
        actions={
          can("flags:write", data.owner_id) && !data.archived ? (
            confirmArchive ? (
              <>
                <Button variant="danger" onClick={() => archive.mutate()}>
                  Archive in every environment
                </Button>
                <Button onClick={() => setConfirmArchive(false)}>Keep</Button>
              </>
            ) : (
              <Button variant="ghost" onClick={() => setConfirmArchive(true)}>
                Archive…
              </Button>
            )
          ) : null
        }
      >
        <span className="font-mono">{data.key}</span> · {data.type} · version {data.version}{" "}
        {data.tags.map((t) => (
          <Badge key={t} tone="indigo">
            {t}
          </Badge>
        ))}{" "}
        {data.archived ? <Badge>archived</Badge> : null}
        {data.description ? <p className="mt-1">{data.description}</p> : null}
      </PageHeader>
      <ErrorBanner error={archive.error} />
      {!can("flags:write", data.owner_id) ? (
        <p className="mb-3 rounded-md bg-slate-100 p-2 text-xs text-slate-600" data-testid="read-only">
          Read only: your role cannot change this flag.
        </p>
      ) : null}
      <div className="mb-4 space-y-4">
        <VariationsCard flag={data} canWrite={canWrite} />
        <ClientVisibleCard flag={data} canWrite={canWrite} />
      </div>
      <div role="tablist" aria-label="Environments" className="mb-4 flex gap-1 overflow-x-auto border-b border-slate-200">
        {tabs.map((t) => (
          <button
            key={t.id}
            role="tab"
            type="button"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            onClick={() => setParams({ env: t.id }, { replace: true })}
            className={`flex items-center gap-1.5 whitespace-nowrap border-b-2 px-3 py-2 text-sm ${tab === t.id ? "border-indigo-600 font-medium text-indigo-700" : "border-transparent text-slate-600 hover:text-slate-900"}`}
          >
            {t.on !== null ? <span className={`h-2 w-2 rounded-full ${t.on ? "bg-emerald-500" : "bg-slate-300"}`} aria-hidden /> : null}
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "history" ? (
          <AuditTable fixed={{ resource_type: "flag", resource_id: data.key }} />
        ) : (
          <EnvironmentPanel key={`${tab}`} flag={data} env={tab} canWrite={canWrite} />
        )}
      </div>
    </>
  );
}
