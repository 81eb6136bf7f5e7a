import { useEffect, useMemo, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { Flag } from "../api/types";
import { useEnvironments } from "../environments/api";
import { FlagSafetyCard } from "../rollouts/FlagSafetyCard";
import { RolloutPanel } from "../rollouts/RolloutPanel";
import { useSegments } from "../segments/api";
import { Button, Card, ErrorBanner, Input, Select } from "../ui";
import { ExplainPanel } from "./ExplainPanel";
import { KillSwitch } from "./KillSwitch";
import { RulesEditor } from "./RulesEditor";
import { SchedulesPanel } from "./SchedulesPanel";
import { ServeEditor } from "./ServeEditor";
import { envConfig, useSaveEnvironment, type EnvConfig } from "./api";
import { fieldErrorsFor, isConflict } from "./errors";
import { splitList } from "./operators";

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One environment of a flag: the kill switch, then a draft of its targeting saved as a whole
 * (versioned: a concurrent edit is a 409 that offers to re-apply this draft on the latest version). */
export function EnvironmentPanel({ flag, env, canWrite }: { flag: Flag; env: string; canWrite: boolean }) {
  const client = useQueryClient();
  const saved = useMemo(() => envConfig(flag, env), [flag, env]);
  const [draft, setDraft] = useState<EnvConfig>(saved);
  const [baseVersion, setBaseVersion] = useState(flag.version);
  const save = useSaveEnvironment(flag.key, env);
  const segments = useSegments();
  const environments = useEnvironments();
  // an environment the server does not mark (or an older server): asking first is the safe side
  const production = environments.data?.find((e) => e.key === env)?.is_production ?? true;
  const variations = flag.variations.map((v) => String(v.key));
  const dirty = !same(draft, saved);

  // a change from elsewhere (the kill switch, a reload) refreshes an untouched draft; an edited draft is
  // kept, and its save meets the version check
  const previous = useRef(saved);
  useEffect(() => {
    if (same(draft, previous.current)) {
      setDraft(saved);
      setBaseVersion(flag.version);
    }
    previous.current = saved;
    // eslint-disable-next-line react-hooks/exhaustive-deps -- follow the saved flag only
  }, [saved]);

  const errors = fieldErrorsFor(save.error, `environments.${env}.`);
  const errorAt = (path: string) => errors.get(path);
  const conflict = isConflict(save.error);
  const set = (patch: Partial<EnvConfig>) => setDraft({ ...draft, ...patch });

  const reloadAndReapply = async () => {
    // fetch the latest version, keep this draft, and save it on top of the new version
    await client.invalidateQueries({ queryKey: ["flag", flag.key] });
    const latest = client.getQueryData<Flag>(["flag", flag.key]);
    if (latest) setBaseVersion(latest.version);
    save.reset();
  };

  const discard = async () => {
    await client.invalidateQueries({ queryKey: ["flag", flag.key] });
    const latest = client.getQueryData<Flag>(["flag", flag.key]) ?? flag;
    setDraft(envConfig(latest, env));
    setBaseVersion(latest.version);
    save.reset();
  };

  const targetsText = (variation: string) => draft.targets.find((t) => t.variation === variation)?.values.join(", ") ?? "";
  const setTargets = (variation: string, text: string) => {
    const others = draft.targets.filter((t) => t.variation !== variation);
    const values = splitList(text);
    set({ targets: values.length ? [...others, { variation, values }] : others });
  };

  return (
    <div className="space-y-4">
      <Card title={`Status in ${env}`}>
        <KillSwitch
          flagKey={flag.key}
          env={env}
          enabled={saved.enabled}
          allowed={canWrite}
          config={saved}
          variations={variations}
          production={production}
          unsaved={dirty}
        />
      </Card>

      <RolloutPanel flagKey={flag.key} env={env} allowed={canWrite} variations={variations} enabled={saved.enabled} />

      {conflict ? (
        <div role="alert" data-testid="conflict" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-300">
          <p className="font-medium">Someone else changed this flag while you were editing.</p>
          <p className="mt-1">Your edit is kept. Reload the latest version and re-apply your edit on top of it, or discard your edit.</p>
          <div className="mt-2 flex gap-2">
            <Button variant="primary" onClick={() => void reloadAndReapply()}>
              Reload and re-apply my edit
            </Button>
            <Button onClick={() => void discard()}>Discard my edit</Button>
          </div>
        </div>
      ) : null}
      {save.error && !conflict ? (
        <ErrorBanner error={errors.size ? new Error(`Not saved: ${errors.size} field${errors.size > 1 ? "s need" : " needs"} attention below.`) : save.error} />
      ) : null}

      <Card title="Individual targets">
        <div className="space-y-2">
          {variations.map((v) => (
            <label key={v} className="grid items-center gap-2 text-sm sm:grid-cols-[8rem_1fr]">
              <span className="font-mono text-xs">{v}</span>
              <Input
                placeholder="user ids, comma-separated"
                value={targetsText(v)}
                disabled={!canWrite}
                onChange={(e) => setTargets(v, e.target.value)}
              />
            </label>
          ))}
          {errorAt("targets") ? <p role="alert" data-field-error className="text-xs text-red-700">{errorAt("targets")}</p> : null}
        </div>
      </Card>

      <Card title="Rules">
        <RulesEditor
          rules={draft.rules}
          onChange={(rules) => set({ rules })}
          variations={variations}
          segments={(segments.data ?? []).map((s) => s.key)}
          errorAt={errorAt}
          disabled={!canWrite}
          environment={env}
        />
      </Card>

      <Card title="Everyone else">
        <div className="space-y-3">
          <ServeEditor
            label="Fallthrough serves"
            serve={draft.fallthrough}
            variations={variations}
            error={errorAt("fallthrough") ?? errorAt("fallthrough.rollout.variations") ?? errorAt("fallthrough.experiment.key") ?? errorAt("fallthrough.experiment.variations")}
            disabled={!canWrite}
            environment={env}
            onChange={(fallthrough) => set({ fallthrough })}
          />
          <label className="flex flex-wrap items-center gap-2 text-xs font-medium text-slate-700">
            When off, serve
            <Select
              className="w-40"
              value={draft.off_variation ?? ""}
              disabled={!canWrite}
              onChange={(e) => set({ off_variation: e.target.value })}
            >
              {variations.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </Select>
          </label>
        </div>
      </Card>

      <Card title="Prerequisites">
        <div className="space-y-2">
          {draft.prerequisites.length === 0 ? <p className="text-sm text-slate-500">None: this flag does not depend on another.</p> : null}
          {draft.prerequisites.map((p, i) => (
            <div key={i} className="flex flex-wrap items-center gap-2 text-sm">
              <Input
                aria-label={`Prerequisite ${i + 1} flag`}
                className="w-48 font-mono"
                placeholder="flag key"
                value={p.flag}
                disabled={!canWrite}
                onChange={(e) => set({ prerequisites: draft.prerequisites.map((q, j) => (j === i ? { ...q, flag: e.target.value } : q)) })}
              />
              serves
              <Input
                aria-label={`Prerequisite ${i + 1} variation`}
                className="w-32 font-mono"
                placeholder="variation"
                value={p.variation}
                disabled={!canWrite}
                onChange={(e) => set({ prerequisites: draft.prerequisites.map((q, j) => (j === i ? { ...q, variation: e.target.value } : q)) })}
              />
              {canWrite ? (
                <Button variant="ghost" onClick={() => set({ prerequisites: draft.prerequisites.filter((_, j) => j !== i) })}>
                  Remove
                </Button>
              ) : null}
              {errorAt(`prerequisites[${i}].flag`) ?? errorAt(`prerequisites[${i}]`) ? (
                <span role="alert" data-field-error className="text-xs text-red-700">
                  {errorAt(`prerequisites[${i}].flag`) ?? errorAt(`prerequisites[${i}]`)}
                </span>
              ) : null}
            </div>
          ))}
          {canWrite ? (
            <Button variant="ghost" onClick={() => set({ prerequisites: [...draft.prerequisites, { flag: "", variation: "on" }] })}>
              + Add prerequisite
            </Button>
          ) : null}
        </div>
      </Card>

      {canWrite ? (
        <div className="sticky bottom-0 z-10 -mx-4 flex items-center justify-end gap-2 border-t border-slate-200 bg-white/95 px-4 py-2 sm:-mx-6 sm:px-6">
          {/* always there, so the bar keeps its layout; the buttons act only on a draft that differs from the saved flag */}
          <span className="mr-auto text-xs text-slate-600" aria-live="polite" data-testid="draft-state">
            {dirty ? `Unsaved changes in ${env}` : "No unsaved changes"}
          </span>
          <Button disabled={!dirty || save.isPending} onClick={() => void discard()}>
            Discard
          </Button>
          <Button
            variant="primary"
            disabled={!dirty || save.isPending}
            onClick={() => save.mutate({ version: baseVersion, config: { ...draft, enabled: saved.enabled } }, { onSuccess: (f) => setBaseVersion(f.version) })}
          >
            {save.isPending ? "Saving…" : "Save changes"}
          </Button>
        </div>
      ) : null}

      <ExplainPanel flagKey={flag.key} env={env} />
      <SchedulesPanel flagKey={flag.key} env={env} variations={variations} allowed={canWrite} />
      <FlagSafetyCard flagKey={flag.key} env={env} allowed={canWrite} />
    </div>
  );
}
