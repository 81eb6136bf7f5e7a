import { Link } from "react-router-dom";
import { Card, ErrorBanner } from "../ui";
import { useSafetySettings } from "./api";
import { SafetyForm } from "./SafetyForm";

/** The flag's override of the environment's safety settings (empty fields: the environment's). No
 * spinner while it loads: the card sits low on a page that is already shown. */
export function FlagSafetyCard({ flagKey, env, allowed }: { flagKey: string; env: string; allowed: boolean }) {
  const own = useSafetySettings(env, flagKey);
  const environment = useSafetySettings(env);
  return (
    <Card
      title={`Safety settings for guarded rollouts in ${env}`}
      actions={
        <Link to={`/admin/environments/${env}/safety`} className="text-xs text-indigo-700 hover:underline">
          Environment's settings
        </Link>
      }
    >
      <p className="mb-3 text-xs text-slate-600">
        This flag's override{own.data && own.data.version > 0 ? ` (version ${own.data.version})` : " (none yet)"}: a field left empty takes the environment's value, shown greyed.
      </p>
      <ErrorBanner error={own.error ?? environment.error} />
      {own.data ? <SafetyForm env={env} flagKey={flagKey} settings={own.data} inherited={environment.data} editable={allowed} /> : null}
    </Card>
  );
}
