import { Link, useParams } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { useEnvironments } from "../environments/api";
import { useSafetySettings } from "../rollouts/api";
import { SafetyForm } from "../rollouts/SafetyForm";
import { Card, ErrorBanner, formatDate, PageHeader, Spinner } from "../ui";

/** An environment's safety settings: what every guarded rollout there is watched by unless the
 * rollout or the flag's override says otherwise. */
export function SafetySettingsPage() {
  const { key = "" } = useParams();
  const can = useCan();
  const environments = useEnvironments();
  const settings = useSafetySettings(key);
  const env = environments.data?.find((e) => e.key === key);
  return (
    <>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm">
        <Link to="/admin/environments" className="text-indigo-700 hover:underline">
          Environments
        </Link>
      </nav>
      <PageHeader title={`Safety settings: ${env?.name ?? key}`}>
        Defaults for every guarded rollout in <span className="font-mono">{key}</span>. A rollout takes each field it does not name from the flag's override, then from here,
        then from the server's defaults; the values are fixed on the rollout when it starts.
      </PageHeader>
      <ErrorBanner error={settings.error} />
      {settings.isPending ? <Spinner /> : null}
      {settings.data ? (
        <div className="grid gap-4 lg:grid-cols-[1fr_18rem]">
          <Card title="Guardrails">
            <SafetyForm env={key} settings={settings.data} editable={can("environments:write")} />
          </Card>
          <Card title="About">
            <div className="space-y-2 text-xs text-slate-600">
              <p>{settings.data.version > 0 ? `Version ${settings.data.version}, changed ${formatDate(settings.data.updated_at)}.` : "Never set: the server's defaults apply."}</p>
              <p>A guarded rollout compares the units served the new variation with those still served the old one after each aggregation, with an always-valid test at alpha.</p>
              <p>A scheduled step does not move on before the step before it has the minimum units in each group; with a maximum wait, a rollout held longer pauses and says so.</p>
              <p>Each flag may override these on its page, per environment.</p>
            </div>
          </Card>
        </div>
      ) : null}
    </>
  );
}
