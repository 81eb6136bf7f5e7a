// Events of both clients against a fake receiver (a `fetch` standing in for the server: the outside
// world of this unit): exposure ids within the server's 128 characters, exposures of units the server
// would refuse, events that could never be sent (refused at `track`, never blocking the queue), and
// batches bounded by encoded size and split in halves on a 413.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BrowserClient } from "../dist/browser.js";
import { ExperimentationClient, exposureId } from "../dist/index.js";

// The same vectors (inputs and expected ids) as sdk/python/tests/test_sdk_client_events.py: both SDKs
// and the server make the same id for an exposure, so it is stored once whoever sends it.
const EXPOSURE_IDS = [
  ["checkout", "user-42", "exposure:checkout:user-42"],
  ["exp", "u".repeat(115), "exposure:exp:" + "u".repeat(115)], // exactly 128 code points: as it is
  ["exp", "u".repeat(116), "exposure:551eb1ff17c2f096ccc6819dca6423640ab8a08cca473bb5"], // 129: hashed
  ["exp", "\u{1F600}".repeat(115), "exposure:exp:" + "\u{1F600}".repeat(115)], // 128 code points (243 UTF-16 units)
  ["café", "\u{1F600}".repeat(120), "exposure:f2cb904e328d620ccd3e1f8c070ed6c2c2fbbd78f9e9e754"], // UTF-8 hashed
];

const FLAG = {
  key: "f", type: "boolean", version: 1, salt: "f", enabled: true, off_variation: "off",
  variations: [{ key: "on", value: true }, { key: "off", value: false }],
  targets: [], rules: [], prerequisites: [], fallthrough: { variation: "on" },
};
const EXPERIMENT = { key: "exp", salt: "exp", status: "running", variants: [{ key: "control", weight: 50 }, { key: "treatment", weight: 50 }] };
const LONG_KEY = "e".repeat(100); // the longest experiment key the server takes
const PAYLOAD = { flags: [FLAG], segments: [], experiments: [EXPERIMENT, { ...EXPERIMENT, key: LONG_KEY, salt: LONG_KEY }] };

/**
 * The server as the clients meet it: `GET /sdk/flags` answers PAYLOAD (no stream); `POST /events/batch`
 * answers 413 to a body over `maxBody` bytes (EXPERIMENTLY_MAX_BODY_BYTES), else 202, parses the JSON
 * strictly (NaN would not parse) and records what it accepted.
 */
function receiver(maxBody = 2 * 1024 * 1024) {
  const state = { accepted: [], answers: [] }; // answers: [events in the request, status]
  state.fetch = async (url, init) => {
    const path = new URL(String(url)).pathname;
    if (path === "/api/v1/sdk/flags") return new Response(JSON.stringify({ data: PAYLOAD }), { status: 200, headers: { ETag: '"v1"', "Content-Type": "application/json" } });
    if (path !== "/api/v1/events/batch") return new Response(null, { status: 404 });
    const events = JSON.parse(init.body).events;
    if (Buffer.byteLength(init.body) > maxBody) {
      state.answers.push([events.length, 413]);
      const error = { code: "PAYLOAD_TOO_LARGE", message: "request body too large" };
      return new Response(JSON.stringify({ error }), { status: 413, headers: { "Content-Type": "application/json" } });
    }
    state.answers.push([events.length, 202]);
    state.accepted.push(...events);
    return new Response(JSON.stringify({ data: { accepted: events.length, rejected: [] } }), { status: 202 });
  };
  return state;
}

function logger() {
  const lines = { warn: [], error: [] };
  return { lines, debug() {}, info() {}, warn: (m) => lines.warn.push(m), error: (m) => lines.error.push(m) };
}

function nodeClient(fake, log, options = {}) {
  return new ExperimentationClient({ apiKey: "k", baseUrl: "http://experimently.test", stream: false, pollInterval: 60_000, flushInterval: 60_000, fetch: fake.fetch, logger: log, ...options });
}

const big = (i) => ({ i, blob: "x".repeat(8000) }); // about the server's 8 KiB limit of properties

// ----- exposure ids -------------------------------------------------------------------------------

