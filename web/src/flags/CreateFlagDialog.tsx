import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { Button, Dialog, ErrorBanner, Field, Input, Select } from "../ui";
import { splitList } from "./operators";
import { defaultVariations, FLAG_TYPES, toVariations, validateVariations, type FlagType, type VariationDraft } from "./variations";
import { useCreateFlag } from "./api";
import { VariationsEditor } from "./VariationsEditor";
import { slug } from "../experiments/wizard";

export function CreateFlagDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (key: string) => void }) {
  const create = useCreateFlag();
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [tags, setTags] = useState("");
  const [keyEdited, setKeyEdited] = useState(false);
  const [type, setType] = useState<FlagType>("boolean");
  const [variations, setVariations] = useState<VariationDraft[]>([]);
  // the rows' own checks show once "Create flag" was pressed, then as they are fixed
  const [tried, setTried] = useState(false);
  const typed = type !== "boolean";
  const local = typed && tried ? validateVariations(type, variations) : new Map<string, string>();
  const fieldError = (path: string) =>
    local.get(path) ?? (create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined);
  const chooseType = (next: FlagType) => {
    setType(next);
    // rows typed for another type would not parse as this one: start from this type's defaults
    setVariations(next === "boolean" ? [] : defaultVariations(next));
    setTried(false);
    create.reset();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (typed && validateVariations(type, variations).size) return;
    create.mutate(
      { key, name, tags: splitList(tags), type, ...(typed ? { variations: toVariations(type, variations) } : {}) },
      {
        onSuccess: (flag) => {
          onClose();
          setName("");
          setKey("");
          setTags("");
          setKeyEdited(false);
          setType("boolean");
          setVariations([]);
          setTried(false);
          onCreated(flag.key);
        },
      },
    );
  };
  // a field error the form shows at its field; any other (or none) in the banner
  const shown = (path: string) => ["name", "key", "tags", "type"].includes(path) || (typed && /^variations(\[\d+\]\.(key|value|name))?$/.test(path));
  const generic = create.error instanceof ApiError && create.error.fieldErrors.length && create.error.fieldErrors.every((e) => shown(e.path)) ? null : create.error;
  return (
    <Dialog open={open} title="New flag" onClose={onClose}>
      <form onSubmit={submit} className="flex flex-col gap-3">
        <ErrorBanner error={generic} />
        <Field label="Name" error={fieldError("name")}>
          {(p) => (
            <Input
              {...p}
              required
              autoFocus
              value={name}
              onChange={(e) => {
                setName(e.target.value);
                if (!keyEdited) setKey(slug(e.target.value));
              }}
            />
          )}
        </Field>
        <Field label="Key" error={fieldError("key")} hint="Used in code; cannot change later.">
          {(p) => (
            <Input
              {...p}
              required
              className="font-mono"
              value={key}
              onChange={(e) => {
                setKey(e.target.value);
                setKeyEdited(true);
              }}
            />
          )}
        </Field>
        <Field label="Tags" hint="Comma-separated" error={fieldError("tags")}>
          {(p) => <Input {...p} value={tags} onChange={(e) => setTags(e.target.value)} />}
        </Field>
        <Field label="Type" error={fieldError("type")} hint={typed ? "Cannot change later." : "Serves on (true) or off (false). Cannot change later."}>
          {(p) => (
            <Select {...p} value={type} onChange={(e) => chooseType(e.target.value as FlagType)}>
              {FLAG_TYPES.map((t) => (
                <option key={t.value} value={t.value}>
                  {t.label}
                </option>
              ))}
            </Select>
          )}
        </Field>
        {typed ? (
          <>
            <VariationsEditor type={type} rows={variations} onChange={setVariations} errorAt={fieldError} />
            <p className="text-xs text-slate-600">
              Once on, the flag serves the first variation to everyone; while off, the last. Each environment can change both.
            </p>
          </>
        ) : null}
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={create.isPending}>
            Create flag
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
