import { Code, CopyButton } from "../ui";

/** A secret the server shows once: visible now, with a copy button, never again. */
export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-md bg-amber-50 p-3 ring-1 ring-amber-300" data-testid="secret">
      <p className="mb-2 text-sm font-medium text-amber-900">{label} — copy it now, it will not be shown again.</p>
      <div className="flex items-start gap-2">
        <div className="min-w-0 flex-1">
          <Code>{value}</Code>
        </div>
        <CopyButton text={value} />
      </div>
    </div>
  );
}