test("exposure ids: the vectors shared with the Python SDK", () => {
  for (const [experimentKey, unit, expected] of EXPOSURE_IDS) {
    assert.equal(exposureId(experimentKey, unit), expected);
    assert.ok([...expected].length <= 128);
  }
});

test("Node: a long experiment key and unit: the exposure is sent with the hashed id", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  const unit = "u".repeat(150); // with a key of 100: an id of 260 characters as it is
  const variant = await client.getVariant(LONG_KEY, unit);
  assert.ok(variant !== null);
  assert.equal(await client.flush(5000), true);
  assert.deepEqual(fake.accepted.map((e) => [e.event_id, e.name, e.user_id, e.variant]), [[exposureId(LONG_KEY, unit), "exposure", unit, variant]]);
  assert.equal(fake.accepted[0].event_id.length, 57);
  assert.equal(client.droppedEvents, 0);
  await client.close();
});

test("Node: a unit over 200 characters is in no experiment; its flag exposures are not queued, counted, warned once", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  for (const unit of ["a".repeat(201), "b".repeat(201)]) {
    assert.equal(await client.getVariant("exp", unit), null); // the server leaves such a unit out too
    assert.equal(await client.isFeatureEnabled("f", unit), true); // a flag answers; its exposure is dropped
  }
  await client.isFeatureEnabled("f", "a".repeat(201)); // a repeat: deduplicated, not counted again
  assert.notEqual(await client.getVariant("exp", "\u{1F600}".repeat(200)), null); // 200 code points (400 UTF-16 units)
  assert.equal(await client.flush(5000), true);
  assert.equal(client.droppedEvents, 2);
  assert.deepEqual(fake.accepted.map((e) => e.user_id), ["\u{1F600}".repeat(200)]);
  assert.equal(log.lines.warn.length, 1);
  assert.match(log.lines.warn[0], /unit of 201 characters is in no experiment \(exp\): the server stores at most 200/);
  await client.close();
});

// ----- events that could never be sent --------------------------------------------------------------

function cycle() {
  const loop = { name: "loop" };
  loop.self = loop;
  return loop;
}

const INVALID = [
  [NaN, undefined, /value must be a finite number, not NaN/],
  [Infinity, undefined, /value must be a finite number, not Infinity/],
  ["9.5", undefined, /value must be a number, not string/],
  [undefined, { price: NaN }, /properties are not plain JSON \(NaN is not a JSON number\)/],
  [undefined, { nested: [{ ratio: -Infinity }] }, /properties are not plain JSON \(-Infinity is not a JSON number\)/],
  [undefined, cycle(), /properties are not plain JSON \(Converting circular structure to JSON/],
  [undefined, { id: 10n }, /properties are not plain JSON \(Do not know how to serialize a BigInt\)/],
  [undefined, ["not", "an", "object"], /properties must be an object, not an array/],
];

test("Node: an event that could never be sent is not queued, warned with its name and reason, and later events still go", async () => {
  for (const [value, properties, reason] of INVALID) {
    const fake = receiver();
    const log = logger();
    const client = nodeClient(fake, log);
    client.track("checkout", "u1", value, properties); // never throws
    assert.equal(client.droppedEvents, 1, String(reason));
    client.track("purchase", "u1", 9.5, { sku: "a" });
    assert.equal(await client.flush(5000), true);
    assert.deepEqual(fake.accepted.map((e) => [e.name, e.value, e.properties]), [["purchase", 9.5, { sku: "a" }]]);
    assert.equal(log.lines.warn.length, 1);
    assert.match(log.lines.warn[0], /^experimently: event 'checkout' not sent: /);
    assert.match(log.lines.warn[0], reason);
    await client.close();
  }
});

test("Node: a full queue drops new events, warns at once (not per event), and the next flush says events were lost", async () => {
  const fake = receiver();
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const slow = { fetch: async (url, init) => (String(url).includes("/events/batch") ? gate.then(() => fake.fetch(url, init)) : fake.fetch(url, init)) };
  const log = logger();
  const client = nodeClient(slow, log, { eventCapacity: 5, eventBatchSize: 1, flushInterval: 10 });
  client.track("first", "u0");
  await new Promise((resolve) => setTimeout(resolve, 50)); // the sender took it and hangs on the server
  for (let i = 0; i < 8; i++) client.track("e", `u${i}`);
  assert.equal(client.droppedEvents, 4); // the batch in flight stays at the head of the queue until accepted
  const full = log.lines.warn.filter((line) => line.includes("event queue is full"));
  assert.equal(full.length, 1, JSON.stringify(log.lines.warn));
  assert.match(full[0], /\(5 events\): 1 events dropped so far/);
  release();
  assert.equal(await client.flush(5000), false); // four queued events were lost since the last flush
  client.track("later", "u1");
  assert.equal(await client.flush(5000), true); // nothing lost since
  assert.equal(fake.accepted.length, 1 + 4 + 1);
  await client.close();
});

test("Node: invalid events are warned once per event name, every one counted; a later change of properties is not sent", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  for (let i = 0; i < 50; i++) client.track("checkout", "u1", NaN);
  client.track("signup", "u1", undefined, { id: 1n });
  assert.equal(client.droppedEvents, 51);
  assert.equal(log.lines.warn.length, 2);
  // the event is encoded when queued: changing its properties afterwards cannot block the queue
  const properties = { sku: "a" };
  client.track("later", "u1", 1, properties);
  properties.price = NaN;
  assert.equal(await client.flush(5000), true);
  assert.deepEqual(fake.accepted.map((e) => [e.name, e.properties]), [["later", { sku: "a" }]]);
  await client.close();
});

