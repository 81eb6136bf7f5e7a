// The browser client in a real browser: Debian's Chromium (playwright-core, no browser download) loads
// the built bundle from a page on another origin than a real `experimently serve` (SQLite, a temporary
// data directory), with a client-side key. The page gets the server's values across origins (CORS),
// never a rule; a change saved on the server reaches it by polling; identify re-evaluates; events sent
// by flush() and by the page going away (keepalive) land on the server.
//
// Needs the server (`make install`: .venv/bin/experimently, or EXPERIMENTLY_BIN) and Chromium
// (/usr/bin/chromium, or CHROMIUM); skipped without them, except under CI=true.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

const ROOT = new URL("../../../", import.meta.url).pathname;
const SERVER_BIN = process.env.EXPERIMENTLY_BIN ?? join(ROOT, ".venv/bin/experimently");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PORTS = [19500, 19549];
const ADMIN = { email: "admin@example.com", password: "admin-password-123" };
const missing = [SERVER_BIN, CHROMIUM].filter((p) => !existsSync(p));
const skip = missing.length && process.env.CI !== "true" ? `needs ${missing.join(" and ")}` : false;

async function freePort(exclude = []) {
  for (let port = PORTS[0]; port <= PORTS[1]; port++) {
    if (exclude.includes(port)) continue;
    const ok = await new Promise((resolve) => {
      const probe = createNetServer().once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${PORTS.join("-")}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function eventually(what, fn, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await fn();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

let server; // { base, child, dataDir }
let page; // { base, close }
let browser;
let token;

async function api(method, path, body, headers = { Authorization: `Bearer ${token}` }) {
  const response = await fetch(`${server.base}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function setRules(key, rules) {
  const version = (await api("GET", `/api/v1/feature-flags/${key}`)).body.data.version;
  const config = { enabled: true, rules, fallthrough: { variation: "off" }, version };
  const r = await api("PUT", `/api/v1/feature-flags/${key}/environments/production`, config);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** The server's answer for one flag (POST /sdk/evaluate) in the shape of `variationDetail`. */
const asDetail = (flagKey, v) => ({
  flagKey, value: v.value, variation: v.variation, reason: v.reason, errorCode: v.error_code,
  ruleId: null, experimentKey: v.experiment_key, experimentVariant: v.experiment_variant,
});

const DE_RULE = [{ id: "de", conditions: [{ attribute: "country", operator: "eq", values: ["DE"] }], serve: { variation: "on" } }];

before(async () => {
  if (skip) return;
  const apiPort = await freePort();
  const pagePort = await freePort([apiPort]);
  const dataDir = mkdtempSync(join(tmpdir(), "experimently-sdk-chromium-"));
  const child = spawn(SERVER_BIN, ["serve", "--host", "127.0.0.1", "--port", String(apiPort)], {
    cwd: dataDir,
    env: {
      ...process.env,
      EXPERIMENTLY_DATA_DIR: dataDir,
      EXPERIMENTLY_DATABASE_URL: "",
      EXPERIMENTLY_REDIS_URL: "",
      EXPERIMENTLY_ADMIN_EMAIL: ADMIN.email,
      EXPERIMENTLY_ADMIN_PASSWORD: ADMIN.password,
      EXPERIMENTLY_LOG_LEVEL: "WARNING",
      EXPERIMENTLY_ACCESS_LOG: "false",
      EXPERIMENTLY_SDK_CLIENT_ORIGINS: `http://127.0.0.1:${pagePort}`,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  server = { base: `http://127.0.0.1:${apiPort}`, child, dataDir };
  await eventually("the server", async () => {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    return fetch(`${server.base}/health`).then((r) => r.ok, () => false);
  }, 120_000);
  const login = await fetch(`${server.base}/api/v1/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: ADMIN.email, password: ADMIN.password }),
  });
  token = (await login.json()).access_token;

  // The page: another origin than the API, serving the built browser bundle
  const bundle = readFileSync(new URL("../dist/browser.js", import.meta.url));
  const html = `<!doctype html><title>sdk</title><script type="module">
import { BrowserClient } from "/browser.js"; window.BrowserClient = BrowserClient; window.loaded = true;
</script>`;
  const pages = createServer((req, res) => {
    if (req.url === "/browser.js") res.writeHead(200, { "Content-Type": "text/javascript" }).end(bundle);
    else if (req.url === "/") res.writeHead(200, { "Content-Type": "text/html" }).end(html);
    else res.writeHead(404).end();
  });
  await new Promise((r) => pages.listen(pagePort, "127.0.0.1", r));
  page = { base: `http://127.0.0.1:${pagePort}`, close: () => new Promise((r) => { pages.closeAllConnections(); pages.close(r); }) };

  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  await page?.close();
  if (server) {
    server.child.kill("SIGTERM");
    await new Promise((r) => (server.child.exitCode !== null ? r() : server.child.once("exit", r)));
    rmSync(server.dataDir, { recursive: true, force: true });
  }
});

test("the browser client in Chromium: server values across origins, a change by polling, events", { skip, timeout: 180_000 }, async () => {
  // Given two flags, one marked client-visible, and a key of the client kind (with track)
  for (const key of ["new-checkout", "internal-tool"]) {
    assert.equal((await api("POST", "/api/v1/feature-flags", { key, name: key, type: "boolean" })).status, 201);
    await setRules(key, DE_RULE);
  }
  const version = (await api("GET", "/api/v1/feature-flags/new-checkout")).body.data.version;
  const visible = await api("PUT", "/api/v1/feature-flags/new-checkout/client-visible", { client_visible: true, version });
  assert.equal(visible.status, 200, JSON.stringify(visible.body));
  const created = await api("POST", "/api/v1/api-keys", { name: "web", environment: "production", scopes: ["client", "track"] });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const clientKey = created.body.data.key;
  const serverValues = async (context) => {
    const { user_id, ...rest } = context;
    const r = await api("POST", "/api/v1/sdk/evaluate", { user_id, context: rest }, { "X-API-Key": clientKey });
    assert.equal(r.status, 200);
    return r.body.data.flags;
  };

  const context = await browser.newContext();
  const tab = await context.newPage();
  const answers = [];
  tab.on("response", async (response) => {
    if (response.url().endsWith("/api/v1/sdk/evaluate")) answers.push(await response.text().catch(() => ""));
  });
  await tab.goto(page.base + "/");
  await tab.waitForFunction(() => window.loaded === true);

  // When the page starts the client for a user in DE (polling every second, the shortest interval)
  const ready = await tab.evaluate(async ([base, key]) => {
    window.changes = [];
    window.client = new window.BrowserClient({ clientKey: key, baseUrl: base, context: { user_id: "u-de", country: "DE" }, pollInterval: 1000, flushInterval: 60_000 });
    window.client.onChange((keys) => window.changes.push({ keys, value: window.client.variation("new-checkout", false) }));
    return window.client.ready;
  }, [server.base, clientKey]);

  // Then it got the server's values across origins, for the visible flag only, and never a rule
  assert.equal(ready, true);
  const inPage = await tab.evaluate(() => ({ all: window.client.allFlags(), detail: window.client.variationDetail("new-checkout", false), hidden: window.client.variationDetail("internal-tool", false) }));
  assert.deepEqual(inPage.all, { "new-checkout": true });
  assert.deepEqual(inPage.detail, asDetail("new-checkout", (await serverValues({ user_id: "u-de", country: "DE" }))["new-checkout"]));
  assert.equal(inPage.hidden.errorCode, "FLAG_NOT_FOUND");
  assert.ok(answers.length >= 1);
  for (const body of answers) {
    assert.doesNotMatch(body, /"rules"|"conditions"|"segments"|internal-tool/);
  }
  const stored = await tab.evaluate(() => JSON.parse(localStorage.getItem("experimently:flags")));
  assert.deepEqual(stored.context, { user_id: "u-de", country: "DE" });

  // When the flag's rule changes on the server, Then the page sees the change by polling
  assert.deepEqual(await tab.evaluate(() => window.changes.splice(0)), [{ keys: ["new-checkout"], value: true }]);
  await setRules("new-checkout", [{ ...DE_RULE[0], serve: { variation: "off" } }]);
  const change = await eventually("the change in the page", () => tab.evaluate(() => window.changes.find((c) => c.keys.includes("new-checkout"))));
  assert.deepEqual(change, { keys: ["new-checkout"], value: false });

  // When the user changes, Then identify re-evaluates for the new context
  await setRules("new-checkout", [{ ...DE_RULE[0], conditions: [{ attribute: "country", operator: "eq", values: ["FR"] }] }]);
  const fr = await tab.evaluate(async () => [await window.client.identify({ user_id: "u-fr", country: "FR" }), window.client.variationDetail("new-checkout", false)]);
  assert.equal(fr[0], true);
  assert.deepEqual(fr[1], asDetail("new-checkout", (await serverValues({ user_id: "u-fr", country: "FR" }))["new-checkout"]));
  assert.equal(fr[1].value, true);

  // When the page tracks an event and flushes, Then it lands on the server (with the flag exposure)
  const flushed = await tab.evaluate(() => {
    window.client.track("purchase", 19.5, { sku: "a-1" });
    return window.client.flush();
  });
  assert.equal(flushed, true);
  const events = async (name, user) => (await api("GET", `/api/v1/events?name=${name}&user_id=${user}`)).body.data;
  const [purchase] = await eventually("the purchase event", async () => (await events("purchase", "u-fr")).length && events("purchase", "u-fr"));
  assert.equal(purchase.value, 19.5);
  assert.deepEqual(purchase.properties, { sku: "a-1" });
  const [exposure] = await eventually("the flag exposure", async () => (await events("flag_exposure", "u-fr")).length && events("flag_exposure", "u-fr"));
  assert.deepEqual(exposure.properties, { flag: "new-checkout", variation: "on" });

  // When the page goes away with an event still queued, Then the pagehide send (keepalive) delivers it
  await tab.evaluate(() => window.client.track("left-page", 1));
  await tab.goto("about:blank");
  const [left] = await eventually("the event sent on page hide", async () => (await events("left-page", "u-fr")).length && events("left-page", "u-fr"));
  assert.equal(left.value, 1);
  await context.close();
});
