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

/** A fake server: `routes[path](req, res, body)`; records every request. On `port` when given. */
async function fake(routes, port = 0) {
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
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
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
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 1000, logger: quiet, sendEvents: false });
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
  client.track("x".repeat(100), "u1");
  assert.equal(await client.flush(10_000), false);
  assert.equal(client.droppedEvents, 1);
  assert.match(warnings.join("\n"), /the server refused 1 events: 'x{100}': name too long$/);
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
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, stream: false, pollInterval: 1000, logger, sendEvents: false });
  try {
    await until(() => server.seen.filter((r) => r.url === "/api/v1/sdk/flags").length >= 3, "three polls");
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

/** A logger keeping every line as [level, message]. */
function recorder() {
  const lines = [];
  const at = (level) => (m) => lines.push([level, m]);
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const loud = (log) => log.lines.filter(([level]) => level === "warn" || level === "error");

/** Reconnects within 10 ms, for tests that need many: the backoff's full jitter drawn at 1% of its
 * range (reconnectCap itself cannot go under 1000 ms). Restored when the test ends. */
const fastReconnects = (t) => t.mock.method(Math, "random", () => 0.01);

function refuse(res, status, code, message) {
  res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify({ error: { code, message } }));
}

test("the stream opening again says the server answers again, and a second outage is said again", async (t) => {
  fastReconnects(t);
  let flagsDown = true;
  let streamDown = true;
  let streamRes;
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => (flagsDown ? refuse(res, 503, "UNAVAILABLE", "database unavailable") : json(res, 200, payload(true, 1), { ETag: '"v1"' })),
    "/api/v1/sdk/stream": (req, res) => {
      if (streamDown) return refuse(res, 503, "UNAVAILABLE", "database unavailable");
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": hello\n\n");
      streamRes = res;
    },
  });
  const log = recorder();
  // what the stream's own answers say is another test's business: these are the fetch's lines
  const said = () => loud(log).filter(([, m]) => !m.includes("stream answered"));
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, logger: log, sendEvents: false });
  try {
    await until(() => said().length >= 1, "the failure");
    // the server is back: the stream opens first, and no fetch follows while it stays open (the
    // flags endpoint stays down so that only the stream can tell)
    streamDown = false;
    await until(() => streamRes !== undefined, "the stream");
    await until(() => said().length >= 2, "the recovery");
    streamDown = true; // a second outage, with the same failure
    streamRes.end();
    await until(() => said().length >= 3, "the second failure");
    const failure = "experimently: ruleset fetch answered 503: database unavailable; serving the last ruleset or the defaults, retrying";
    assert.deepEqual(said(), [
      ["warn", failure],
      ["warn", "experimently: the server answers again (was: ruleset fetch answered 503: database unavailable)"],
      ["warn", failure],
    ]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("a key refused on the stream too is logged once, not once per reconnect", async (t) => {
  fastReconnects(t);
  const revoked = (req, res) => refuse(res, 401, "AUTHENTICATION_REQUIRED", "API key is invalid, expired or revoked");
  const server = await fake({ "/api/v1/sdk/flags": revoked, "/api/v1/sdk/stream": revoked });
  const log = recorder();
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, logger: log, sendEvents: false });
  try {
    await until(() => server.seen.filter((r) => r.url === "/api/v1/sdk/stream").length >= 5, "five reconnects");
    assert.deepEqual(loud(log), [["error", "experimently: ruleset fetch answered 401: API key is invalid, expired or revoked; serving the last ruleset or the defaults, retrying"]]);
    assert.ok(log.lines.some(([level, m]) => level === "debug" && m === "experimently: stream answered 401"));
  } finally {
    await client.close();
    await server.close();
  }
});