test("Node: an event without a user (null, undefined, empty, not a string or finite number) is refused like an invalid one", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  const bad = [null, undefined, "", NaN, Infinity, {}, true];
  for (const userId of bad) client.track("checkout", userId, 1); // never throws
  assert.equal(client.droppedEvents, bad.length);
  assert.deepEqual(log.lines.warn, ["experimently: event 'checkout' not sent: user_id must be a non-empty string or a finite number, not null (said once per event name)"]);
  client.track("signup", undefined);
  assert.match(log.lines.warn[1], /^experimently: event 'signup' not sent: user_id must be a non-empty string or a finite number, not undefined/);
  client.track("checkout", "u1", 1);
  client.track("checkout", 42, 2);
  assert.equal(await client.flush(5000), true); // as for other invalid events: refused at track, not lost in sending
  assert.deepEqual(fake.accepted.map((e) => [e.name, e.user_id, e.value]), [["checkout", "u1", 1], ["checkout", "42", 2]]);
  await client.isFeatureEnabled("f", ""); // a flag's exposure needs a user too
  assert.equal(await client.flush(5000), true);
  assert.equal(fake.accepted.length, 2);
  await client.close();
});

test("Node: an event name the server refuses (not a string of 1 to 100 characters) or a user_id over 200: refused at track", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  for (const name of [null, "", 123, "x".repeat(300), "x".repeat(101)]) client.track(name, "u1"); // never throws
  client.track("checkout", "u".repeat(201));
  client.track("checkout", "u".repeat(202));
  assert.equal(client.droppedEvents, 7);
  assert.deepEqual(log.lines.warn, [
    "experimently: event 'null' not sent: the event name must be a string, not null (said once per event name)",
    "experimently: event '' not sent: the event name is empty (said once per event name)",
    "experimently: event '123' not sent: the event name must be a string, not 123 (said once per event name)",
    `experimently: event '${"x".repeat(100)}…' not sent: the event name is longer than the server takes (100 characters) (said once per event name)`,
    "experimently: event 'checkout' not sent: user_id is longer than the server takes (200 characters) (said once per event name)",
  ]);
  // at the limits, counted in code points as the server counts them: sent
  client.track("n".repeat(100), "u".repeat(200));
  client.track("\u{1F600}".repeat(100), "\u{1F600}".repeat(200));
  assert.equal(await client.flush(5000), true); // refused at track, not lost in sending
  assert.deepEqual(fake.accepted.map((e) => [[...e.name].length, [...e.user_id].length]), [[100, 200], [100, 200]]);
  await client.close();
});

