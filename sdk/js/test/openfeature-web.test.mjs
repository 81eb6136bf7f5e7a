// The OpenFeature web provider over the browser client (against a fake server: the outside world of
// this unit, evaluating one flag by the context's country): typed synchronous resolution, reasons,
// variants, error codes, a context change re-evaluating, configuration-change events, tracking.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";

import { OpenFeature, ProviderEvents } from "@openfeature/web-sdk";

import { BrowserClient } from "../dist/browser.js";
import { ExperimentlyWebProvider } from "../dist/openfeature-web.js";

const value = (v, variation, reason = "TARGETING_MATCH") => ({ value: v, variation, reason, error_code: null, experiment_key: null, experiment_variant: null });

async function fakeServer() {
  const state = { seen: [], banner: "DE", events: [] };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const json = body ? JSON.parse(body) : null;
      state.seen.push({ url: req.url, body: json });
      res.setHeader("Content-Type", "application/json");
      if (req.url === "/api/v1/events/batch") {
        state.events.push(...json.events);
        res.writeHead(202).end(JSON.stringify({ data: { accepted: json.events.length } }));
        return;
      }
      const on = json.context.country === state.banner;
      const flags = {
        banner: on ? value(true, "on") : value(false, "off", "DEFAULT"),
        headline: { ...value("Hello", "b", "SPLIT"), experiment_key: "headline-exp", experiment_variant: "b" },
        limit: value(3, "three", "STATIC"),
        theme: value({ dark: true }, "dark", "STATIC"),
      };
      res.writeHead(200).end(JSON.stringify({ data: { user_id: json.user_id, flags } }));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${server.address().port}`;
  state.close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return state;
}

test("web provider: typed resolution, context change, configuration change, tracking", async () => {
  const server = await fakeServer();
  const client = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage: null, flushInterval: 60_000 });
  const provider = new ExperimentlyWebProvider(client);
  const configChanges = [];
  const contextChanges = [];
  OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, (e) => configChanges.push(e.flagsChanged));
  OpenFeature.addHandler(ProviderEvents.ContextChanged, () => contextChanges.push(true));
  await OpenFeature.setProviderAndWait(provider, { targetingKey: "u1", country: "DE" });
  const of = OpenFeature.getClient();

  // typed, synchronous resolution with the server's reasons and variants
  const hit = of.getBooleanDetails("banner", false);
  assert.deepEqual([hit.value, hit.variant, hit.reason], [true, "on", "TARGETING_MATCH"]);
  const split = of.getStringDetails("headline", "x");
  assert.deepEqual([split.value, split.variant, split.reason], ["Hello", "b", "SPLIT"]);
  assert.deepEqual(split.flagMetadata, { experiment_key: "headline-exp", experiment_variant: "b" });
  assert.equal(of.getNumberValue("limit", 0), 3);
  assert.deepEqual(of.getObjectValue("theme", {}), { dark: true });
  const wrongType = of.getNumberDetails("banner", 7);
  assert.deepEqual([wrongType.value, wrongType.errorCode, wrongType.reason], [7, "TYPE_MISMATCH", "ERROR"]);
  const missing = of.getBooleanDetails("nope", true);
  assert.deepEqual([missing.value, missing.errorCode], [true, "FLAG_NOT_FOUND"]);
  assert.deepEqual(server.seen.at(-1).body, { user_id: "u1", context: { country: "DE" } });

  // a context change re-evaluates on the server (and is not reported as a configuration change)
  await OpenFeature.setContext({ targetingKey: "u2", country: "FR" });
  assert.deepEqual(server.seen.at(-1).body, { user_id: "u2", context: { country: "FR" } });
  assert.equal(of.getBooleanValue("banner", true), false);
  assert.equal(contextChanges.length, 1);
  assert.deepEqual(configChanges, []);

  // a change on the server, fetched by refresh (or polling): PROVIDER_CONFIGURATION_CHANGED
  server.banner = "FR";
  assert.equal(await client.refresh(), true);
  assert.deepEqual(configChanges, [["banner"]]);
  assert.equal(of.getBooleanValue("banner", false), true);

  // tracking: an event of the current context's user, with value and properties
  of.track("purchase", { value: 19.5, sku: "a-1" });
  assert.equal(await client.flush(), true);
  const purchase = server.events.find((e) => e.name === "purchase");
  assert.deepEqual([purchase.user_id, purchase.value, purchase.properties], ["u2", 19.5, { sku: "a-1" }]);

  await OpenFeature.close();
  await server.close();
});

test("web provider: initialization fails without values, succeeds with cached ones", async () => {
  const dead = "http://127.0.0.1:9"; // nothing listens on the discard port
  const storage = new Map();
  const memory = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v) };
  const provider = new ExperimentlyWebProvider(new BrowserClient({ clientKey: "ck", baseUrl: dead, storage: memory, sendEvents: false, timeout: 500 }));
  await assert.rejects(OpenFeature.setProviderAndWait("a", provider, { targetingKey: "u1" }));
  storage.set("experimently:flags", JSON.stringify({ context: { user_id: "u1" }, values: { banner: value(true, "on") } }));
  const cached = new ExperimentlyWebProvider(new BrowserClient({ clientKey: "ck", baseUrl: dead, storage: memory, sendEvents: false, timeout: 500 }));
  await OpenFeature.setProviderAndWait("b", cached, { targetingKey: "u1" });
  assert.equal(OpenFeature.getClient("b").getBooleanValue("banner", false), true);
  await OpenFeature.close();
});
