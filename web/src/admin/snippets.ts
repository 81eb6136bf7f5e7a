/** Copy-paste snippets for a new API key: the Python and Node SDKs (which evaluate locally on the
 * environment's ruleset and keep it current), then plain HTTP for any other language. */
export function snippets(origin: string, key: string, flag: string): { label: string; code: string }[] {
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