test("Node: events after close() are not sent: counted, said once, and flush answers false at once", async () => {
  const fake = receiver();
  const log = logger();
  const client = nodeClient(fake, log);
  client.track("before", "u1");
  await client.close();
  assert.deepEqual(fake.accepted.map((e) => e.name), ["before"]);
  assert.equal(await client.flush(60_000), true); // nothing lost yet
  for (let i = 0; i < 3; i++) client.track("late", "u1");
  assert.equal(client.droppedEvents, 3);
  assert.deepEqual(log.lines.warn, ["experimently: client is closed: events tracked after close() are not sent (said once; each is counted in droppedEvents)"]);
  const t = Date.now();
  assert.equal(await client.flush(60_000), false);
  assert.ok(Date.now() - t < 1000, `${Date.now() - t} ms`);
  assert.equal(await client.flush(60_000), true); // nothing lost since that answer
  assert.deepEqual(fake.accepted.map((e) => e.name), ["before"]);
});

// ----- batches bounded by encoded size, 413 split ---------------------------------------------------

test("Node: batches are bounded by encoded size: a full batch of large events is not refused by the default body limit", async () => {
  const fake = receiver(); // the server's default, 2 MiB
  const client = nodeClient(fake, logger());
  for (let i = 0; i < 500; i++) client.track("big", `u${i}`, undefined, big(i)); // about 4 MB in one batch of 500
  assert.equal(await client.flush(10_000), true);
  assert.equal(client.droppedEvents, 0);
  assert.ok(fake.answers.length >= 4 && fake.answers.every(([, status]) => status === 202), JSON.stringify(fake.answers));
  assert.deepEqual(fake.accepted.map((e) => e.properties.i).sort((a, b) => a - b), [...Array(500).keys()]);
  await client.close();
});

test("Node: a batch answered 413 is sent again in halves until accepted: nothing lost", async () => {
  const fake = receiver(64 * 1024); // EXPERIMENTLY_MAX_BODY_BYTES set low
  const client = nodeClient(fake, logger());
  for (let i = 0; i < 100; i++) client.track("big", `u${i}`, undefined, big(i));
  assert.equal(await client.flush(10_000), true);
  assert.equal(client.droppedEvents, 0);
  assert.ok(fake.answers.some(([, status]) => status === 413));
  fake.answers.forEach(([count, status], i) => {
    if (status === 413) assert.equal(fake.answers[i + 1][0], Math.ceil(count / 2)); // then its first half
  });
  assert.deepEqual(fake.accepted.map((e) => e.properties.i), [...Array(100).keys()]); // in order
  assert.equal(new Set(fake.accepted.map((e) => e.event_id)).size, 100);
  await client.close();
});

test("Node: one event refused alone as too large is dropped, counted and logged; the rest is sent", async () => {
  const fake = receiver(16 * 1024);
  const log = logger();
  const client = nodeClient(fake, log);
  client.track("small", "u1", 1);
  client.track("huge", "u2", undefined, { blob: "x".repeat(20_000) });
  client.track("small", "u3", 2);
  assert.equal(await client.flush(10_000), false); // the server refused one
  assert.equal(client.droppedEvents, 1);
  client.track("small", "u4");
  assert.equal(await client.flush(10_000), true);
  assert.deepEqual(fake.accepted.map((e) => e.user_id), ["u1", "u3", "u4"]);
  assert.match(log.lines.error.join("\n"), /an event of \d+ bytes refused as too large \(413\); dropped/);
  await client.close();
});

// ----- the browser client ---------------------------------------------------------------------------

/** The browser's server: values for /sdk/evaluate (one flag), events as `receiver` takes them. */
function browserReceiver(maxBody) {
  const fake = receiver(maxBody);
  const events = fake.fetch;
  fake.fetch = async (url, init) => {
    if (String(url).endsWith("/api/v1/sdk/evaluate")) {
      const flags = { f: { value: true, variation: "on", reason: "STATIC", error_code: null, experiment_key: null, experiment_variant: null } };
      return new Response(JSON.stringify({ data: { user_id: JSON.parse(init.body).user_id, flags } }), { status: 200, headers: { "Content-Type": "application/json" } });
    }
    return events(url, init);
  };
  return fake;
}

function browserClient(fake, userId = "u1") {
  return new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: fake.fetch, flushInterval: 60_000, context: { user_id: userId } });
}

