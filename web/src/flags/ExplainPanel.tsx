import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { Badge, Button, Card, ErrorBanner, Field, Input, TextArea } from "../ui";
import { OPERATOR_BY_VALUE } from "./operators";
import { useExplain, type ConditionTrace } from "./api";

/** The user's value beside a condition: `(was "FR")`, `(was not set)`; none for a segment condition,
 * which tests the user against the segment's own conditions, not one attribute. */
export function actualNote(condition: ConditionTrace): string | null {
  if (OPERATOR_BY_VALUE.get(condition.operator)?.editor === "segments") return null;
  return `(was ${condition.actual === null || condition.actual === undefined ? "not set" : JSON.stringify(condition.actual)})`;
}

/** "Why did this user get this?": evaluate a context in this environment and show the engine's trace. */
export function ExplainPanel({ flagKey, env }: { flagKey: string; env: string }) {
  const explain = useExplain(flagKey, env);
  const [userId, setUserId] = useState("");
  const [context, setContext] = useState('{\n  "country": "FR"\n}');
  const [jsonError, setJsonError] = useState<string | undefined>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(context || "{}") as Record<string, unknown>;
      setJsonError(undefined);
    } catch {
      setJsonError("not valid JSON");
      explain.reset(); // the previous answer was for other input: it goes
      return;
    }
    explain.mutate({ user_id: userId, context: parsed });
  };
  const data = explain.data;
  return (
    <Card title="Why did this user get this?">
      <form onSubmit={submit} className="grid gap-2 sm:grid-cols-[12rem_1fr_auto] sm:items-end">
        <Field label="User id">{(p) => <Input {...p} value={userId} onChange={(e) => setUserId(e.target.value)} />}</Field>
        <Field label="Context attributes (JSON)" error={jsonError}>
          {(p) => <TextArea {...p} rows={3} className="font-mono text-xs" value={context} onChange={(e) => setContext(e.target.value)} />}
        </Field>
        <Button type="submit" variant="primary" disabled={explain.isPending}>
          Explain
        </Button>
      </form>
      <ErrorBanner error={explain.error instanceof ApiError ? explain.error : null} />
      {data ? (
        <div className="mt-3 space-y-2 text-sm" data-testid="explanation">
          <p>
            Serves <strong className="font-mono">{data.result.variation ?? "—"}</strong> (value{" "}
            <code className="rounded bg-slate-100 px-1">{JSON.stringify(data.result.value)}</code>) because{" "}
            <Badge tone="indigo">{data.result.reason}</Badge>
            {data.matched_rule !== null ? (
              <>
                {" "}
                — <strong>rule {data.matched_rule + 1}</strong> ({data.result.rule_id}) matched
              </>
            ) : null}
            {data.enabled === false ? " — the flag is off in this environment" : null}
            {data.target_matched ? " — the user is individually targeted" : null}
            {data.result.prerequisite_failed ? ` — prerequisite ${data.result.prerequisite_failed} not met` : null}
          </p>
          {data.rules.map((rule) => (
            <div
              key={rule.id}
              data-explain-rule={rule.index}
              className={`rounded-md p-2 ring-1 ${rule.matched ? "bg-emerald-50 ring-emerald-300" : "bg-slate-50 ring-slate-200"}`}
            >
              <div className="mb-1 text-xs font-semibold">
                Rule {rule.index + 1} <span className="font-mono font-normal text-slate-500">{rule.id}</span>{" "}
                {rule.matched ? <Badge tone="green">matched</Badge> : <Badge>did not match</Badge>}
              </div>
              <ul className="space-y-0.5 text-xs">
                {rule.conditions.map((c, i) => (
                  <li key={i} className="flex flex-wrap gap-1">
                    <span aria-hidden>{c.held ? "✓" : "✗"}</span>
                    <span className="sr-only">{c.held ? "held" : "did not hold"}</span>
                    <span className="font-mono">{c.attribute || "user"}</span>
                    <span>{c.negate ? "not " : ""}{OPERATOR_BY_VALUE.get(c.operator)?.label ?? c.operator}</span>
                    <span className="font-mono">{c.values.map((v) => JSON.stringify(v)).join(", ")}</span>
                    {actualNote(c) ? <span className="text-slate-500">{actualNote(c)}</span> : null}
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </div>
      ) : null}
    </Card>
  );
}