test("waitForInitialization waits through a failed first attempt for a ruleset, at most initTimeout", async () => {
  const probe = await fake({});
  await probe.close(); // nothing listens on this port at start
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: probe.url, initTimeout: 10_000, reconnectCap: 1000, logger: quiet, sendEvents: false });
  const started = Date.now();
  const waiting = client.waitForInitialization();
  assert.equal(await client.isFeatureEnabled("f", "u1"), false); // evaluations do not wait beyond the first attempt
  let server;
  const later = new Promise((resolve) => setTimeout(resolve, 2000)).then(async () => {
    server = await fake({ "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }) }, Number(new URL(probe.url).port));
  });
  try {
    assert.equal(await waiting, true);
    const waited = Date.now() - started;
    assert.ok(waited >= 1900 && waited < 10_000, `${waited} ms`);
    assert.equal(await client.isFeatureEnabled("f", "u1"), true);
    assert.equal(await client.waitForInitialization(), true); // at once now
  } finally {
    await later;
    await client.close();
    await server?.close();
  }

  // never a ruleset: false after initTimeout; closed or offline without a bootstrap: false at once
  const down = new ExperimentationClient({ apiKey: "k", baseUrl: probe.url, initTimeout: 300, reconnectCap: 1000, logger: quiet, sendEvents: false });
  let t = Date.now();
  assert.equal(await down.waitForInitialization(), false);
  assert.ok(Date.now() - t >= 250, `${Date.now() - t} ms`);
  const pending = down.waitForInitialization();
  await down.close();
  t = Date.now();
  assert.equal(await pending, false);
  assert.equal(await down.waitForInitialization(), false);
  assert.ok(Date.now() - t < 100, `${Date.now() - t} ms`);
  assert.equal(await new ExperimentationClient({ apiKey: "k", offline: true, logger: quiet }).waitForInitialization(), false);
});

test("a stream refused with 429 is said once, and again only after a stream was open in between", async () => {
  let busy = true;
  let streamRes;
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => {
      if (busy) return refuse(res, 429, "TOO_MANY_STREAMS", "too many streams open for this key");
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.write(": hello\n\n");
      streamRes = res;
    },
  });
  const log = recorder();
  const streams = () => server.seen.filter((r) => r.url === "/api/v1/sdk/stream").length;
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 1000, reconnectCap: 1000, logger: log, sendEvents: false });
  const busyLine = "experimently: the server refused the stream (429: too many streams open for this key); polling every 1000 ms until it accepts one";
  try {
    await until(() => streams() >= 3, "three refused streams");
    assert.deepEqual(loud(log), [["warn", busyLine]]);
    busy = false;
    await until(() => streamRes !== undefined, "a stream");
    busy = true;
    const before = streams();
    streamRes.end();
    await until(() => streams() >= before + 2, "two more refused streams");
    assert.deepEqual(loud(log), [["warn", busyLine], ["warn", busyLine]]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("a baseUrl ending in /api/v1 is cut to the server's root, said once; a wrong root is named on the 404", async () => {
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(404).end(),
  });
  for (const suffix of ["/api/v1", "/api/v1/"]) {
    const log = recorder();
    const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url + suffix, pollInterval: 60_000, logger: log, sendEvents: false });
    assert.equal(await client.waitForInitialization(), true);
    await until(() => server.seen.some((r) => r.url === "/api/v1/sdk/stream"), "the stream attempt");
    await client.close();
    assert.deepEqual(loud(log).filter(([, m]) => m.includes("baseUrl")), [["warn", `experimently: baseUrl should be the server's root, without /api/v1: using '${server.url}'`]]);
  }
  assert.ok(server.seen.every((r) => r.url.startsWith("/api/v1/sdk/")), JSON.stringify(server.seen.map((r) => r.url)));

  // another path: the 404 says which root was used, and no "no stream" line misleads
  const log = recorder();
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: `${server.url}/experimently`, pollInterval: 60_000, logger: log, sendEvents: false });
  await until(() => server.seen.some((r) => r.url === "/experimently/api/v1/sdk/stream") && loud(log).length >= 1, "the stream attempt");
  await new Promise((r) => setTimeout(r, 100));
  await client.close();
  assert.deepEqual(loud(log), [["warn", `experimently: ruleset fetch answered 404: Not Found (is '${server.url}/experimently' the server's root URL?); serving the last ruleset or the defaults, retrying`]]);
  await server.close();
});

