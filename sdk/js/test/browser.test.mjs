// The browser entry: size budget, values from /sdk/evaluate, the storage cache, identify, change
// listeners and events (against a fake server: the outside world of this unit).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

import { build } from "esbuild";

import { BrowserClient } from "../dist/browser.js";

test("the browser bundle is at most 15 KB minified and gzipped", async () => {
  const out = await build({
    entryPoints: [new URL("../src/browser/index.ts", import.meta.url).pathname],
    bundle: true, minify: true, format: "esm", platform: "browser", write: false, target: "es2020",
  });
  const size = gzipSync(out.outputFiles[0].contents).length;
  console.log(`browser bundle: ${size} bytes min+gzip`);
  assert.ok(size <= 15 * 1024, `${size} bytes`);
});

function memoryStorage() {
  const map = new Map();
  return { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, String(v)), map };
}

async function fakeServer(handler) {
  const seen = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ url: req.url, headers: req.headers, body: body ? JSON.parse(body) : null });
      handler(req, res, body ? JSON.parse(body) : null);
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

const value = (v, variation) => ({ value: v, variation, reason: "TARGETING_MATCH", error_code: null, experiment_key: null, experiment_variant: null });

test("values for the context, cached for reloads, re-fetched on identify, listeners hear changes", async () => {
  let down = false;
  const server = await fakeServer((req, res, body) => {
    if (req.url === "/api/v1/sdk/evaluate") {
      if (down) return res.writeHead(503).end();
      const on = body.context.country === "DE";
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ data: { user_id: body.user_id, flags: { banner: value(on, on ? "on" : "off") } } }));
    } else {
      res.writeHead(202, { "Content-Type": "application/json" }).end(JSON.stringify({ data: { accepted: 1, rejected: [] } }));
    }
  });
  const storage = memoryStorage();
  const client = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage, context: { user_id: "u1", country: "DE" }, flushInterval: 60_000 });
  assert.equal(await client.ready, true);
  assert.equal(client.isEnabled("banner"), true);
  assert.equal(client.variation("missing", "dflt"), "dflt");
  assert.equal(client.variationDetail("banner", "wrong type").errorCode, "TYPE_MISMATCH");
  const request = server.seen[0];
  assert.equal(request.headers["x-api-key"], "ck");
  assert.deepEqual(request.body, { user_id: "u1", context: { country: "DE" } });

  const changes = [];
  client.onChange((keys) => changes.push(keys));
  assert.equal(await client.identify({ user_id: "u1", country: "FR" }), true);
  assert.equal(client.isEnabled("banner"), false);
  assert.deepEqual(changes, [["banner"]]);

  // a reload while the server is down: the stored values for the same context are served
  down = true;
  const reloaded = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage, context: { user_id: "u1", country: "FR" }, sendEvents: false });
  assert.equal(await reloaded.ready, false);
  assert.deepEqual(reloaded.allFlags(), { banner: false });
  const other = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage, context: { user_id: "u2" }, sendEvents: false });
  assert.equal(await other.ready, false);
  assert.deepEqual(other.allFlags(), {}); // another context never gets someone else's values

  // events: flag exposures (once per flag, user, variation) and track, sent with keepalive
  client.track("signup", 1, { plan: "pro" });
  assert.equal(await client.flush(), true);
  const sent = server.seen.find((r) => r.url === "/api/v1/events/batch").body.events;
  assert.deepEqual(sent.map((e) => [e.name, e.user_id, e.properties]), [
    ["flag_exposure", "u1", { flag: "banner", variation: "on" }],
    ["flag_exposure", "u1", { flag: "banner", variation: "off" }],
    ["signup", "u1", { plan: "pro" }],
  ]);
  for (const e of sent) assert.match(e.event_id, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/); // time-ordered
  await client.close();
  await server.close();
});

test("polling picks up a change on the server; an older answer never overwrites a newer identify", async () => {
  let banner = "DE";
  let slow = null; // a response held back until released
  const server = await fakeServer((req, res, body) => {
    const send = () => {
      const on = body.context.country === banner;
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ data: { user_id: body.user_id, flags: { banner: value(on, on ? "on" : "off") } } }));
    };
    if (slow !== null && body.user_id === "u1") slow.push(send);
    else send();
  });
  const client = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage: null, sendEvents: false, context: { user_id: "u1", country: "DE" }, pollInterval: 40 });
  assert.equal(await client.ready, true);
  const changes = [];
  client.onChange((keys) => changes.push([keys, client.isEnabled("banner")]));

  banner = "FR"; // the rule changes on the server
  for (let i = 0; i < 100 && !changes.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(changes, [[["banner"], false]]);

  // a poll for u1 still in flight when the page identifies u2: u2's values stay
  slow = [];
  const stale = client.refresh(); // held back by the server
  assert.equal(await client.identify({ user_id: "u2", country: "FR" }), true);
  assert.equal(client.isEnabled("banner"), true);
  for (const send of slow) send();
  slow = null;
  assert.equal(await stale, false);
  assert.equal(client.isEnabled("banner"), true);
  await client.close();
  await server.close();
});
