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
  const client = new BrowserClient({ clientKey: "ck", baseUrl: server.url, storage: null, sendEvents: false, context: { user_id: "u1", country: "DE" }, pollInterval: 1000 });
  assert.equal(await client.ready, true);
  const changes = [];
  client.onChange((keys) => changes.push([keys, client.isEnabled("banner")]));

  banner = "FR"; // the rule changes on the server
  for (let i = 0; i < 150 && !changes.length; i++) await new Promise((r) => setTimeout(r, 20));
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

/** A `fetch` answering /sdk/evaluate with `answer()` (status, content type, body), recording each call. */
function evaluateStub(answer) {
  const calls = [];
  const fetch = async (url) => {
    calls.push(String(url));
    const [status, type, body] = answer();
    return new Response(body, { status, headers: type ? { "Content-Type": type } : {} });
  };
  return { calls, fetch };
}

const values = JSON.stringify({ data: { user_id: "u1", flags: { banner: value(true, "on") } } });

test("a page instead of the server, a wrong key or path: one console.error with the reason (the root URL hint), once until values arrive", async (t) => {
  const errors = t.mock.method(console, "error", () => undefined);
  let answer = [200, "text/html; charset=utf-8", "<!doctype html><title>Console</title>"];
  const stub = evaluateStub(() => answer);
  const client = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test/foo", storage: null, sendEvents: false, fetch: stub.fetch, context: { user_id: "u1" } });
  assert.equal(await client.ready, false);
  assert.equal(await client.refresh(), false); // the same failure: not said again
  answer = [200, "application/json", "<!doctype html>"];
  assert.equal(await client.refresh(), false);
  answer = [404, "application/json", JSON.stringify({ error: { code: "NOT_FOUND", message: "Not Found" } })];
  assert.equal(await client.refresh(), false);
  answer = [503, null, ""]; // an outage: ready false, nothing said (as a page going offline)
  assert.equal(await client.refresh(), false);
  answer = [200, "application/json", values];
  assert.equal(await client.refresh(), true);
  answer = [200, "text/html", "<!doctype html>"];
  assert.equal(await client.refresh(), false); // said again: values arrived in between
  const hint = "(is 'http://experimently.test/foo' the server's root URL?); serving cached values or defaults";
  assert.deepEqual(errors.mock.calls.map((c) => c.arguments[0]), [
    `experimently: POST /api/v1/sdk/evaluate answered 200 with text/html, not JSON ${hint}`,
    `experimently: POST /api/v1/sdk/evaluate answered 200 with a body that is not the server's values ${hint}`,
    `experimently: POST /api/v1/sdk/evaluate answered 404: Not Found ${hint}`,
    `experimently: POST /api/v1/sdk/evaluate answered 200 with text/html, not JSON ${hint}`,
  ]);
  await client.close();
});

test("pollInterval: 0 is off; under 1000 ms (negative, NaN, tiny) polls once a second, said once with the value used", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const runs = [0, -5, NaN, 5].map((pollInterval) => {
    const stub = evaluateStub(() => [200, "application/json", values]);
    return { pollInterval, stub, client: new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, sendEvents: false, fetch: stub.fetch, context: { user_id: "u1" }, pollInterval }) };
  });
  await new Promise((r) => setTimeout(r, 1800));
  for (const { client } of runs) await client.close();
  for (const { pollInterval, stub } of runs) {
    const expected = pollInterval === 0 ? [1, 1] : [2, 3]; // the first fetch, then a poll a second (a tight loop made hundreds)
    assert.ok(stub.calls.length >= expected[0] && stub.calls.length <= expected[1], `${pollInterval}: ${stub.calls.length} requests`);
  }
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), [-5, NaN, 5].map((v) => `experimently: pollInterval ${v} is below 1000 ms or not a number: polling every 1000 ms`));
});