test("the SDK key: trimmed; missing or unusable in a header: one error without the key, defaults, no network", async () => {
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(404).end(),
  });
  const trimmed = new ExperimentationClient({ apiKey: "  sdk-key-from-a-file\n", baseUrl: server.url, pollInterval: 60_000, logger: quiet, sendEvents: false });
  assert.equal(await trimmed.waitForInitialization(), true);
  assert.equal(server.seen[0].headers["x-api-key"], "sdk-key-from-a-file");
  await trimmed.close();
  await server.close();

  const secret = "sdk-secret\nkey-0123456789";
  const cases = [
    ["", "experimently: no SDK key: serving defaults (or the bootstrap), no network"],
    [" \n", "experimently: no SDK key: serving defaults (or the bootstrap), no network"],
    [undefined, "experimently: no SDK key: serving defaults (or the bootstrap), no network"],
    [secret, "experimently: the SDK key holds characters an HTTP header cannot carry (a line break or a control character inside it?): serving defaults (or the bootstrap), no network"],
    ["sdk-key-\u2603-0123456789", "experimently: the SDK key holds characters an HTTP header cannot carry (a line break or a control character inside it?): serving defaults (or the bootstrap), no network"],
  ];
  for (const [apiKey, error] of cases) {
    let calls = 0;
    const log = recorder();
    const fetch = async () => (calls++, new Response(null, { status: 500 }));
    const client = new ExperimentationClient({ apiKey, baseUrl: "http://experimently.test", initTimeout: 5000, fetch, logger: log, flushInterval: 10 });
    const t = Date.now();
    assert.equal(await client.waitForInitialization(), false);
    assert.equal(await client.isFeatureEnabled("f", "u1"), false);
    assert.ok(Date.now() - t < 200, `${Date.now() - t} ms`);
    client.track("purchase", "u1");
    assert.equal(await client.flush(1000), true);
    await client.close();
    assert.equal(calls, 0, JSON.stringify(apiKey));
    assert.deepEqual(loud(log), [["error", error]]);
    const booted = new ExperimentationClient({ apiKey, bootstrap: payload(true, 1), fetch, logger: quiet });
    assert.equal(await booted.isFeatureEnabled("f", "u1"), true);
    await booted.close();
  }
});

test("no log line shows the SDK key whole, whatever an error quotes", async () => {
  const apiKey = "sdk-secret-0123456789";
  const log = recorder();
  const fetch = async (url, init) => {
    throw new TypeError(`cannot send ${init.headers["X-API-Key"]} to ${url}`);
  };
  const client = new ExperimentationClient({ apiKey, baseUrl: "http://experimently.test", stream: false, pollInterval: 1000, flushInterval: 20, fetch, logger: log });
  client.track("purchase", "u1");
  await until(() => log.lines.some(([, m]) => m.includes("events not sent")), "an event send");
  await client.close();
  assert.ok(log.lines.some(([, m]) => m.includes("cannot send sdk-…")), JSON.stringify(log.lines));
  assert.ok(log.lines.every(([, m]) => !m.includes(apiKey)), JSON.stringify(log.lines));
});

test("events refused one by one: the warning names each (at most three) with the server's path and reason", async () => {
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(404).end(),
    "/api/v1/events/batch": (req, res, body) => {
      const events = JSON.parse(body).events;
      const rejected = [];
      events.forEach((e, index) => {
        if (e.name === "purchase") rejected.push({ index, path: "value", reason: "must be a finite number" });
        else if (e.name !== "ok") rejected.push({ index, path: "timestamp", reason: "is older than 30 days" });
      });
      json(res, 202, { accepted: events.length - rejected.length, rejected });
    },
  });
  const log = recorder();
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, pollInterval: 60_000, logger: log });
  await client.waitForInitialization();
  for (const name of ["ok", "purchase", "signup", "ok", "late", "later"]) client.track(name, "u1");
  assert.equal(await client.flush(10_000), false);
  assert.equal(client.droppedEvents, 4);
  assert.deepEqual(loud(log), [[
    "warn",
    "experimently: the server refused 4 events: 'purchase': value must be a finite number; 'signup': timestamp is older than 30 days; 'late': timestamp is older than 30 days; and 1 more",
  ]]);
  await client.close();
  await server.close();
});

test("close() with the server unreachable gives up within closeTimeout without sending in a tight loop", async () => {
  let sends = 0;
  const fetch = async (url) => {
    if (String(url).endsWith("/events/batch")) sends++;
    throw new TypeError("fetch failed");
  };
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: "http://experimently.test", stream: false, pollInterval: 60_000, flushInterval: 60_000, closeTimeout: 3000, fetch, logger: quiet });
  client.track("purchase", "u1");
  const t = Date.now();
  await client.close();
  assert.ok(Date.now() - t <= 3500, `${Date.now() - t} ms`);
  // backoff from 0.5 s, doubling: a handful (a send loop restarted at each give-up made 100-300)
  assert.ok(sends <= 15, `${sends} sends`);
});

