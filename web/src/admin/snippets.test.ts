import { describe, expect, it } from "vitest";
import { snippets } from "./snippets";

describe("snippets", () => {
  const all = snippets("https://flags.example.com", "xp_key", "new-checkout");

  it("offers the SDKs first, then plain HTTP", () => {
    expect(all.map((s) => s.label)).toEqual(["Python SDK", "Node SDK", "HTTP (fetch)", "curl"]);
  });

  it("fills in the server, the key and the flag in every snippet", () => {
    for (const s of all) {
      expect(s.code).toContain("https://flags.example.com");
      expect(s.code).toContain("xp_key");
      expect(s.code).toContain("new-checkout");
      expect(s.code).not.toContain("${");
    }
  });

  it("uses the SDKs' own entry points", () => {
    expect(all[0]!.code).toContain("from experimently_sdk.client import Client");
    expect(all[1]!.code).toContain('import { ExperimentationClient } from "@experimently/sdk"');
  });

  it("gives a client key the browser SDK and the client endpoint only", () => {
    const client = snippets("https://flags.example.com", "xp_client", "new-checkout", { client: true });
    expect(client.map((s) => s.label)).toEqual(["Browser SDK", "HTTP (fetch)", "curl"]);
    expect(client[0]!.code).toContain('import { BrowserClient } from "@experimently/sdk/browser"');
    for (const s of client) {
      expect(s.code).toContain("xp_client");
      expect(s.code).toContain("new-checkout");
      expect(s.code).not.toContain("${");
      expect(s.code).not.toContain("/feature-flags/");
    }
    expect(client[1]!.code).toContain("https://flags.example.com/api/v1/sdk/evaluate");
  });
});