test("options: baseUrl null is the page's origin; not an http(s) URL, one error and no network; a wrong number, a warning and the default", async (t) => {
  const errors = t.mock.method(console, "error", () => undefined);
  const warnings = t.mock.method(console, "warn", () => undefined);
  const stub = evaluateStub(() => [200, "application/json", values]);
  const same = new BrowserClient({ clientKey: "ck", baseUrl: null, storage: null, sendEvents: false, fetch: stub.fetch, context: { user_id: "u1" } });
  assert.equal(await same.ready, true);
  assert.deepEqual(stub.calls, ["/api/v1/sdk/evaluate"]);
  for (const baseUrl of [8000, "ftp://experimently.test", "localhost:8000"]) {
    const none = new BrowserClient({ clientKey: "ck", baseUrl, storage: null, fetch: stub.fetch, flushInterval: 60_000, context: { user_id: "u1" } });
    assert.equal(await none.ready, false);
    none.track("purchase");
    assert.equal(await none.flush(), true);
    await none.close();
  }
  assert.equal(stub.calls.length, 1);
  assert.deepEqual(errors.mock.calls.map((c) => c.arguments[0]), [
    "experimently: baseUrl must be an http:// or https:// URL, not 8000: serving cached values or defaults, no network",
    "experimently: baseUrl must be an http:// or https:// URL, not 'ftp://experimently.test': serving cached values or defaults, no network",
    "experimently: baseUrl must be an http:// or https:// URL, not 'localhost:8000': serving cached values or defaults, no network",
  ]);
  const odd = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: stub.fetch, context: { user_id: "u1" }, timeout: "abc", flushInterval: 0, eventCapacity: -1, pollInterval: "60" });
  assert.equal(await odd.ready, true); // a timeout of "abc" aborted every request at once
  await odd.close();
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), [
    "experimently: timeout must be a number of milliseconds from 1 to 2147483647, not a string: using the default, 5000",
    "experimently: eventCapacity must be a whole number from 1 to 2147483647, not -1: using the default, 1000",
    "experimently: flushInterval must be a number of milliseconds from 1 to 2147483647, not 0: using the default, 5000",
    "experimently: pollInterval must be a number of milliseconds from 1000 to 2147483647, not a string: using the default, 0",
  ]);
});

/** A `fetch` for the browser client: values for /sdk/evaluate; each event batch counted in `posts` and
 * answered by `events()` (a Response, or throws: the network is down). */
function eventsStub(events) {
  const state = { posts: 0, accepted: 0 };
  state.fetch = async (url, init) => {
    if (String(url).endsWith("/api/v1/sdk/evaluate")) return new Response(values, { status: 200, headers: { "Content-Type": "application/json" } });
    state.posts++;
    const response = events();
    if (response.status === 202) state.accepted += JSON.parse(init.body).events.length;
    return response;
  };
  return state;
}

const offline = () => {
  throw new TypeError("Failed to fetch");
};
const accepted = () => new Response(JSON.stringify({ data: { accepted: 1, rejected: [] } }), { status: 202 });

test("browser: offline with flushInterval 1, events are posted a few times a second, not as fast as the timer fires", async (t) => {
  // each failed send was followed by another at the next tick: hundreds of requests a second
  const stub = eventsStub(offline);
  const client = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: stub.fetch, flushInterval: 1, context: { user_id: "u1" } });
  t.after(() => client.close()); // its timer would keep the test process alive
  await client.ready;
  client.track("purchase", 1);
  await new Promise((r) => setTimeout(r, 1000));
  const posts = stub.posts;
  // full jitter from 500 ms, doubling: a handful in a second
  assert.ok(posts >= 1 && posts <= 15, `${posts} posts in 1 s`);
});

