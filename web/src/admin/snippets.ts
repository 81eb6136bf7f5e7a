/** Copy-paste snippets for a new API key: the Python and Node SDKs (which evaluate locally on the
 * environment's ruleset and keep it current), then plain HTTP for any other language. A client-side
 * key (`client` scope) gets the browser SDK and `POST /api/v1/sdk/evaluate` instead: it may call
 * nothing else. */
export function snippets(origin: string, key: string, flag: string, { client = false }: { client?: boolean } = {}): { label: string; code: string }[] {
  if (client) return browserSnippets(origin, key, flag);
  return [
    {
      label: "Python SDK",
      code: `# pip install <path to the Experimently repository>/sdk/python
from experimently_sdk.client import Client

with Client("${key}", base_url="${origin}") as client:
    detail = client.variation_detail("${flag}", "user-123", {"country": "FR"})
    print(detail.value, detail.reason)`,
    },
    {
      label: "Node SDK",
      code: `// npm install <path to the Experimently repository>/sdk/js (after npm ci && npm run build there)
import { ExperimentationClient } from "@experimently/sdk";

const client = new ExperimentationClient({ apiKey: "${key}", baseUrl: "${origin}" });
const detail = await client.variationDetail("${flag}", "user-123", { country: "FR" });
console.log(detail.value, detail.reason);
await client.close();`,
    },
    {
      label: "HTTP (fetch)",
      code: `const response = await fetch("${origin}/api/v1/feature-flags/${flag}/evaluate", {
  method: "POST",
  headers: { "X-API-Key": "${key}", "Content-Type": "application/json" },
  body: JSON.stringify({ user_id: "user-123", context: { country: "FR" } }),
});
const { data } = await response.json();
console.log(data.value, data.reason);`,
    },
    {
      label: "curl",
      code: `curl -s -X POST ${origin}/api/v1/feature-flags/${flag}/evaluate \\
  -H "X-API-Key: ${key}" -H "Content-Type: application/json" \\
  -d '{"user_id": "user-123", "context": {"country": "FR"}}'`,
    },
  ];
}

function browserSnippets(origin: string, key: string, flag: string): { label: string; code: string }[] {
  return [
    {
      label: "Browser SDK",
      code: `// npm install <path to the Experimently repository>/sdk/js (after npm ci && npm run build there)
import { BrowserClient } from "@experimently/sdk/browser";

const client = new BrowserClient({
  clientKey: "${key}",
  baseUrl: "${origin}",
  context: { user_id: "user-123", country: "FR" },
});
await client.ready;
const detail = client.variationDetail("${flag}", false);
console.log(detail.value, detail.reason);`,
    },
    {
      label: "HTTP (fetch)",
      code: `const response = await fetch("${origin}/api/v1/sdk/evaluate", {
  method: "POST",
  headers: { "X-API-Key": "${key}", "Content-Type": "application/json" },
  body: JSON.stringify({ user_id: "user-123", context: { country: "FR" }, flags: ["${flag}"] }),
});
const { data } = await response.json();
console.log(data.flags["${flag}"]?.value);`,
    },
    {
      label: "curl",
      code: `curl -s -X POST ${origin}/api/v1/sdk/evaluate \\
  -H "X-API-Key: ${key}" -H "Content-Type: application/json" \\
  -d '{"user_id": "user-123", "context": {"country": "FR"}, "flags": ["${flag}"]}'`,
    },
  ];
}