test("a page instead of the server (200, but not JSON or not a stream): one error with the root URL hint, never 'answers again'", async (t) => {
  fastReconnects(t);
  const page = (req, res) => res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end("<!doctype html><title>Console</title>");
  const cases = [
    [page, "text/html, not JSON"],
    [(req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end("<!doctype html>"), "a body that is not JSON"],
    [(req, res) => json(res, 200, { users: ["alice@example.com"] }), "JSON that is not an SDK payload"],
  ];
  for (const [flags, what] of cases) {
    const server = await fake({ "/foo/api/v1/sdk/flags": flags, "/foo/api/v1/sdk/stream": page });
    const log = recorder();
    const client = new ExperimentationClient({ apiKey: "k", baseUrl: `${server.url}/foo`, logger: log, sendEvents: false });
    try {
      await until(() => server.seen.filter((r) => r.url.endsWith("/stream")).length >= 5, "five reconnects");
      assert.equal(client.initialized, false);
      assert.deepEqual(loud(log), [
        ["error", `experimently: ruleset fetch answered 200 with ${what} (is '${server.url}/foo' the server's root URL?); serving the last ruleset or the defaults, retrying`],
      ]);
      assert.ok(log.lines.every(([, m]) => !m.includes("<!doctype") && !m.includes("alice")), JSON.stringify(log.lines));
    } finally {
      await client.close();
      await server.close();
    }
  }
});

test("a stream answered with another content type is not an open stream: the failure before it is not said to be over", async (t) => {
  fastReconnects(t);
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => refuse(res, 503, "UNAVAILABLE", "database unavailable"),
    "/api/v1/sdk/stream": (req, res) => res.writeHead(200, { "Content-Type": "text/plain" }).end(": not a stream\n\n"),
  });
  const log = recorder();
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, logger: log, sendEvents: false });
  try {
    await until(() => server.seen.filter((r) => r.url.endsWith("/stream")).length >= 5, "five reconnects");
    assert.deepEqual(loud(log), [["warn", "experimently: ruleset fetch answered 503: database unavailable; serving the last ruleset or the defaults, retrying"]]);
    assert.ok(log.lines.some(([level, m]) => level === "debug" && m === "experimently: stream answered 200 with text/plain"));
  } finally {
    await client.close();
    await server.close();
  }
});

test("pollInterval under 1000 ms (0, negative, NaN, tiny) polls once a second, said once with the value used", async () => {
  const runs = [0, -5, NaN, 5].map((pollInterval) => {
    const log = recorder();
    let calls = 0;
    const fetch = async () => (calls++, new Response(JSON.stringify({ data: payload(true, 1) }), { headers: { "Content-Type": "application/json", ETag: '"v1"' } }));
    const client = new ExperimentationClient({ apiKey: "k", baseUrl: "http://experimently.test", stream: false, pollInterval, fetch, logger: log, sendEvents: false });
    return { pollInterval, log, client, calls: () => calls };
  });
  await new Promise((r) => setTimeout(r, 1800));
  for (const run of runs) await run.client.close();
  for (const { pollInterval, log, calls } of runs) {
    assert.ok(calls() >= 2 && calls() <= 3, `${pollInterval}: ${calls()} requests in 1.8 s`); // a tight loop made hundreds
    assert.deepEqual(loud(log), [["warn", `experimently: pollInterval ${pollInterval} is below 1000 ms or not a number: polling every 1000 ms`]]);
  }
});

test("reconnectCap under 1000 ms (0, negative, NaN, tiny) reconnects at most a second apart, said once with the value used", async () => {
  // with the server down, a reconnectCap of 5 reconnected in a tight loop: hundreds of attempts a second
  const runs = [0, -5, NaN, 5].map((reconnectCap) => {
    const log = recorder();
    let streams = 0;
    const fetch = async (url) => {
      if (String(url).endsWith("/sdk/stream")) streams++;
      throw new TypeError("fetch failed");
    };
    const client = new ExperimentationClient({ apiKey: "k", baseUrl: "http://experimently.test", reconnectCap, fetch, logger: log, sendEvents: false });
    return { reconnectCap, log, client, streams: () => streams };
  });
  await new Promise((r) => setTimeout(r, 1500));
  for (const run of runs) await run.client.close();
  for (const { reconnectCap, log, streams } of runs) {
    // delays drawn up to 500 ms, then up to 1000 ms: a handful in 1.5 s
    assert.ok(streams() >= 1 && streams() <= 15, `${reconnectCap}: ${streams()} stream attempts in 1.5 s`);
    const said = loud(log).filter(([, m]) => m.includes("reconnectCap"));
    assert.deepEqual(said, [["warn", `experimently: reconnectCap ${reconnectCap} is below 1000 ms or not a number: reconnecting after at most 1000 ms`]]);
  }
});

