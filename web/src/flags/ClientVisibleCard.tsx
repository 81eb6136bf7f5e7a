import type { Flag } from "../api/types";
import { Card, ErrorBanner } from "../ui";
import { useSetClientVisible } from "./api";

/** Whether browser SDKs (client keys) get this flag's value: they never see its rules or segments. */
export function ClientVisibleCard({ flag, canWrite }: { flag: Flag; canWrite: boolean }) {
  const set = useSetClientVisible(flag.key);
  return (
    <Card title="Browser SDKs">
      <label className="flex items-start gap-2 text-sm text-slate-700">
        <input
          type="checkbox"
          className="mt-0.5"
          checked={flag.client_visible}
          disabled={!canWrite || set.isPending}
          onChange={(e) => set.mutate({ version: flag.version, visible: e.target.checked })}
        />
        <span>
          Visible to client keys: a web page with a <code className="font-mono text-xs">client</code> key gets this flag&apos;s value
          for its user, never its rules or segments.
        </span>
      </label>
      <ErrorBanner error={set.error} />
    </Card>
  );
}