test("browser: failed sends back off (full jitter, 500 ms doubling to 30 s), never before Retry-After; an answered batch ends the backoff", async (t) => {
  let now = 1_000_000;
  t.mock.method(Date, "now", () => now);
  t.mock.method(Math, "random", () => 0.5); // the jitter at half its range: delays of 250, 500, 1000 ms...
  let answer = offline;
  const stub = eventsStub(() => answer());
  const client = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: stub.fetch, flushInterval: 60_000, context: { user_id: "u1" } });
  t.after(() => client.close());
  await client.ready;
  client.track("purchase", 1);
  /** Flush `ms` after the last one; the posts it made (0: it waited). */
  const flushAfter = async (ms) => {
    now += ms;
    const before = stub.posts;
    await client.flush();
    return stub.posts - before;
  };
  assert.equal(await flushAfter(0), 1); // the first send fails: a backoff of 0.5 x 500 ms
  assert.equal(await flushAfter(0), 0);
  assert.equal(await flushAfter(249), 0);
  assert.equal(await flushAfter(1), 1); // then 0.5 x 1000 ms
  assert.equal(await flushAfter(499), 0);
  assert.equal(await flushAfter(1), 1); // then 0.5 x 2000 ms, and so on, up to 0.5 x 30 s
  for (let i = 0; i < 10; i++) assert.equal(await flushAfter(15_000), 1);
  assert.equal(await flushAfter(14_999), 0); // the cap
  assert.equal(await flushAfter(1), 1);

  // Retry-After beyond the backoff: nothing before it
  answer = () => new Response(null, { status: 503, headers: { "Retry-After": "60" } });
  assert.equal(await flushAfter(15_000), 1);
  assert.equal(await flushAfter(59_999), 0);
  answer = accepted;
  assert.equal(await flushAfter(1), 1);
  assert.equal(stub.accepted, 1);

  // the backoff starts again from 500 ms after a batch was answered
  answer = offline;
  client.track("purchase", 2);
  assert.equal(await flushAfter(0), 1);
  assert.equal(await flushAfter(249), 0);
  assert.equal(await flushAfter(1), 1);
  answer = accepted;
  now += 500;
  assert.equal(await client.flush(), true);
  assert.equal(stub.accepted, 2);
});

test("browser: a page hidden or closed during the backoff still tries once (events left are lost with the page); not before Retry-After", async (t) => {
  let now = 1_000_000;
  t.mock.method(Date, "now", () => now);
  t.mock.method(Math, "random", () => 0.5);
  const listeners = {};
  const g = globalThis;
  const had = Object.hasOwn(g, "addEventListener");
  const document = { visibilityState: "visible" };
  g.addEventListener = (type, fn) => (listeners[type] = fn);
  g.document = document;
  t.after(() => {
    if (!had) delete g.addEventListener;
    delete g.document;
  });
  let answer = offline;
  const stub = eventsStub(() => answer());
  const client = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: stub.fetch, flushInterval: 60_000, context: { user_id: "u1" } });
  t.after(() => client.close()); // when an assertion fails before the close() below
  await client.ready;
  client.track("purchase", 1);
  const settle = () => new Promise((r) => setTimeout(r, 10));
  await client.flush(); // fails: backoff
  assert.equal(stub.posts, 1);
  assert.equal(await client.flush(), false); // an explicit flush waits for the backoff
  assert.equal(stub.posts, 1);
  listeners.pagehide();
  await settle();
  assert.equal(stub.posts, 2); // the page goes: one try
  document.visibilityState = "hidden";
  listeners.visibilitychange();
  await settle();
  assert.equal(stub.posts, 3); // hidden (perhaps for good): one try
  // the server said when to come back: the page going away does not change that
  answer = () => new Response(null, { status: 429, headers: { "Retry-After": "30" } });
  listeners.pagehide();
  await settle();
  assert.equal(stub.posts, 4);
  listeners.pagehide();
  await settle();
  assert.equal(stub.posts, 4);
  now += 30_000;
  answer = accepted;
  await client.close(); // close() tries once too
  assert.equal(stub.posts, 5);
  assert.equal(stub.accepted, 1);
});
