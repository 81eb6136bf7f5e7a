import { Button, Field, Input } from "../ui";
import { MAX_VARIATIONS, newVariation, type FlagType, type VariationDraft } from "./variations";

const VALUE_HINT: Record<FlagType, string> = {
  boolean: "true or false",
  string: "Served as typed",
  number: "A number, e.g. 10 or 2.5",
  json: 'Any JSON, e.g. {"color": "green"}',
};

/** Rows of key + value (and, with `names`, a display name) for a flag's variations. The first `saved`
 * rows are variations the flag already has: their keys are fixed (rules, targets and code name them)
 * and they cannot be removed here. */
export function VariationsEditor({
  type,
  rows,
  onChange,
  errorAt,
  names = false,
  saved = 0,
  valuesFixed = false,
  disabled = false,
  legendHidden = false,
}: {
  type: FlagType;
  rows: VariationDraft[];
  onChange: (rows: VariationDraft[]) => void;
  errorAt: (path: string) => string | undefined;
  names?: boolean;
  saved?: number;
  valuesFixed?: boolean;
  disabled?: boolean;
  /** under a heading that already says "Variations" */
  legendHidden?: boolean;
}) {
  const set = (i: number, change: Partial<VariationDraft>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const minimum = Math.max(saved, 1);
  return (
    <fieldset className="space-y-2" data-testid="variations-editor">
      <legend className={legendHidden ? "sr-only" : "mb-1 text-xs font-medium text-slate-700"}>Variations</legend>
      {rows.map((row, i) => (
        <div
          key={i}
          data-variation-row={i}
          className={`grid grid-cols-[minmax(0,8rem)_minmax(0,1fr)_2.5rem] items-start gap-2 ${names ? "sm:grid-cols-[minmax(0,8rem)_minmax(0,1fr)_minmax(0,12rem)_2.5rem]" : ""}`}
        >
          <Field label={`Variation ${i + 1} key`} error={errorAt(`variations[${i}].key`)}>
            {(p) => (
              <Input
                {...p}
                className="font-mono"
                value={row.key}
                readOnly={i < saved}
                disabled={disabled}
                title={i < saved ? "A saved variation's key cannot change: rules, targets and code name it" : undefined}
                onChange={(e) => set(i, { key: e.target.value })}
              />
            )}
          </Field>
          <Field label={`Variation ${i + 1} value`} error={errorAt(`variations[${i}].value`)} hint={i === rows.length - 1 && !valuesFixed ? VALUE_HINT[type] : undefined}>
            {(p) => (
              <Input
                {...p}
                className="font-mono"
                value={row.value}
                readOnly={valuesFixed && i < saved}
                disabled={disabled}
                spellCheck={false}
                onChange={(e) => set(i, { value: e.target.value })}
              />
            )}
          </Field>
          {names ? (
            <Field label={`Variation ${i + 1} name`} className="col-span-2 sm:col-span-1" error={errorAt(`variations[${i}].name`)}>
              {(p) => <Input {...p} value={row.name} disabled={disabled} placeholder="optional" onChange={(e) => set(i, { name: e.target.value })} />}
            </Field>
          ) : null}
          {i >= saved && !disabled ? (
            <Button
              variant="ghost"
              className={`mt-5 ${names ? "col-start-3 row-start-1 sm:col-start-4" : ""}`}
              aria-label={`Remove variation ${i + 1}`}
              disabled={rows.length <= minimum}
              onClick={() => onChange(rows.filter((_, j) => j !== i))}
            >
              ✕
            </Button>
          ) : (
            <span className={names ? "col-start-3 row-start-1 sm:col-start-4" : ""} />
          )}
        </div>
      ))}
      {errorAt("variations") ? (
        <p role="alert" data-field-error className="text-xs text-red-700">
          {errorAt("variations")}
        </p>
      ) : null}
      {!disabled && !valuesFixed ? (
        <Button variant="ghost" disabled={rows.length >= MAX_VARIATIONS} onClick={() => onChange([...rows, newVariation(type, rows)])}>
          + Add variation
        </Button>
      ) : null}
    </fieldset>
  );
}