test("browser: an event that could never be sent is not queued, warned once per name; later events still go", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver();
  const client = browserClient(fake);
  await client.ready;
  for (const [value, properties] of INVALID) client.track("checkout", value, properties); // never throws
  client.track("signup", undefined, cycle());
  assert.equal(client.dropped, INVALID.length + 1);
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0].match(/event '(\w+)' not sent/)[1]), ["checkout", "signup"]);
  assert.match(warnings.mock.calls[0].arguments[0], /value must be a finite number, not NaN/);
  client.track("purchase", 9.5, { sku: "a" });
  assert.equal(await client.flush(), true);
  assert.deepEqual(fake.accepted.map((e) => [e.name, e.value, e.properties]), [["purchase", 9.5, { sku: "a" }]]);
  await client.close();
});

test("browser: an event while the context has no user_id is refused: counted in dropped, warned once per name", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver();
  const client = new BrowserClient({ clientKey: "ck", baseUrl: "http://experimently.test", storage: null, fetch: fake.fetch, flushInterval: 60_000, context: { country: "DE" } });
  await client.ready;
  client.track("checkout", 1);
  client.track("checkout", 2);
  await client.identify({ user_id: "" });
  client.track("signup");
  assert.equal(client.dropped, 3);
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), [
    "experimently: event 'checkout' not sent: the context's user_id must be a non-empty string or a finite number, not undefined (said once per event name)",
    "experimently: event 'signup' not sent: the context's user_id must be a non-empty string or a finite number, not an empty string (said once per event name)",
  ]);
  assert.equal(client.isEnabled("f"), true); // a flag answers; no exposure without a user
  await client.identify({ user_id: 7 });
  client.track("checkout", 3);
  assert.equal(await client.flush(), true);
  assert.deepEqual(fake.accepted.map((e) => [e.name, e.user_id, e.value]), [["checkout", "7", 3]]);
  await client.close();
});

test("browser: an event name the server refuses or a user_id over 200 characters is refused at track, warned once per name", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver();
  const client = browserClient(fake);
  await client.ready;
  for (const name of [null, "", 123, "x".repeat(300), "x".repeat(101)]) client.track(name); // never throws
  await client.identify({ user_id: "u".repeat(201) });
  client.track("checkout");
  assert.equal(client.dropped, 6);
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), [
    "experimently: event 'null' not sent: the event name must be a string, not null (said once per event name)",
    "experimently: event '' not sent: the event name is empty (said once per event name)",
    "experimently: event '123' not sent: the event name must be a string, not 123 (said once per event name)",
    `experimently: event '${"x".repeat(100)}…' not sent: the event name is longer than the server takes (100 characters) (said once per event name)`,
    "experimently: event 'checkout' not sent: the context's user_id is longer than the server takes (200 characters) (said once per event name)",
  ]);
  await client.identify({ user_id: "\u{1F600}".repeat(200) }); // 200 code points (400 UTF-16 units)
  client.track("\u{1F600}".repeat(100));
  assert.equal(await client.flush(), true);
  assert.deepEqual(fake.accepted.filter((e) => e.name !== "flag_exposure").map((e) => [[...e.name].length, [...e.user_id].length]), [[100, 200]]);
  await client.close();
});

test("browser: events refused one by one in an accepted batch are counted, named in a warning, and flush says so", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver();
  const events = fake.fetch;
  fake.fetch = async (url, init) => {
    if (!String(url).endsWith("/events/batch")) return events(url, init);
    const sent = JSON.parse(init.body).events;
    const rejected = sent.flatMap((e, index) => (e.name === "purchase" ? [{ index, path: "value", reason: "must be a finite number" }] : []));
    return new Response(JSON.stringify({ data: { accepted: sent.length - rejected.length, rejected } }), { status: 202 });
  };
  const client = browserClient(fake);
  await client.ready;
  client.track("ok");
  client.track("purchase", 1);
  assert.equal(await client.flush(), false);
  assert.equal(client.dropped, 1);
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), ["experimently: the server refused 1 events: 'purchase': value must be a finite number"]);
  client.track("ok");
  assert.equal(await client.flush(), true);
  await client.close();
});

