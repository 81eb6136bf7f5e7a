import { useEffect, useMemo, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { Flag } from "../api/types";
import { Button, Card, ErrorBanner } from "../ui";
import { fieldErrorsFor, isConflict } from "./errors";
import { fromVariations, toVariations, validateVariations, type VariationDraft } from "./variations";
import { useUpdateVariations } from "./api";
import { VariationsEditor } from "./VariationsEditor";

/** The flag's variations, for every environment. Editing (`PATCH /feature-flags/{key}` with the whole
 * list) adds variations and changes names and values; a saved variation keeps its key and stays,
 * since rules, targets, off variations and code name it. A boolean's values stay true / false. */
export function VariationsCard({ flag, canWrite }: { flag: Flag; canWrite: boolean }) {
  const client = useQueryClient();
  const type = flag.type;
  const saved = useMemo(() => fromVariations(type, flag.variations), [type, flag.variations]);
  const [editing, setEditing] = useState(false);
  const [rows, setRows] = useState<VariationDraft[]>(saved);
  const [baseVersion, setBaseVersion] = useState(flag.version);
  const [tried, setTried] = useState(false);
  const update = useUpdateVariations(flag.key);
  const boolean = type === "boolean";

  // while not editing, the rows follow the saved flag (a save elsewhere, a reload)
  useEffect(() => {
    if (!editing) {
      setRows(saved);
      setBaseVersion(flag.version);
    }
  }, [editing, saved, flag.version]);

  const local = tried ? validateVariations(type, rows) : new Map<string, string>();
  const server = fieldErrorsFor(update.error, "");
  const errorAt = (path: string) => local.get(path) ?? server.get(path);
  const conflict = isConflict(update.error);
  const onRows = (path: string) => /^variations(\[\d+\]\.(key|value|name))?$/.test(path);
  const elsewhere = [...server.entries()].filter(([path]) => !onRows(path));
  const dirty = JSON.stringify(rows) !== JSON.stringify(saved);

  const close = () => {
    update.reset();
    setTried(false);
    setEditing(false);
  };
  const reload = async () => {
    await client.invalidateQueries({ queryKey: ["flag", flag.key] });
    const latest = client.getQueryData<Flag>(["flag", flag.key]) ?? flag;
    setRows(fromVariations(latest.type, latest.variations));
    setBaseVersion(latest.version);
    update.reset();
    setTried(false);
  };
  const save = () => {
    setTried(true);
    if (validateVariations(type, rows).size) return;
    update.mutate({ version: baseVersion, variations: toVariations(type, rows) }, { onSuccess: close });
  };

  return (
    <Card
      title="Variations"
      actions={
        canWrite && !editing ? (
          <Button variant="ghost" onClick={() => setEditing(true)}>
            Edit variations
          </Button>
        ) : null
      }
    >
      {editing ? (
        <div className="space-y-3">
          <VariationsEditor
            type={type}
            rows={rows}
            onChange={setRows}
            errorAt={errorAt}
            names
            legendHidden
            saved={saved.length}
            valuesFixed={boolean}
            disabled={update.isPending}
          />
          <p className="text-xs text-slate-600">
            The change applies in every environment. A saved variation keeps its key: rules, targets and your code name it.
            {boolean ? " An on/off flag keeps its two values; their names can change." : ""}
          </p>
          {conflict ? (
            <div role="alert" data-testid="variations-conflict" className="rounded-md bg-amber-50 p-3 text-sm text-amber-900 ring-1 ring-amber-300">
              <p className="font-medium">Someone else changed this flag while you were editing.</p>
              <p className="mt-1">Reload its latest variations, then make your change again.</p>
              <Button className="mt-2" variant="primary" onClick={() => void reload()}>
                Reload
              </Button>
            </div>
          ) : null}
          {update.error && !conflict && (elsewhere.length || !server.size) ? (
            <div>
              <ErrorBanner error={update.error} />
              {elsewhere.length ? (
                <ul className="mt-1 list-disc pl-5 text-sm text-red-800">
                  {elsewhere.map(([path, message]) => (
                    <li key={path}>
                      <span className="font-mono">{path}</span>: {message}
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
          <div className="flex justify-end gap-2">
            <Button onClick={close} disabled={update.isPending}>
              Cancel
            </Button>
            <Button variant="primary" onClick={save} disabled={!dirty || update.isPending}>
              {update.isPending ? "Saving…" : "Save variations"}
            </Button>
          </div>
        </div>
      ) : (
        <ul className="space-y-1 text-sm" data-testid="variations">
          {flag.variations.map((v) => (
            <li key={String(v.key)} className="flex flex-wrap items-baseline gap-x-2">
              <span className="font-mono font-medium">{String(v.key)}</span>
              <code className="max-w-full truncate rounded bg-slate-100 px-1 text-xs text-slate-800">{JSON.stringify(v.value)}</code>
              {v.name ? <span className="text-slate-600">{String(v.name)}</span> : null}
              {v.description ? <span className="text-xs text-slate-500">{String(v.description)}</span> : null}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
