// The Node client's behaviour against a fake server (the outside world for these tests): updates over
// the stream and by polling, events with retries, bootstrap/offline, and never throwing when down.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { test } from "node:test";

import { ExperimentationClient } from "../dist/index.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function boolFlag(key, on, version = 1) {
  return {
    key, type: "boolean", version, salt: key, enabled: true, off_variation: "off",
    variations: [{ key: "on", value: true }, { key: "off", value: false }],
    targets: [], rules: [], prerequisites: [], fallthrough: { variation: on ? "on" : "off" },
  };
}

const payload = (on, version) => ({ flags: [boolFlag("f", on, version)], segments: [], experiments: [] });

/** A fake server: `routes[path](req, res, body)`; records every request. */
async function fake(routes) {
  const seen = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const route = routes[req.url.split("?")[0]];
      if (route === undefined) {
        res.writeHead(404).end();
        return;
      }
      route(req, res, body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, seen, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

function json(res, status, data, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify({ data }));
}

async function until(predicate, what) {
  for (let i = 0; i < 500; i++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("offline with a bootstrap: serves the bootstrap, never touches the network", async () => {
  const client = new ExperimentationClient({ apiKey: "k", offline: true, bootstrap: { data: payload(true, 1) }, fetch: () => assert.fail("no network"), logger: quiet });
  assert.equal(await client.isFeatureEnabled("f", "u1"), true);
  assert.deepEqual(await client.allFlags("u1"), { f: true });
  client.track("purchase", "u1", 3);
  await client.close();
});

test("server unreachable: no call throws; defaults with FLAG_NOT_FOUND, or the bootstrap", async () => {
  const down = await fake({});
  await down.close(); // nothing listens on this port now
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: down.url, initTimeout: 2000, logger: quiet, flushInterval: 50 });
  assert.equal(await client.isFeatureEnabled("f", "u1"), false);
  const d = await client.variationDetail("f", "u1", {}, "dflt");
  assert.equal(d.value, "dflt");
  assert.equal(d.reason, "ERROR");
  assert.equal(d.errorCode, "FLAG_NOT_FOUND");
  assert.equal(await client.getVariant("exp", "u1"), null);
  client.track("purchase", "u1");
  assert.equal(await client.flush(200), false);
  await client.close();

  const booted = new ExperimentationClient({ apiKey: "k", baseUrl: down.url, bootstrap: payload(true, 1), initTimeout: 2000, logger: quiet, sendEvents: false });
  assert.equal(await booted.isFeatureEnabled("f", "u1"), true);
  await booted.close();
});

test("stream: a put event replaces the ruleset, listeners hear the changed keys, Last-Event-ID is sent", async () => {
  let streamRes;
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(false, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": hello\n\n");
      streamRes = res;
    },
  });
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, logger: quiet, sendEvents: false });
  assert.equal(await client.waitForInitialization(), true);
  assert.equal(client.version, "v1");
  assert.equal(await client.isFeatureEnabled("f", "u1"), false);
  const changes = [];
  client.onChange((e) => changes.push(e));
  client.onChange(() => { throw new Error("a failing listener does not stop the others"); });
  await until(() => streamRes !== undefined, "the stream");
  const stream = server.seen.find((r) => r.url === "/api/v1/sdk/stream");
  assert.equal(stream.headers["last-event-id"], "v1");
  assert.equal(stream.headers["x-api-key"], "k");
  streamRes.write(`event: put\nid: v2\ndata: ${JSON.stringify({ version: "v2", payload: payload(true, 2) })}\n\n`);
  await until(() => client.version === "v2", "the streamed version");
  assert.equal(await client.isFeatureEnabled("f", "u1"), true);
  assert.deepEqual(changes, [{ version: "v2", keys: ["f"] }]);
  await client.close();
  await server.close();
});

test("no stream (404): polls with If-None-Match and picks up a change", async () => {
  let current = 1;
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => {
      if (req.headers["if-none-match"] === `"v${current}"`) return res.writeHead(304).end();
      json(res, 200, payload(current === 2, current), { ETag: `"v${current}"` });
    },
  });
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 30, logger: quiet, sendEvents: false });
  await client.waitForInitialization();
  assert.equal(await client.isFeatureEnabled("f", "u1"), false);
  await until(() => server.seen.some((r) => r.headers["if-none-match"] === '"v1"'), "a conditional poll");
  current = 2;
  await until(async () => await client.isFeatureEnabled("f", "u1"), "the polled change");
  await client.close();
  await server.close();
});

