// End to end: the results page of an experiment in Chromium against a real server. Metrics and
// experiments are created through the API (the wizard has its own test), 2,000 simulated users are
// assigned and convert with a real lift, "Refresh now" aggregates (the periodic run is an hour away),
// and every number on the page is compared with the API's answer for the same settings.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import AxeBuilder from "@axe-core/playwright";
import { ADMIN, apiToken, call, launch, startServer } from "./harness.mjs";

const PORT = Number(process.env.E2E_RESULTS_PORT ?? 19310);
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, "../../docs/img/console")
  : resolve(import.meta.dirname, "../test-results/screenshots");
mkdirSync(SHOTS, { recursive: true });

const EXP = "checkout-button";
const GUARDED = "search-ranking";
const USERS = 2000;
const DAYS = 7;
const HOUR = 3600_000;

let server;
let browser;
let token;
let apiKey;
const problems = [];

async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, reducedMotion: "reduce", acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  // a script error or a style the Content-Security-Policy refuses (uPlot styles its canvas from script)
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused/i.test(message.text())) problems.push(message.text());
  });
  return page;
}

async function signIn(page, path) {
  await page.goto(`${server.base}${path}`);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("main#main").waitFor();
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

async function checkAxe(page, where) {
  await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`),
    [],
    `axe on ${where}`,
  );
}

async function ok(response, status = [200, 201, 202]) {
  const r = await response;
  assert.ok(status.includes(r.status), `${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A seeded generator (mulberry32): the simulated users behave the same on every run. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A metric, with the value format when the server knows that field (older servers refuse it). */
async function metric(body, format) {
  const withFormat = await call(server.base, token, "POST", "/api/v1/metrics", { ...body, format });
  if (withFormat.status === 201) return;
  await ok(call(server.base, token, "POST", "/api/v1/metrics", body), [201]);
}

/** The experiment "started" `days` ago: the API cannot backdate a start, so the test moves the clock
 * of this one row in the embedded database (the server reads it from there on every aggregation run),
 * letting the simulated users arrive over a week and the lift-over-time chart have a week to draw. */
function backdateStart(key, days) {
  const script = `
import sqlite3, sys
from datetime import datetime, timedelta
con = sqlite3.connect(sys.argv[1], timeout=30)
(value,) = con.execute("SELECT started_at FROM experiments WHERE key = ?", (sys.argv[2],)).fetchone()
moved = datetime.fromisoformat(str(value)) - timedelta(days=int(sys.argv[3]))
con.execute("UPDATE experiments SET started_at = ? WHERE key = ?", (moved.isoformat(sep=" "), sys.argv[2]))
con.commit()
`;
  execFileSync("python3", ["-c", script, join(server.dataDir, "experimently.db"), key, String(days)]);
}

async function track(events) {
  for (let i = 0; i < events.length; i += 1000) {
    const body = await ok(
      call(server.base, null, "POST", "/api/v1/events/batch", { events: events.slice(i, i + 1000) }, { "X-API-Key": apiKey }),
      [202],
    );
    assert.deepEqual(body.data.rejected, []);
  }
}

/** Assign `count` users (bulk, 1,000 a call), then track what they do: each user arrives on one of
 * the last DAYS days (its exposure is tracked at that time) and `behave(variant, rand)` returns the
 * events it sends afterwards. */
async function simulate(key, prefix, count, seed, behave) {
  const rand = random(seed);
  const now = Date.now();
  const events = [];
  const variants = {};
  for (let offset = 0; offset < count; offset += 1000) {
    const units = Array.from({ length: Math.min(1000, count - offset) }, (_, i) => ({ unit_id: `${prefix}-${offset + i}` }));
    const body = await ok(
      call(server.base, null, "POST", `/api/v1/experiments/${key}/assign/bulk`, { units }, { "X-API-Key": apiKey }),
    );
    for (const a of body.data) {
      assert.equal(a.in_experiment, true, JSON.stringify(a));
      variants[a.variant] = (variants[a.variant] ?? 0) + 1;
      const index = Number(a.unit_id.split("-").pop());
      const daysAgo = index % DAYS;
      const arrived = now - daysAgo * 24 * HOUR - (2 + rand() * 6) * HOUR;
      events.push({
        event_id: `sim-exposure:${key}:${a.unit_id}`,
        name: "exposure",
        user_id: a.unit_id,
        experiment_key: key,
        variant: a.variant,
        timestamp: new Date(arrived).toISOString(),
      });
      for (const [name, value] of behave(a.variant, rand)) {
        events.push({
          name,
          user_id: a.unit_id,
          ...(value === undefined ? {} : { value }),
          timestamp: new Date(arrived + (5 + rand() * 50) * 60_000).toISOString(),
        });
      }
    }
  }
  await track(events);
  return variants;
}

/** Wait until the server has written every accepted event (the queue gauge reads 0). */
async function drained() {
  for (let i = 0; i < 100; i++) {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    const depth = /^experimently_events_queue_depth\s+([\d.e+]+)/m.exec(text);
    if (depth && Number(depth[1]) === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("events not written");
}

function results(key, query) {
  return call(server.base, token, "GET", `/api/v1/experiments/${key}/results?${new URLSearchParams(query)}`);
}

/** Every number the page shows (data-field/data-value), by metric, variant and field. */
async function shown(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("[data-metric] tr[data-variant] [data-field]")].map((el) => ({
      metric: el.closest("[data-metric]").getAttribute("data-metric"),
      variant: el.closest("tr").getAttribute("data-variant"),
      control: el.closest("tr").getAttribute("data-control") === "true",
      field: el.getAttribute("data-field"),
      value: el.getAttribute("data-value"),
    })),
  );
}

const FIELDS = {
  units: (c, control) => (control ? c.control.units : c.treatment.units),
  mean: (c, control) => (control ? c.control.mean : c.treatment.mean),
  absolute_lift: (c) => c.absolute_lift,
  absolute_lower: (c) => c.absolute_interval?.lower ?? null,
  absolute_upper: (c) => c.absolute_interval?.upper ?? null,
  relative_lift: (c) => c.relative_lift,
  relative_lower: (c) => c.relative_interval?.lower ?? null,
  relative_upper: (c) => c.relative_interval?.upper ?? null,
  p_value: (c) => c.p_value,
  p_value_adjusted: (c) => c.p_value_adjusted,
  chance_to_win: (c) => c.chance_to_win,
  risk: (c) => c.risk?.treatment ?? null,
  posterior_sd: (c) => c.posterior_sd ?? null,
  verdict: (c) => c.verdict,
};

/** Every number on the page equals the API's answer for the same settings (exactly: the page keeps
 * the API's value in data-value; what it displays is that value formatted). */
async function assertPageEqualsApi(page, key, query) {
  const api = (await ok(results(key, query))).data;
  const cells = await shown(page);
  assert.ok(cells.length >= 10, `numbers on the page: ${cells.length}`);
  const seen = new Set();
  for (const cell of cells) {
    const metric = api.metrics.find((m) => m.metric_key === cell.metric);
    assert.ok(metric, `metric ${cell.metric} in the API's answer`);
    const comparison = cell.control ? metric.comparisons[0] : metric.comparisons.find((c) => c.variant_key === cell.variant);
    assert.ok(comparison, `${cell.metric}/${cell.variant}`);
    const expected = FIELDS[cell.field](comparison, cell.control);
    const actual = cell.value === "null" ? null : cell.field === "verdict" ? cell.value : Number(cell.value);
    assert.equal(actual, expected, `${cell.metric} ${cell.variant} ${cell.field}`);
    seen.add(cell.field);
  }
  // every comparison of every metric is on the page
  const rows = await page.locator("[data-metric] tr[data-variant]:not([data-control])").count();
  assert.equal(rows, api.metrics.reduce((n, m) => n + m.comparisons.length, 0));
  return { api, seen };
}

async function settle(page) {
  await page.waitForLoadState("networkidle");
  await page.locator("[data-testid=results-page]").waitFor();
}

describe("results page", { concurrency: false }, () => {
  before(async () => {
    // the periodic aggregation an hour away: only "Refresh now" aggregates during the test
    server = await startServer(PORT, { EXPERIMENTLY_AGGREGATION_INTERVAL_SECONDS: "3600" });
    browser = await launch();
    token = await apiToken(server.base, ADMIN.email, ADMIN.password);
    apiKey = (
      await ok(call(server.base, token, "POST", "/api/v1/api-keys", { name: "simulator", environment: "production", scopes: ["evaluate", "track"] }))
    ).data.key;
    await metric({ key: "purchase", name: "Purchase", kind: "binomial", event_name: "purchase" }, { type: "percent", decimals: 1 });
    await metric(
      { key: "revenue", name: "Revenue per user", kind: "sum", event_name: "purchase" },
      { type: "currency", currency: "EUR", decimals: 2 },
    );
    await metric(
      { key: "page-load", name: "Page load time", kind: "mean", event_name: "page_load", direction: "lower" },
      { type: "duration", duration_unit: "ms" },
    );
    await metric({ key: "errors", name: "Errors per user", kind: "count", event_name: "error", direction: "lower" }, { type: "count" });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    assert.deepEqual(problems, [], "no script error or CSP refusal in the browser");
  });

  test("2,000 users with a real lift: refresh, the winner, interval bars, lift over time, every engine", async () => {
    await ok(
      call(server.base, token, "POST", "/api/v1/experiments", {
        key: EXP,
        name: "Checkout button colour",
        hypothesis: "A green checkout button raises purchases",
        variants: [
          { key: "control", weight: 50, is_control: true },
          { key: "treatment", weight: 50 },
        ],
        primary_metric: "purchase",
        secondary_metrics: ["revenue"],
        guardrail_metrics: ["page-load"],
      }),
      [201],
    );
    await ok(call(server.base, token, "POST", `/api/v1/experiments/${EXP}/start`, { reason: "e2e" }));
    backdateStart(EXP, DAYS + 1);

    const page = await newPage();
    await signIn(page, `/experiments/${EXP}/results`);
    // before any aggregation: the NO_DATA banner says when the next run is due
    const noData = page.locator("[data-banner=NO_DATA]");
    await noData.waitFor();
    assert.match(await noData.innerText(), /Refresh now/);

    const split = await simulate(EXP, "user", USERS, 7, (variant, rand) => {
      const out = [["page_load", Math.round(800 + rand() * 400)]];
      if (rand() < (variant === "treatment" ? 0.14 : 0.1)) out.push(["purchase", Math.round((20 + rand() * 60) * 100) / 100]);
      return out;
    });
    assert.equal(split.control + split.treatment, USERS);
    await drained();

    await page.getByRole("button", { name: "Refresh now" }).click();
    await page.getByText(/aggregated now, in \d+ ms/).waitFor();
    await noData.waitFor({ state: "detached" });
    const primary = page.locator("[data-metric=purchase]");
    await primary.locator("tr[data-variant=treatment] [data-field=verdict][data-value=winner]").waitFor();
    const { api, seen } = await assertPageEqualsApi(page, EXP, { engine: "frequentist", cuped: "false", correction: "holm" });
    for (const field of ["units", "mean", "absolute_lift", "absolute_lower", "absolute_upper", "relative_lift", "relative_lower", "relative_upper", "p_value", "verdict"]) {
      assert.ok(seen.has(field), `the page shows ${field}`);
    }
    assert.equal(Object.values(api.units).reduce((a, b) => a + b, 0), USERS);
    // the freshness line reads the time of the run just made
    assert.match(await page.getByTestId("freshness").innerText(), /Last aggregated (?!never)/);

    // the interval bar of the winner lies right of zero, and is green
    const bar = primary.locator("tr[data-variant=treatment] [data-testid=interval-bar]");
    assert.equal(await bar.getAttribute("data-side"), "above");
    assert.ok(Number(await bar.getAttribute("data-left")) > 50);
    // the lift over time: one point per day of arrival, drawn on a canvas
    const chart = primary.getByTestId("lift-chart");
    assert.equal(Number(await chart.getAttribute("data-points")), api.timeseries.purchase.length);
    assert.ok(api.timeseries.purchase.length >= DAYS - 1, `days: ${api.timeseries.purchase.length}`);
    await chart.locator("canvas").waitFor();
    // the server's plain-language summary, as sent
    assert.equal(await primary.getByTestId("summary").innerText(), api.metrics.find((m) => m.metric_key === "purchase").summary);
    // the metric's format: revenue in euros
    assert.match(await page.locator("[data-metric=revenue] tr[data-control] [data-field=mean]").innerText(), /^€\d+\.\d\d$/);
    // the guardrail held
    assert.equal(await page.locator("[data-metric=page-load] [data-testid=guardrail-status]").getAttribute("data-value"), "ok");
    await checkAxe(page, "results (frequentist)");
    await shot(page, "results-frequentist");
    if (!process.env.UPDATE_SCREENSHOTS) await shot(page, "results-full", true);

    // export: the CSV holds the API's exact numbers
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = readFileSync(await download.path(), "utf8");
    const purchase = api.metrics.find((m) => m.metric_key === "purchase").comparisons[0];
    assert.ok(csv.includes(`,${purchase.relative_lift},`), "relative lift exactly as the API's");
    assert.ok(csv.includes(`,${purchase.p_value},`), "p-value exactly as the API's");
    assert.equal(csv.trim().split("\r\n").length, 1 + api.metrics.reduce((n, m) => n + 1 + m.comparisons.length, 0));

    // the sequential engine: wider, always-valid intervals
    await page.getByText("Sequential", { exact: true }).click();
    await page.locator("[data-testid=results-page][data-engine=sequential]").waitFor();
    await settle(page);
    const sequential = await assertPageEqualsApi(page, EXP, { engine: "sequential", cuped: "false", correction: "holm" });
    const fixedWidth = purchase.relative_interval.upper - purchase.relative_interval.lower;
    const seqPurchase = sequential.api.metrics.find((m) => m.metric_key === "purchase").comparisons[0];
    assert.ok(seqPurchase.relative_interval.upper - seqPurchase.relative_interval.lower > fixedWidth);
    await checkAxe(page, "results (sequential)");
    await shot(page, "results-sequential");

    // Bayesian: chance to win and risk, thresholds shown
    await page.getByText("Bayesian", { exact: true }).click();
    await page.locator("[data-testid=results-page][data-engine=bayesian]").waitFor();
    await settle(page);
    const bayes = await assertPageEqualsApi(page, EXP, {
      engine: "bayesian",
      cuped: "false",
      correction: "holm",
      win_threshold: "0.95",
      lose_threshold: "0.05",
    });
    assert.ok(bayes.seen.has("chance_to_win") && bayes.seen.has("risk"));
    assert.equal(await page.locator("[data-field=p_value]").count(), 0);
    assert.equal(Number(await page.getByTestId("thresholds").getAttribute("data-win")), bayes.api.thresholds.win);
    await checkAxe(page, "results (bayesian)");
    await shot(page, "results-bayesian");
    // stricter thresholds travel to the API and come back in the answer
    await page.getByLabel("Win threshold").fill("0.99");
    await page.getByLabel("Lose threshold").fill("0.01");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("[data-testid=thresholds][data-win='0.99']").waitFor();
    await settle(page);
    await assertPageEqualsApi(page, EXP, {
      engine: "bayesian",
      cuped: "false",
      correction: "holm",
      win_threshold: "0.99",
      lose_threshold: "0.01",
    });

    // CUPED on and no correction: still the API's numbers
    await page.getByText("Frequentist", { exact: true }).click();
    await page.getByRole("switch", { name: "CUPED variance reduction" }).click();
    await page.getByLabel("Correction").selectOption("none");
    await page.locator("[data-testid=results-page][data-engine=frequentist]").waitFor();
    await page.waitForURL(/correction=none/);
    await settle(page);
    await assertPageEqualsApi(page, EXP, { engine: "frequentist", cuped: "true", correction: "none" });
    assert.equal(await page.locator("[data-field=p_value_adjusted]").count(), 0);
    await page.context().close();
  });

  test("a guardrail breach pauses the experiment and the page says so", async () => {
    await ok(
      call(server.base, token, "POST", "/api/v1/experiments", {
        key: GUARDED,
        name: "Search ranking v2",
        variants: [
          { key: "control", weight: 50, is_control: true },
          { key: "treatment", weight: 50 },
        ],
        primary_metric: "purchase",
        guardrail_metrics: ["errors"],
      }),
      [201],
    );
    await ok(call(server.base, token, "POST", `/api/v1/experiments/${GUARDED}/start`, { reason: "e2e" }));
    backdateStart(GUARDED, DAYS + 1);
    await simulate(GUARDED, "searcher", 600, 11, (variant, rand) => {
      const out = [];
      if (rand() < 0.12) out.push(["purchase", 30]);
      const errors = rand() < (variant === "treatment" ? 0.35 : 0.1) ? 1 : 0;
      for (let i = 0; i < errors; i++) out.push(["error", undefined]);
      return out;
    });
    await drained();

    const page = await newPage();
    await signIn(page, `/experiments/${GUARDED}/results`);
    await page.getByRole("button", { name: "Refresh now" }).click();
    const banner = page.locator("[data-banner=GUARDRAIL_PAUSED]");
    await banner.waitFor();
    assert.match(await banner.innerText(), /'errors' is significantly worse in 'treatment'/);
    const experiment = (await ok(call(server.base, token, "GET", `/api/v1/experiments/${GUARDED}`))).data;
    assert.equal(experiment.status, "paused");
    const breaches = (await ok(call(server.base, token, "GET", `/api/v1/experiments/${GUARDED}/guardrail-breaches`))).data;
    assert.equal(breaches.length, 1);
    assert.equal(await page.locator("[data-breach='errors:treatment']").count(), 1);
    assert.equal(await page.locator("[data-metric=errors] [data-testid=guardrail-status]").getAttribute("data-value"), "breached");
    await assertPageEqualsApi(page, GUARDED, { engine: "frequentist", cuped: "false", correction: "holm" });
    await checkAxe(page, "results (guardrail breach)");
    await shot(page, "results-guardrail");
    await page.context().close();
  });

  test("at phone width the results read without sideways scrolling", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, `/experiments/${EXP}/results`);
    await page.locator("[data-metric=purchase] [data-testid=interval-bar]").first().waitFor();
    await page.getByTestId("lift-chart").first().locator("canvas").waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling");
    const refresh = await page.getByRole("button", { name: "Refresh now" }).boundingBox();
    assert.ok(refresh && refresh.x >= 0 && refresh.x + refresh.width <= 390, "refresh inside the screen");
    await checkAxe(page, "results (phone)");
    // looked at while developing; not a picture of the docs
    if (!process.env.UPDATE_SCREENSHOTS) await shot(page, "results-phone");
    await page.context().close();
  });
});
