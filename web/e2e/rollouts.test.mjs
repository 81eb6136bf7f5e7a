// End to end: guarded rollouts on the flag page and the safety settings, against a real server whose
// aggregation (and the monitor right after it) runs every 2 s. The traffic is real: server-side
// evaluations record the flag exposures, metric events go through the event API.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN, apiToken, call, checkAxe, launch, openPage, shot, signIn as signInAt, startServer } from "./harness.mjs";

const PORT = Number(process.env.E2E_PORT ?? 19410);
const FLAGS = "/api/v1/feature-flags";

let server;
let browser;
let token;
let keys;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(method, path, body) {
  const response = await call(server.base, token, method, path, body);
  assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body?.data;
}

async function withKey(key, path, body) {
  const response = await fetch(`${server.base}${path}`, {
    method: "POST",
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.ok(response.status < 300, `${path}: ${response.status}`);
  return (await response.json()).data;
}

async function waitFor(what, fn, timeout = 60_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(300);
  }
}

async function flagOn(key) {
  await api("POST", FLAGS, { key, name: key.replace(/-/g, " ") });
  await api("PUT", `${FLAGS}/${key}/environments/production`, { enabled: true, fallthrough: { variation: "off" }, version: 1 });
}

const rollout = (flag, id) => api("GET", `${FLAGS}/${flag}/guarded-rollouts/${id}`);

/** One wave of traffic: `count` new units evaluated server-side, then an error for every tenth unit
 * served the old variation and `factor` in ten of those served the new one. Waits for the monitor's
 * next check (or the end of the rollout). */
async function wave(flag, id, prefix, count, factor) {
  const before = (await rollout(flag, id)).history.length;
  const users = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const served = await withKey(keys.evaluate, `${FLAGS}/evaluate/batch`, { flag_key: flag, users: users.map((u) => ({ user_id: u })) });
  await sleep(600); // the exposures are handed to the pipeline every 0.2 s
  const events = users.filter((u, i) => i % 10 < (served.results[i].variation === "on" ? factor : 1)).map((u) => ({ name: "error", user_id: u }));
  await withKey(keys.track, "/api/v1/events/batch", { events });
  return waitFor(`a check of ${flag}`, async () => {
    const now = await rollout(flag, id);
    return now.history.length > before || now.status !== "running" ? now : null;
  });
}

const newPage = (viewport) => openPage(browser, { viewport, timeout: 20_000 });
const signIn = (page) => signInAt(page, server.base);

/** The flag page's production tab, scrolled to the guarded rollout. */
async function openRollout(page, flag, state) {
  await page.goto(`${server.base}/flags/${flag}?env=production`);
  const card = page.getByTestId("guarded-rollout");
  await page.locator(`[data-testid='guarded-rollout'][data-state='${state}']`).waitFor();
  await page.getByRole("heading", { name: "Guarded rollout", exact: true }).evaluate((el) => el.scrollIntoView({ block: "start" }));
  return card;
}

describe("guarded rollouts in the console", { concurrency: false }, () => {
  before(async () => {
    server = await startServer(PORT, { EXPERIMENTLY_AGGREGATION_INTERVAL_SECONDS: "2", EXPERIMENTLY_JOB_INTERVAL_SECONDS: "1" });
    browser = await launch();
    token = await apiToken(server.base, ADMIN.email, ADMIN.password);
    await api("POST", "/api/v1/metrics", { key: "errors", name: "Errors", kind: "count", event_name: "error", direction: "lower" });
    keys = {};
    for (const scope of ["evaluate", "track"]) {
      keys[scope] = (await api("POST", "/api/v1/api-keys", { name: scope, environment: "production", scopes: [scope] })).key;
    }
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("the flag-off refusal goes once the flag is turned on", async () => {
    const flag = "banner-off";
    await api("POST", FLAGS, { key: flag, name: "banner off" });
    const page = await newPage({ width: 1280, height: 1000 });
    await signIn(page);
    await page.goto(`${server.base}/flags/${flag}?env=production`);
    await page.getByText("Start a guarded rollout").click();
    const form = page.getByRole("form", { name: "Start a guarded rollout in production" });
    await form.getByRole("button", { name: "Start guarded rollout" }).click();
    await form.getByText("the flag is off here: turn it on first").waitFor();
    await page.getByRole("switch", { name: "Serve targeting in production" }).click();
    await page.getByRole("dialog", { name: "Turn on in production?" }).getByRole("button", { name: "Turn on now" }).click();
    await page.getByText("On", { exact: true }).waitFor();
    await form.getByText("the flag is off here: turn it on first").waitFor({ state: "detached" });
    await page.context().close();
  });

  test("a harmful rollout is rolled back by itself; the page shows the chart, the breach and why", async () => {
    const flag = "checkout";
    await flagOn(flag);
    const page = await newPage({ width: 1280, height: 1000 });
    await signIn(page);
    // in the console: the flag's own safety settings (a small minimum sample), then the rollout itself
    await page.goto(`${server.base}/flags/${flag}?env=production`);
    const override = page.getByRole("form", { name: `Safety settings of ${flag} in production` });
    await override.getByLabel("Minimum units per group").fill("20");
    await override.getByRole("button", { name: "Save safety settings" }).click();
    await override.getByText("Saved (version 1)").waitFor();
    await page.getByText("Start a guarded rollout").click();
    const form = page.getByRole("form", { name: "Start a guarded rollout in production" });
    await form.getByLabel("New variation").selectOption("on");
    await form.getByLabel("Percentage now").fill("50");
    await form.getByLabel("Guardrail metrics").fill("errors");
    await checkAxe(page, "flag page (start a guarded rollout)");
    await form.getByRole("button", { name: "Start guarded rollout" }).click();
    await page.locator("[data-testid='guarded-rollout'][data-state='running']").waitFor();
    const [started] = await api("GET", `${FLAGS}/${flag}/guarded-rollouts`);
    assert.deepEqual([started.percentage, started.min_units, started.guardrail_metrics], [50, 20, ["errors"]]);
    let state = started;
    for (let i = 0; i < 16 && state.status === "running"; i++) state = await wave(flag, started.id, `c${i}`, 60, 3);
    assert.equal(state.status, "rolled_back", "the tripled error rate is caught within 16 waves");
    assert.match(state.outcome, /guardrail 'errors' is significantly worse with 'on'/);

    const card = await openRollout(page, flag, "rolled_back");
    const reason = card.getByTestId("rollback-reason");
    assert.match(await reason.innerText(), /Rolled back automatically[\s\S]*guardrail 'errors' is significantly worse/);
    await card.getByTestId("guardrail-chart-errors").locator("canvas").waitFor();
    assert.match(await card.getByTestId("breaches").innerText(), /Guardrail errors at step 1: rolled back/);
    assert.equal(await card.getByRole("progressbar").getAttribute("aria-valuenow"), "50");
    // the flag itself serves the old variation again
    const now = await api("GET", `${FLAGS}/${flag}`);
    assert.deepEqual(now.environments.production.fallthrough, { variation: "off" });
    await checkAxe(page, "flag page (rolled back)");
    await shot(page, "rollout-rolled-back");
    // the relative lift, on demand
    await card.getByText(/latest difference \+/).waitFor();
    await card.getByLabel("Chart shows").selectOption("relative");
    await card.getByText(/latest lift \+/).waitFor();
    await page.context().close();
  });

  test("a scheduled rollout in progress: steps, time to the next step, the guardrail band", async () => {
    const flag = "search-ranking";
    await flagOn(flag);
    const t = Date.now();
    const steps = [
      { at: new Date(t + 1000).toISOString(), percentage: 20 },
      { at: new Date(t + 2 * 3600_000).toISOString(), percentage: 50 },
      { at: new Date(t + 6 * 3600_000).toISOString(), percentage: 100 },
    ];
    const started = await api("POST", `${FLAGS}/${flag}/guarded-rollouts`, { environment: "production", variation: "on", steps, guardrail_metrics: ["errors"], min_units: 40 });
    await waitFor("the first step", async () => (await rollout(flag, started.id)).step === 1);
    for (let i = 0; i < 4; i++) await wave(flag, started.id, `s${i}`, 250, 1);
    const state = await rollout(flag, started.id);
    assert.equal(state.status, "running");
    assert.ok(state.history.length >= 3);

    const page = await newPage({ width: 1280, height: 1000 });
    await signIn(page);
    const card = await openRollout(page, flag, "running");
    assert.match(await card.getByTestId("next-step").innerText(), /^Next step: 50% in 1 h 59 min|^Next step: 50% in 2 h/);
    const list = card.getByRole("list", { name: "Steps" });
    assert.equal(await list.getByRole("listitem").count(), 3);
    assert.match(await list.getByRole("listitem").first().innerText(), /20% · applied/);
    await card.getByTestId("guardrail-chart-errors").locator("canvas").waitFor();
    await checkAxe(page, "flag page (rollout running)");
    await shot(page, "rollout-progress");
    // the schedule the rollout moves says whose it is, and is stopped through the rollout only
    const schedules = page.locator("section").filter({ has: page.getByRole("heading", { name: "Rollout schedules" }) });
    await schedules.getByText("guarded rollout", { exact: true }).waitFor();
    await schedules.getByText("Moved by the guarded rollout above: cancel the rollout to stop it.").waitFor();
    assert.equal(await schedules.getByRole("button", { name: "Cancel schedule" }).count(), 0);
    await schedules.evaluate((el) => el.scrollIntoView({ block: "start" }));
    await shot(page, "rollout-schedule-owned");
    await page.context().close();
  });

  test("a step with no traffic is held, and the page says so", async () => {
    const flag = "quiet-banner";
    await flagOn(flag);
    const t = Date.now();
    const steps = [
      { at: new Date(t + 500).toISOString(), percentage: 10 },
      { at: new Date(t + 2500).toISOString(), percentage: 100 },
    ];
    const started = await api("POST", `${FLAGS}/${flag}/guarded-rollouts`, { environment: "production", variation: "on", steps, guardrail_metrics: ["errors"] });
    const held = await waitFor("the hold", async () => {
      const now = await rollout(flag, started.id);
      return now.hold === "waiting_for_traffic" ? now : null;
    });
    assert.equal(held.percentage, 10);
    const page = await newPage();
    await signIn(page);
    const card = await openRollout(page, flag, "held");
    await card.getByText("held for traffic", { exact: true }).first().waitFor();
    assert.match(await card.getByTestId("next-step").innerText(), /^Held for traffic.*the step to 100% waits until each group has 100 units/);
    await checkAxe(page, "flag page (held)");
    await page.context().close();
  });

  test("an environment's safety settings: the 422 at its field, then saved; the flag shows its override", async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/admin/environments`);
    await page.getByRole("link", { name: "Safety settings of Production" }).click();
    await page.getByRole("heading", { name: "Safety settings: Production", level: 1 }).waitFor();
    await page.getByLabel("Guardrail metrics").fill("errors");
    await page.getByLabel("On a breach").selectOption("pause");
    await page.getByLabel("Maximum wait for traffic (seconds)").fill("5");
    await page.getByRole("button", { name: "Save safety settings" }).click();
    const error = page.locator("[data-field-error]").first();
    await error.waitFor();
    assert.match(await error.innerText(), /greater than or equal to 60/);
    await page.getByLabel("Maximum wait for traffic (seconds)").fill("86400");
    await page.getByLabel("Minimum units per group").fill("200");
    await page.getByRole("button", { name: "Save safety settings" }).click();
    await page.getByText("Saved (version 1)").waitFor();
    const saved = await api("GET", "/api/v1/environments/production/safety-settings");
    assert.deepEqual([saved.guardrail_metrics, saved.action, saved.min_units, saved.max_wait_seconds], [["errors"], "pause", 200, 86400]);
    await page.getByText("= 24 h, then the rollout pauses").waitFor();
    await checkAxe(page, "safety settings");
    await shot(page, "safety-settings");

    // the flag page shows its override, with the environment's values as what an empty field inherits
    await page.goto(`${server.base}/flags/search-ranking?env=production`);
    const override = page.getByRole("form", { name: "Safety settings of search-ranking in production" });
    await override.waitFor();
    assert.equal(await override.getByLabel("Minimum units per group").getAttribute("placeholder"), "200");
    await override.getByLabel("Alpha (false-rollback budget)").fill("0.01");
    await override.getByRole("button", { name: "Save safety settings" }).click();
    await override.getByText("Saved (version 1)").waitFor();
    assert.equal((await api("GET", `${FLAGS}/search-ranking/environments/production/safety-settings`)).alpha, 0.01);
    await page.context().close();

    // a viewer reads the settings but cannot change them
    await api("POST", "/api/v1/users", { email: "viewer@example.com", role: "viewer", password: "viewer-password-123" });
    const viewer = await newPage();
    await viewer.goto(`${server.base}/admin/environments/production/safety`);
    await viewer.getByLabel("Email").fill("viewer@example.com");
    await viewer.getByLabel("Password").fill("viewer-password-123");
    await viewer.getByRole("button", { name: "Sign in" }).click();
    await viewer.getByTestId("safety-read-only").waitFor();
    assert.equal(await viewer.getByRole("button", { name: "Save safety settings" }).count(), 0);
    assert.equal(await viewer.getByLabel("Guardrail metrics").isDisabled(), true);
    await viewer.context().close();
  });
});
