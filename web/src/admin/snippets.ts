/** Copy-paste snippets for a new API key (Python SDK, JavaScript fetch, curl). */
export function snippets(origin: string, key: string, flag: string): { label: string; code: string }[] {
  return [
    {
      label: "Python",
      code: `import httpx  # pip install httpx

response = httpx.post(
    "${origin}/api/v1/feature-flags/${flag}/evaluate",
    headers={"X-API-Key": "${key}"},
    json={"user_id": "user-123", "context": {"country": "FR"}},
)
result = response.json()["data"]
print(result["value"], result["reason"])`,
    },
    {
      label: "JavaScript",
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
