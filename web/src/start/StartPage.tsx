import { Link } from "react-router-dom";
import { useCan } from "../auth/AuthProvider";
import { useKeys } from "../admin/api";
import { Snippets } from "../admin/Snippets";
import { useFlags } from "../flags/api";
import { Card, PageHeader } from "../ui";

function Step({ n, done, title, children }: { n: number; done: boolean; title: string; children: React.ReactNode }) {
  return (
    <li className="flex gap-3">
      <span
        aria-hidden
        className={`flex h-7 w-7 shrink-0 items-center justify-center rounded-full text-sm font-semibold ${done ? "bg-emerald-600 text-white" : "bg-slate-200 text-slate-700"}`}
      >
        {done ? "✓" : n}
      </span>
      <div className="min-w-0 flex-1">
        <h2 className="font-medium">
          {title} {done ? <span className="sr-only">(done)</span> : null}
        </h2>
        <div className="mt-1 text-sm text-slate-600">{children}</div>
      </div>
    </li>
  );
}

/** First run: from no flag to a flag evaluated from code. */
export function StartPage() {
  const can = useCan();
  const flags = useFlags({ q: "", tag: "", archived: false, offset: 0, limit: 1 });
  const keys = useKeys();
  const firstFlag = flags.data?.flags[0]?.key;
  const hasKey = (keys.data ?? []).some((k) => !k.revoked_at);
  return (
    <>
      <PageHeader title="Get started">Three steps from nothing to a flag your code can read.</PageHeader>
      <Card>
        <ol className="space-y-5">
          <Step n={1} done={Boolean(firstFlag)} title="Create your first flag">
            {firstFlag ? (
              <>
                <Link className="text-indigo-700 underline" to={`/flags/${firstFlag}`}>
                  {firstFlag}
                </Link>{" "}
                is ready. Turn it on in an environment and add rules on its page.
              </>
            ) : (
              <Link className="text-indigo-700 underline" to="/flags">
                Go to Flags and press “New flag”.
              </Link>
            )}
          </Step>
          <Step n={2} done={hasKey} title="Create an API key">
            {can("keys:write") ? (
              <Link className="text-indigo-700 underline" to="/admin/keys">
                Create a key
              </Link>
            ) : (
              "Ask an admin for a key"
            )}{" "}
            bound to an environment, with the <code>evaluate</code> scope.
          </Step>
          <Step n={3} done={false} title="Evaluate it from your code">
            <Snippets apiKey="YOUR_API_KEY" flag={firstFlag ?? "my-flag"} />
          </Step>
        </ol>
      </Card>
    </>
  );
}