test("events refused one by one in an accepted batch: counted as dropped, flush false", async () => {
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(404).end(),
    "/api/v1/events/batch": (req, res) => json(res, 202, { accepted: 0, rejected: [{ index: 0, message: "name too long" }] }),
  });
  const warnings = [];
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 60_000, logger: { ...quiet, warn: (m) => warnings.push(m) } });
  await client.waitForInitialization();
  client.track("x".repeat(300), "u1");
  assert.equal(await client.flush(10_000), false);
  assert.equal(client.droppedEvents, 1);
  assert.match(warnings.join("\n"), /the server refused 1 events: \[\{"index":0,"message":"name too long"\}\]/);
  await client.close();
  await server.close();
});

test("a wrong key or a server down is logged once, with the server's words, and its end too", async () => {
  let status = 401;
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => {
      if (status === 401) {
        const error = { code: "AUTHENTICATION_REQUIRED", message: "API key is invalid, expired or revoked" };
        res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ error }));
      } else json(res, 200, payload(true, 1), { ETag: '"v1"' });
    },
  });
  const lines = [];
  const logger = { debug() {}, info() {}, warn: (m) => lines.push(["warn", m]), error: (m) => lines.push(["error", m]) };
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, stream: false, pollInterval: 20, logger, sendEvents: false });
  try {
    await until(() => server.seen.filter((r) => r.url === "/api/v1/sdk/flags").length >= 5, "five polls");
    assert.deepEqual(lines, [["error", "experimently: ruleset fetch answered 401: API key is invalid, expired or revoked; serving the last ruleset or the defaults, retrying"]]);
    status = 200;
    await until(() => client.initialized, "the ruleset");
    assert.equal(lines.length, 2);
    assert.match(lines[1][1], /^experimently: the server answers again \(was: ruleset fetch answered 401/);
  } finally {
    await client.close();
    await server.close();
  }
});

test("events: 429 with Retry-After is retried, a bad key (401) drops the batch and counts it", async () => {
  const batches = [];
  let answers = [[429, { "Retry-After": "1" }], [200, {}]];
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(404).end(),
    "/api/v1/events/batch": (req, res, body) => {
      const [status, headers] = answers.shift() ?? [200, {}];
      batches.push({ status, events: JSON.parse(body).events });
      if (status === 401) {
        const error = { code: "AUTHENTICATION_REQUIRED", message: "API key is invalid, expired or revoked" };
        res.writeHead(401, { "Content-Type": "application/json" }).end(JSON.stringify({ error }));
        return;
      }
      json(res, status, { accepted: 1, rejected: [] }, headers);
    },
  });
  const errors = [];
  const logger = { ...quiet, error: (m) => errors.push(m) };
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 60_000, flushInterval: 10, logger });
  assert.equal(await client.isFeatureEnabled("f", "u1"), true);
  assert.equal(await client.isFeatureEnabled("f", "u1"), true); // deduplicated exposure
  client.track("purchase", "u1", 9.5, { sku: "a" });
  assert.equal(await client.flush(10_000), true);
  assert.deepEqual(batches.map((b) => b.status), [429, 200]);
  const names = batches[1].events.map((e) => [e.name, e.user_id, e.properties]);
  assert.deepEqual(names, [["flag_exposure", "u1", { flag: "f", variation: "on" }], ["purchase", "u1", { sku: "a" }]]);
  assert.equal(batches[1].events[1].value, 9.5);
  // the retry carries the same ids (the server stores each once); ids are UUIDv7 hex, time first
  assert.deepEqual(batches[0].events.map((e) => e.event_id), batches[1].events.map((e) => e.event_id));
  for (const e of batches[1].events) {
    assert.match(e.event_id, /^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    assert.ok(Math.abs(parseInt(e.event_id.slice(0, 12), 16) - Date.now()) < 60_000, e.event_id);
  }

  // a refused batch is not "accepted": flush says so, and the log carries the server's words
  answers = [[401, {}]];
  client.track("purchase", "u2");
  assert.equal(await client.flush(10_000), false);
  assert.equal(client.droppedEvents, 1);
  assert.deepEqual(errors, ["experimently: events refused with 401 (API key is invalid, expired or revoked); 1 events dropped"]);
  client.track("purchase", "u3");
  assert.equal(await client.flush(10_000), true); // the next flush has nothing refused
  await client.close();
  await server.close();
});
