import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { useExperiments, type Experiment } from "../experiments/api";
import { Button, Input, Select } from "../ui";
import type { Serve } from "./api";

interface ExperimentServeDoc {
  key: string;
  variations: Record<string, string>;
}

/** Each variant of the experiment served a variation: the one already mapped while it still exists;
 * else the control (the first variant) the flag's last variation (`off` for an on/off flag) and the other
 * variants the other variations in order (`on`), the last one again when there are more variants. */
export function defaultMapping(variants: string[], variations: string[], current: Record<string, string> = {}): Record<string, string> {
  const last = variations.length - 1;
  const others = variations.slice(0, Math.max(last, 1));
  return Object.fromEntries(
    variants.map((variant, i) => {
      const kept = current[variant];
      if (kept && variations.includes(kept)) return [variant, kept];
      return [variant, (i === 0 ? variations[last] : others[Math.min(i - 1, others.length - 1)]) ?? ""];
    }),
  );
}

/** The mapping with ``variant`` set to ``value``, keeping only the experiment's present ``variants``: a
 * draft experiment can lose a variant after the rule was saved, and the server refuses a mapping
 * that names one it does not have. */
export function remap(current: Record<string, string>, variants: string[], variant?: string, value?: string): Record<string, string> {
  const next: Record<string, string> = {};
  for (const key of variants) {
    const chosen = key === variant ? value : current[key];
    if (chosen) next[key] = chosen;
  }
  return next;
}

/** The experiments a rule in ``environment`` can hand off to: those of that environment not yet over. */
function candidates(experiments: Experiment[], environment: string | undefined): Experiment[] {
  return experiments.filter((e) => (!environment || e.environment === environment) && ["draft", "scheduled", "running", "paused"].includes(e.status));
}

export function rolloutTotal(serve: Serve): number {
  return Math.round((serve.rollout?.variations ?? []).reduce((sum, v) => sum + (Number(v.weight) || 0), 0) * 100) / 100;
}