test("no listener is left on the client's signal by finished requests (no MaxListenersExceededWarning)", async (t) => {
  fastReconnects(t);
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  process.on("warning", onWarning);
  const server = await fake({
    "/api/v1/sdk/flags": (req, res) => json(res, 200, payload(true, 1), { ETag: '"v1"' }),
    "/api/v1/sdk/stream": (req, res) => refuse(res, 503, "UNAVAILABLE", "database unavailable"),
  });
  // each reconnect fetches the ruleset; each fetch's listener stayed until httpTimeout ran out
  const client = new ExperimentationClient({ apiKey: "k", baseUrl: server.url, httpTimeout: 60_000, logger: quiet, sendEvents: false });
  try {
    await until(() => server.seen.filter((r) => r.url === "/api/v1/sdk/flags").length >= 20, "twenty fetches");
    await new Promise((r) => setImmediate(r)); // warnings are emitted on a later tick
    assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning").map(String), []);
  } finally {
    process.off("warning", onWarning);
    await client.close();
    await server.close();
  }
});

test("a bootstrap that is not an SDK payload is refused with one error that never quotes it; the client is not initialized", async () => {
  const member = "alice@example.com"; // segments may list members: never in a log line
  const text = JSON.stringify({ data: { ...payload(true, 1), segments: [{ key: "staff", conditions: [{ attribute: "email", operator: "in", values: [member] }] }] } });
  const cases = [
    [text, "experimently: bootstrap ignored: it is a string; pass the parsed object (JSON.parse)"],
    [{ foo: 1 }, "experimently: bootstrap ignored: not an SDK payload (GET /api/v1/sdk/flags)"],
    [{ data: { foo: 1 } }, "experimently: bootstrap ignored: not an SDK payload (GET /api/v1/sdk/flags)"],
    [{ flags: { f: 1 } }, "experimently: bootstrap ignored: not an SDK payload (GET /api/v1/sdk/flags)"],
    [[], "experimently: bootstrap ignored: not an SDK payload (GET /api/v1/sdk/flags)"],
    [42, "experimently: bootstrap ignored: not an SDK payload (GET /api/v1/sdk/flags)"],
  ];
  for (const [bootstrap, error] of cases) {
    const log = recorder();
    const client = new ExperimentationClient({ apiKey: "k", offline: true, bootstrap, logger: log });
    assert.equal(client.initialized, false);
    assert.equal(client.version, null);
    assert.equal(await client.waitForInitialization(), false);
    assert.equal((await client.variationDetail("f", "u1", {}, "dflt")).errorCode, "FLAG_NOT_FOUND");
    assert.deepEqual(loud(log), [["error", error]]);
    assert.ok(log.lines.every(([, m]) => !m.includes(member)), JSON.stringify(log.lines));
  }
  // a payload, with or without the envelope (a null bootstrap is none): used, its version "bootstrap"
  for (const bootstrap of [JSON.parse(text), JSON.parse(text).data]) {
    const client = new ExperimentationClient({ apiKey: "k", offline: true, bootstrap, logger: quiet });
    assert.equal(await client.waitForInitialization(), true);
    assert.equal(client.version, "bootstrap");
    assert.equal(await client.isFeatureEnabled("f", "u1"), true);
  }
  assert.equal(new ExperimentationClient({ apiKey: "k", offline: true, bootstrap: null, logger: quiet }).initialized, false);
});

