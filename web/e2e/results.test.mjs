// End to end: the results page of an experiment in Chromium against a real server. Metrics and
// experiments are created through the API (the wizard has its own test), 2,000 simulated users are
// assigned and convert with a real lift, "Refresh now" aggregates (the periodic run is an hour away),
// and every number on the page is compared with the API's answer for the same settings.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { ADMIN, apiToken, call, checkAxe, launch, openPage, shot, signIn as signInAt, startServer } from "./harness.mjs";
import { ok, simulation } from "./simulate.mjs";

const PORT = Number(process.env.E2E_RESULTS_PORT ?? 19310);

const EXP = "checkout-button";
const GUARDED = "search-ranking";
const DORMANT = "checkout-copy";
const USERS = 2000;
const DAYS = 7;

let server;
let browser;
let token;
let apiKey;
let sim;
const problems = [];

async function newPage(viewport) {
  const page = await openPage(browser, { viewport, timeout: 20_000, acceptDownloads: true });
  // a script error or a style the Content-Security-Policy refuses (uPlot styles its canvas from script)
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused/i.test(message.text())) problems.push(message.text());
  });
  return page;
}

const signIn = (page, path) => signInAt(page, server.base, { path });

/** A metric, with the value format when the server knows that field (older servers refuse it). */
async function metric(body, format) {
  const withFormat = await call(server.base, token, "POST", "/api/v1/metrics", { ...body, format });
  if (withFormat.status === 201) return;
  await ok(call(server.base, token, "POST", "/api/v1/metrics", body), [201]);
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
    sim = simulation(server, token, apiKey);
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
    sim.backdateStart(EXP, DAYS + 1);

    const page = await newPage();
    await signIn(page, `/experiments/${EXP}/results`);
    // before any aggregation: the NO_DATA banner says when the next run is due
    const noData = page.locator("[data-banner=NO_DATA]");
    await noData.waitFor();
    assert.match(await noData.innerText(), /Refresh now/);

    const split = await sim.simulate(EXP, "user", USERS, 7, (variant, rand) => {
      const out = [["page_load", Math.round(800 + rand() * 400)]];
      if (rand() < (variant === "treatment" ? 0.14 : 0.1)) out.push(["purchase", Math.round((20 + rand() * 60) * 100) / 100]);
      return out;
    });
    assert.equal(split.control + split.treatment, USERS);
    await sim.drained();

    await page.getByRole("button", { name: "Refresh now" }).click();
    await page.getByText(/aggregated now, in \d+ ms/).waitFor();
    await noData.waitFor({ state: "detached" });
    const primary = page.locator("[data-metric=purchase]");
    await primary.locator("tr[data-variant=treatment] [data-field=verdict][data-value=winner]").waitFor();
    const { api, seen } = await sim.assertPageEqualsApi(page, EXP, { engine: "frequentist", cuped: "false", correction: "holm" });
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
    const sequential = await sim.assertPageEqualsApi(page, EXP, { engine: "sequential", cuped: "false", correction: "holm" });
    const fixedWidth = purchase.relative_interval.upper - purchase.relative_interval.lower;
    const seqPurchase = sequential.api.metrics.find((m) => m.metric_key === "purchase").comparisons[0];
    assert.ok(seqPurchase.relative_interval.upper - seqPurchase.relative_interval.lower > fixedWidth);
    await checkAxe(page, "results (sequential)");
    await shot(page, "results-sequential");

    // Bayesian: chance to win and risk, thresholds shown
    await page.getByText("Bayesian", { exact: true }).click();
    await page.locator("[data-testid=results-page][data-engine=bayesian]").waitFor();
    await settle(page);
    const bayes = await sim.assertPageEqualsApi(page, EXP, {
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
    await sim.assertPageEqualsApi(page, EXP, {
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
    await sim.assertPageEqualsApi(page, EXP, { engine: "frequentist", cuped: "true", correction: "none" });
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
    sim.backdateStart(GUARDED, DAYS + 1);
    await sim.simulate(GUARDED, "searcher", 600, 11, (variant, rand) => {
      const out = [];
      if (rand() < 0.12) out.push(["purchase", 30]);
      const errors = rand() < (variant === "treatment" ? 0.35 : 0.1) ? 1 : 0;
      for (let i = 0; i < errors; i++) out.push(["error", undefined]);
      return out;
    });
    await sim.drained();

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
    await sim.assertPageEqualsApi(page, GUARDED, { engine: "frequentist", cuped: "false", correction: "holm" });
    await checkAxe(page, "results (guardrail breach)");
    await shot(page, "results-guardrail");
    // the harmful variant is not the one-click winner; chosen in the ship dialog, it is warned of
    assert.equal(await page.getByRole("link", { name: "Ship treatment…" }).count(), 0);
    await page.getByRole("link", { name: "Ship a variant…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("radio", { name: /treatment/ }).check();
    const warning = dialog.getByTestId("ship-harm-warning");
    await warning.waitFor();
    assert.match(await warning.innerText(), /treatment made a guardrail worse:\s+Errors per user \(errors\): \+[\d.]+% against the control, a breach the guardrail monitor recorded/);
    await dialog.getByRole("button", { name: "Ship treatment anyway" }).waitFor();
    await checkAxe(page, "ship dialog (harmful variant)");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await page.context().close();
  });

  test("a variant weighted 0 gets no traffic: said so, and intervals not computed read —, never ∞", async () => {
    await ok(
      call(server.base, token, "POST", "/api/v1/experiments", {
        key: DORMANT,
        name: "Checkout copy",
        variants: [
          { key: "control", weight: 50, is_control: true },
          { key: "treatment", weight: 50 },
          { key: "dormant", weight: 0 },
        ],
        primary_metric: "purchase",
        guardrail_metrics: ["errors"],
      }),
      [201],
    );
    await ok(call(server.base, token, "POST", `/api/v1/experiments/${DORMANT}/start`, { reason: "e2e" }));
    sim.backdateStart(DORMANT, DAYS + 1);
    const split = await sim.simulate(DORMANT, "reader", 400, 23, (variant, rand) => (rand() < (variant === "treatment" ? 0.15 : 0.1) ? [["purchase", 25]] : []));
    assert.equal(split.dormant ?? 0, 0, "a variant weighted 0 is never assigned");
    await sim.drained();

    const page = await newPage();
    await signIn(page, `/experiments/${DORMANT}/results`);
    await page.getByRole("button", { name: "Refresh now" }).click();
    await page.getByText(/aggregated now, in \d+ ms/).waitFor();
    const api = (await ok(call(server.base, token, "GET", `/api/v1/experiments/${DORMANT}/results`))).data;
    const dormantApi = api.metrics.find((m) => m.metric_key === "purchase").comparisons.find((c) => c.variant_key === "dormant");
    assert.equal(dormantApi.relative_interval, null, "the API computes no interval for it");

    const row = page.locator("[data-metric=purchase] tr[data-variant=dormant]");
    await row.locator("[data-field=verdict][data-reason=NO_TRAFFIC]").waitFor();
    assert.match(await row.innerText(), /No traffic \(weight 0\)/);
    assert.doesNotMatch(await row.innerText(), /Not enough data/);
    assert.equal(await row.getByTestId("interval-bar").getAttribute("data-side"), "unknown");
    assert.match(await row.getByTestId("interval-bar").getAttribute("aria-label"), /interval of the lift: not computed/);
    // a dash (and, for screen readers, what it stands for)
    assert.match(await row.getByTestId("no-interval").innerText(), /^—\s*no interval of the lift$/);
    // nowhere on the page an infinite interval: these intervals are two-sided
    for (const text of await page.locator("[data-metric]").allInnerTexts()) assert.doesNotMatch(text, /∞/);
    // the measured variant keeps its verdict and interval
    await page.locator("[data-metric=purchase] tr[data-variant=treatment] [data-field=relative_lower]").waitFor();
    await sim.assertPageEqualsApi(page, DORMANT, { engine: "frequentist", cuped: "false", correction: "holm" });
    await checkAxe(page, "results (a variant weighted 0)");
    if (!process.env.UPDATE_SCREENSHOTS) await shot(page, "results-null-interval");

    // stopped: the numbers count what happened up to the end, late arrivals from before it for a while
    const units = (await ok(call(server.base, token, "GET", `/api/v1/experiments/${DORMANT}/results`))).data.units;
    await ok(call(server.base, token, "POST", `/api/v1/experiments/${DORMANT}/complete`, { reason: "e2e: enough" }));
    await page.reload();
    const final = page.getByTestId("final-numbers");
    await final.waitFor();
    assert.match(await final.innerText(), /completed .*: these numbers count what happened up to the end, nothing after it; events from before the end that arrive late still count until /);
    await page.getByRole("button", { name: "Refresh now" }).click();
    await page.getByText(/aggregated now, in \d+ ms/).waitFor();
    const after = (await ok(call(server.base, token, "GET", `/api/v1/experiments/${DORMANT}/results`))).data;
    assert.deepEqual(after.units, units, "the final run added nothing from after the end");
    if (!process.env.UPDATE_SCREENSHOTS) await shot(page, "results-completed");
    await page.context().close();
  });

  test("at phone width the results read without sideways scrolling", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page, `/experiments/${EXP}/results`);
    await page.locator("[data-metric=purchase] [data-testid=interval-bar]").first().waitFor();
    await page.getByTestId("lift-chart").first().locator("canvas").waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling");
    // the table scrolls inside its card, and says what is off-screen
    const hint = page.locator("[data-metric=purchase]").getByTestId("scroll-hint");
    assert.match(await hint.innerText(), /Scroll sideways for the lift, p-value and verdict/);
    const refresh = await page.getByRole("button", { name: "Refresh now" }).boundingBox();
    assert.ok(refresh && refresh.x >= 0 && refresh.x + refresh.width <= 390, "refresh inside the screen");
    await checkAxe(page, "results (phone)");
    // looked at while developing; not a picture of the docs
    if (!process.env.UPDATE_SCREENSHOTS) await shot(page, "results-phone");
    await page.context().close();
  });
});