/** Serve one variation, or a percentage rollout whose weights visibly sum to 100. */
export function ServeEditor({
  serve,
  onChange,
  variations,
  label,
  error,
  disabled,
  environment,
}: {
  serve: Serve | null;
  onChange: (serve: Serve) => void;
  variations: string[];
  label: string;
  error?: string | undefined;
  disabled: boolean;
  /** the flag environment edited: the experiments offered are those of that environment */
  environment?: string;
}) {
  const current = serve ?? { variation: variations[0] ?? "" };
  const kind = current.rollout ? "rollout" : current.experiment ? "experiment" : "variation";
  const total = rolloutTotal(current);
  return (
    <div className="space-y-2">
      <div className="flex flex-wrap items-center gap-2">
        <span className="text-xs font-medium text-slate-700">{label}</span>
        <Select
          aria-label={`${label}: kind`}
          className={kind === "experiment" ? "w-48" : "w-40"}
          value={kind}
          disabled={disabled}
          onChange={(e) =>
            onChange(
              e.target.value === "rollout"
                ? { rollout: { variations: variations.map((v, i) => ({ variation: v, weight: i === 0 ? 100 : 0 })) } }
                : e.target.value === "experiment"
                  ? { experiment: { key: "", variations: {} } }
                  : { variation: variations[0] ?? "" },
            )
          }
        >
          <option value="variation">a variation</option>
          <option value="rollout">a percentage rollout</option>
          <option value="experiment">an experiment</option>
        </Select>
        {kind === "variation" ? (
          <Select
            aria-label={`${label}: variation`}
            className="w-40"
            value={current.variation ?? ""}
            disabled={disabled}
            onChange={(e) => onChange({ variation: e.target.value })}
          >
            {variations.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </Select>
        ) : null}
      </div>
      {kind === "experiment" ? (
        disabled ? (
          <ExperimentServe serve={current.experiment} />
        ) : (
          <ExperimentServeEditor
            serve={current.experiment as ExperimentServeDoc}
            variations={variations}
            label={label}
            environment={environment}
            onChange={(experiment) => onChange({ experiment })}
          />
        )
      ) : null}
      {kind === "rollout" && current.rollout ? (
        <div className="space-y-1">
          {/* a bar of the split: each variation's share, the rest left empty */}
          <div className="flex h-2 overflow-hidden rounded bg-slate-200" aria-hidden>
            {current.rollout.variations.map((v, i) => (
              <div key={v.variation} className={["bg-indigo-600", "bg-emerald-500", "bg-amber-500", "bg-pink-500"][i % 4]} style={{ width: `${Math.min(100, v.weight)}%` }} />
            ))}
          </div>
          {current.rollout.variations.map((entry, i) => (
            <div key={entry.variation} className="flex items-center gap-2 text-sm">
              <span className="w-28 truncate font-mono text-xs">{entry.variation}</span>
              <Input
                type="number"
                min={0}
                max={100}
                step={0.01}
                className="w-24"
                aria-label={`${label}: weight of ${entry.variation}`}
                value={entry.weight}
                disabled={disabled}
                onChange={(e) =>
                  onChange({
                    rollout: {
                      ...current.rollout!,
                      variations: current.rollout!.variations.map((v, j) => (j === i ? { ...v, weight: Number(e.target.value) } : v)),
                    },
                  })
                }
              />
              <span className="text-xs text-slate-500">%</span>
            </div>
          ))}
          <p className={`text-xs font-medium ${total === 100 ? "text-emerald-700" : "text-red-700"}`} aria-live="polite">
            Total {total}% {total === 100 ? "✓" : "— must be exactly 100"}
          </p>
          {!disabled && total !== 100 ? (
            <Button
              variant="ghost"
              onClick={() => {
                const n = current.rollout!.variations.length;
                const even = Math.floor(10000 / n) / 100;
                onChange({
                  rollout: {
                    ...current.rollout!,
                    variations: current.rollout!.variations.map((v, i) => ({
                      ...v,
                      weight: i === 0 ? Math.round((100 - even * (n - 1)) * 100) / 100 : even,
                    })),
                  },
                });
              }}
            >
              Split evenly
            </Button>
          ) : null}
        </div>
      ) : null}
      {error ? (
        <p role="alert" data-field-error className="text-xs text-red-700">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The variant → variation table of a rule serving an experiment; ``children`` are its rows. */
function MappingTable({ children }: { children: ReactNode }) {
  return (
    <table className="text-xs">
      <caption className="sr-only">Variation served for each variant of the experiment</caption>
      <thead>
        <tr className="text-left text-slate-600">
          <th scope="col" className="pr-4 font-medium">variant</th>
          <th scope="col" className="font-medium">variation served</th>
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** Hand the decision to an experiment: which one (of the flag environment's experiments not yet over),
 * and the variation each of its variants is served. */
function ExperimentServeEditor({
  serve,
  variations,
  label,
  environment,
  onChange,
}: {
  serve: ExperimentServeDoc;
  variations: string[];
  label: string;
  environment: string | undefined;
  onChange: (serve: ExperimentServeDoc) => void;
}) {
  const list = useExperiments({ status: "", q: "", offset: 0, limit: 200 });
  const offered = candidates(list.data?.experiments ?? [], environment);
  const chosen = (list.data?.experiments ?? []).find((e) => e.key === serve.key);
  const variants = chosen ? chosen.variants.map((v) => String(v.key)) : Object.keys(serve.variations ?? {});
  const gone = chosen ? Object.keys(serve.variations ?? {}).filter((v) => !variants.includes(v)) : [];
  const pick = (key: string) => {
    const experiment = offered.find((e) => e.key === key);
    const keys = experiment ? experiment.variants.map((v) => String(v.key)) : [];
    onChange({ key, variations: defaultMapping(keys, variations) });
  };
  return (
    <div className="space-y-2 rounded-md bg-slate-50 p-2 text-sm ring-1 ring-inset ring-slate-200" data-testid="serve-experiment">
      <label className="flex flex-wrap items-center gap-2 text-xs font-medium text-slate-700">
        Experiment
        <Select aria-label={`${label}: experiment`} className="w-full sm:w-96" value={serve.key} onChange={(e) => pick(e.target.value)}>
          <option value="">{list.isPending ? "loading…" : offered.length ? "choose an experiment" : `no experiment in ${environment ?? "this environment"} yet`}</option>
          {serve.key && !offered.some((e) => e.key === serve.key) ? <option value={serve.key}>{serve.key}</option> : null}
          {offered.map((e) => (
            <option key={e.key} value={e.key}>
              {e.name} ({e.key}, {e.status})
            </option>
          ))}
        </Select>
        {serve.key ? (
          <Link className="text-indigo-700 hover:underline" to={`/experiments/${encodeURIComponent(serve.key)}`}>
            open the experiment
          </Link>
        ) : null}
      </label>
      {serve.key && variants.length ? (
        <MappingTable>
          {variants.map((variant) => (
            <tr key={variant}>
              <td className="pr-4 font-mono">{variant}</td>
              <td>
                <Select
                  aria-label={`${label}: variation for variant ${variant}`}
                  className="w-40"
                  value={serve.variations?.[variant] ?? ""}
                  onChange={(e) => onChange({ ...serve, variations: remap(serve.variations ?? {}, variants, variant, e.target.value) })}
                >
                  <option value="" disabled>
                    choose
                  </option>
                  {variations.map((v) => (
                    <option key={v} value={v}>
                      {v}
                    </option>
                  ))}
                </Select>
              </td>
            </tr>
          ))}
        </MappingTable>
      ) : null}
      {gone.length ? (
        <p className="text-xs text-amber-800" role="status">
          The experiment no longer has {gone.length === 1 ? "variant" : "variants"} <span className="font-mono">{gone.join(", ")}</span>.{" "}
          <button type="button" className="font-medium underline" onClick={() => onChange({ ...serve, variations: remap(serve.variations ?? {}, variants) })}>
            Remove from this rule
          </button>
        </p>
      ) : null}
      <p className="text-xs text-slate-600">
        A user this rule matches gets the experiment&apos;s sticky assignment (and its exposure) and the variation of their
        variant. A user the experiment does not assign (it is not running, or the user is outside its traffic or targeting)
        goes on to the next rule. To keep a winner after the experiment, ship it from the experiment&apos;s page.
      </p>
    </div>
  );
}

/** A rule that hands its decision to an experiment, for a reader who cannot change the flag: the
 * experiment, linked, and which variation each of its variants is served. */
function ExperimentServe({ serve }: { serve: unknown }) {
  const experiment = (serve ?? {}) as { key?: string; variations?: Record<string, string> };
  const mapping = Object.entries(experiment.variations ?? {});
  return (
    <div className="space-y-1 rounded-md bg-slate-50 p-2 text-sm ring-1 ring-inset ring-slate-200" data-testid="serve-experiment">
      <p>
        Decided by experiment{" "}
        {experiment.key ? (
          <Link className="font-mono text-indigo-700 hover:underline" to={`/experiments/${encodeURIComponent(experiment.key)}`}>
            {experiment.key}
          </Link>
        ) : (
          "(none named)"
        )}
        ; each variant is served a variation:
      </p>
      {mapping.length ? (
        <MappingTable>
          {mapping.map(([variant, variation]) => (
            <tr key={variant}>
              <td className="pr-4 font-mono">{variant}</td>
              <td className="font-mono">→ {variation}</td>
            </tr>
          ))}
        </MappingTable>
      ) : (
        <p className="text-xs text-slate-600">No variant is mapped to a variation.</p>
      )}
      <p className="text-xs text-slate-600">
        A user the experiment does not assign (it is not running, or the user is outside its traffic) goes on to the next
        rule (from the fallthrough: the off variation).
      </p>
    </div>
  );
}
