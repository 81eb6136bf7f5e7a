import { useState } from "react";
import { Code, CopyButton } from "../ui";
import { snippets } from "./snippets";

export function Snippets({ apiKey, flag, client = false }: { apiKey: string; flag: string; client?: boolean }) {
  const all = snippets(window.location.origin, apiKey, flag, { client });
  const [tab, setTab] = useState(0);
  const current = all[tab] ?? all[0]!;
  return (
    <div>
      <div role="tablist" aria-label="Language" className="mb-2 flex gap-1">
        {all.map((s, i) => (
          <button
            key={s.label}
            type="button"
            role="tab"
            aria-selected={tab === i}
            onClick={() => setTab(i)}
            className={`rounded-md px-2.5 py-1 text-sm ${tab === i ? "bg-slate-800 text-white" : "text-slate-700 hover:bg-slate-100"}`}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="space-y-2">
        <Code>{current.code}</Code>
        <CopyButton text={current.code} label={`Copy ${current.label}`} />
      </div>
    </div>
  );
}