test("browser: a baseUrl ending in /api/v1 is cut to the root (said once); the client key is trimmed, a missing one means no network", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const errors = t.mock.method(console, "error", () => undefined);
  const fake = browserReceiver();
  const urls = [];
  const keys = [];
  const fetch = (url, init) => (urls.push(String(url)), keys.push(init.headers["X-API-Key"]), fake.fetch(url, init));
  const client = new BrowserClient({ clientKey: " ck\n", baseUrl: "http://experimently.test/api/v1/", storage: null, fetch, flushInterval: 60_000, context: { user_id: "u1" } });
  assert.equal(await client.ready, true);
  assert.deepEqual(urls, ["http://experimently.test/api/v1/sdk/evaluate"]);
  assert.deepEqual(keys, ["ck"]);
  assert.deepEqual(warnings.mock.calls.map((c) => c.arguments[0]), ["experimently: baseUrl should be the server's root, without /api/v1: using 'http://experimently.test'"]);
  await client.close();

  for (const clientKey of ["", "ck\nsecret"]) {
    urls.length = 0;
    errors.mock.resetCalls();
    const none = new BrowserClient({ clientKey, baseUrl: "http://experimently.test", storage: null, fetch, flushInterval: 60_000, context: { user_id: "u1" } });
    assert.equal(await none.ready, false);
    assert.equal(none.variation("f", "dflt"), "dflt");
    none.track("purchase");
    assert.equal(await none.flush(), true);
    await none.close();
    assert.deepEqual(urls, []);
    assert.equal(errors.mock.calls.length, 1);
    assert.ok(!errors.mock.calls[0].arguments[0].includes("secret"));
  }
});

test("browser: batches bounded by encoded size, a 413 split in halves, one event too large alone dropped", async (t) => {
  t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver(32 * 1024);
  const client = browserClient(fake);
  await client.ready;
  for (let i = 0; i < 30; i++) client.track("big", undefined, big(i)); // 240 KB
  client.track("huge", undefined, { blob: "x".repeat(40_000) }); // alone, over the receiver's limit
  client.track("small", 1);
  assert.equal(await client.flush(), false); // the server refused one
  assert.equal(client.dropped, 1);
  assert.ok(fake.answers.some(([, status]) => status === 413));
  assert.deepEqual(fake.accepted.map((e) => e.name), [...Array(30).fill("big"), "small"]);
  client.track("later");
  assert.equal(await client.flush(), true);
  await client.close();
});

test("browser: flag exposures of a user_id over 200 characters are not queued, counted, warned once", async (t) => {
  const warnings = t.mock.method(console, "warn", () => undefined);
  const fake = browserReceiver();
  const client = browserClient(fake, "a".repeat(201));
  await client.ready;
  assert.equal(client.isEnabled("f"), true);
  await client.identify({ user_id: "b".repeat(201) });
  assert.equal(client.isEnabled("f"), true);
  assert.equal(client.dropped, 2);
  assert.equal(warnings.mock.calls.length, 1);
  assert.equal(await client.flush(), true);
  assert.deepEqual(fake.accepted, []);
  await client.close();
});

// ----- one shape of variationDetail -----------------------------------------------------------------

test("variationDetail: the browser client and the Node client give the same shape for the same flag", async () => {
  const fake = browserReceiver();
  const node = new ExperimentationClient({ apiKey: "k", offline: true, bootstrap: PAYLOAD, logger: logger() });
  const browser = browserClient(fake);
  await browser.ready;
  for (const [flag, fallback] of [["f", false], ["missing", "dflt"], ["f", "wrong type"]]) {
    const fromNode = await node.variationDetail(flag, "u1", {}, fallback);
    const fromBrowser = browser.variationDetail(flag, fallback);
    assert.deepEqual(Object.keys(fromBrowser).sort(), Object.keys(fromNode).sort());
    assert.deepEqual(fromBrowser, fromNode, `${flag} with ${fallback}`);
  }
  assert.deepEqual(Object.keys(browser.variationDetail("f")).sort(), ["errorCode", "experimentKey", "experimentVariant", "flagKey", "reason", "ruleId", "value", "variation"]);
  await node.close();
  await browser.close();
});