test("baseUrl: null is the default; one that is not an http(s) URL is one error naming it, and no network", async () => {
  const urls = [];
  const fetch = async (url) => (urls.push(String(url)), new Response(null, { status: 503 }));
  const nulled = new ExperimentationClient({ apiKey: "k", baseUrl: null, stream: false, initTimeout: 0, fetch, logger: quiet, sendEvents: false });
  await until(() => urls.length >= 1, "the first fetch");
  await nulled.close();
  assert.equal(urls[0], "http://127.0.0.1:8000/api/v1/sdk/flags");

  const cases = [
    ["not a url", "baseUrl must be an http:// or https:// URL, not 'not a url'"],
    ["127.0.0.1:8000", "baseUrl must be an http:// or https:// URL, not '127.0.0.1:8000'"],
    ["ftp://experimently.test", "baseUrl must be an http:// or https:// URL, not 'ftp://experimently.test'"],
    ["", "baseUrl must be an http:// or https:// URL, not ''"],
    [8000, "baseUrl must be an http:// or https:// URL, not 8000"],
    [{ host: "x" }, "baseUrl must be an http:// or https:// URL, not an object"],
    ["http://user:hunter2@experimently.test", "baseUrl holds credentials (user:password@), which fetch refuses to send"],
  ];
  urls.length = 0;
  for (const [baseUrl, problem] of cases) {
    const log = recorder();
    const client = new ExperimentationClient({ apiKey: "k", baseUrl, bootstrap: payload(true, 1), initTimeout: 5000, fetch, logger: log, flushInterval: 10 });
    const t = Date.now();
    assert.equal(await client.isFeatureEnabled("f", "u1"), true); // the bootstrap, at once
    assert.ok(Date.now() - t < 200, `${Date.now() - t} ms`);
    client.track("purchase", "u1");
    assert.equal(await client.flush(1000), true);
    await client.close();
    assert.deepEqual(loud(log), [["error", `experimently: ${problem}: serving defaults (or the bootstrap), no network`]]);
    assert.ok(log.lines.every(([, m]) => !m.includes("hunter2")));
    assert.equal(await new ExperimentationClient({ apiKey: "k", baseUrl, fetch, logger: quiet }).waitForInitialization(), false);
  }
  assert.deepEqual(urls, []);
});

test("a numeric option of the wrong type or out of range: one warning, and the default", async () => {
  const cases = [
    [{ initTimeout: "abc" }, "initTimeout must be a number of milliseconds from 0 to 2147483647, not a string: using the default, 5000"],
    [{ initTimeout: -1 }, "initTimeout must be a number of milliseconds from 0 to 2147483647, not -1: using the default, 5000"],
    [{ httpTimeout: 0 }, "httpTimeout must be a number of milliseconds from 1 to 2147483647, not 0: using the default, 5000"],
    [{ reconnectCap: Infinity }, "reconnectCap must be a number of milliseconds from 1000 to 2147483647, not Infinity: using the default, 30000"],
    [{ reconnectCap: "5" }, "reconnectCap must be a number of milliseconds from 1000 to 2147483647, not a string: using the default, 30000"],
    [{ pollInterval: "30" }, "pollInterval must be a number of milliseconds from 1000 to 2147483647, not a string: using the default, 30000"],
    [{ eventBatchSize: 5000 }, "eventBatchSize must be a whole number from 1 to 1000, not 5000: using the default, 500"],
    [{ eventCapacity: 2.5 }, "eventCapacity must be a whole number from 1 to 9007199254740991, not 2.5: using the default, 10000"],
  ];
  for (const [options, warning] of cases) {
    const log = recorder();
    const client = new ExperimentationClient({ apiKey: "k", offline: true, logger: log, ...options });
    await client.close();
    assert.deepEqual(loud(log), [["warn", `experimently: ${warning}`]]);
  }
  // undefined and null are the default, without a word
  const log = recorder();
  const client = new ExperimentationClient({ apiKey: "k", offline: true, logger: log, initTimeout: undefined, pollInterval: null, stream: undefined });
  await client.close();
  assert.deepEqual(loud(log), []);

  // initTimeout -1 used to mean no wait at all: the first evaluation now waits for the first attempt
  const slow = async () => new Promise((r) => setTimeout(() => r(new Response(JSON.stringify({ data: payload(true, 1) }), { headers: { "Content-Type": "application/json" } })), 300));
  const waiting = new ExperimentationClient({ apiKey: "k", baseUrl: "http://experimently.test", stream: false, initTimeout: -1, fetch: slow, logger: quiet, sendEvents: false });
  assert.equal(await waiting.isFeatureEnabled("f", "u1"), true);
  await waiting.close();
});
