import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { Button, Dialog, ErrorBanner, Field, Input } from "../ui";
import { splitList } from "./operators";
import { useCreateFlag } from "./api";

export function CreateFlagDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (key: string) => void }) {
  const create = useCreateFlag();
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [tags, setTags] = useState("");
  const [keyEdited, setKeyEdited] = useState(false);
  const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100);
  const fieldError = (path: string) =>
    create.error instanceof ApiError ? create.error.fieldErrors.find((e) => e.path === path)?.message : undefined;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { key, name, tags: splitList(tags) },
      {
        onSuccess: (flag) => {
          onClose();
          setName("");
          setKey("");
          setTags("");
          setKeyEdited(false);
          onCreated(flag.key);
        },
      },
    );
  };
  const generic = create.error instanceof ApiError && create.error.fieldErrors.length ? null : create.error;
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
