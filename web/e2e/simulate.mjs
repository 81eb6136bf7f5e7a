// Simulated users for the end-to-end suites, and the check that the results page shows the API's
// numbers: shared by results.test.mjs (every engine) and experiments.test.mjs (the whole walk).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { call } from "./harness.mjs";

const HOUR = 3600_000;

export async function ok(response, status = [200, 201, 202]) {
  const r = await response;
  assert.ok(status.includes(r.status), `${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/** A seeded generator (mulberry32): the simulated users behave the same on every run. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

/** The helpers of one suite's server (`startServer`'s), admin token and API key (evaluate, track). */
export function simulation(server, token, apiKey) {
  async function track(events) {
    for (let i = 0; i < events.length; i += 1000) {
      const body = await ok(
        call(server.base, null, "POST", "/api/v1/events/batch", { events: events.slice(i, i + 1000) }, { "X-API-Key": apiKey }),
        [202],
      );
      assert.deepEqual(body.data.rejected, []);
    }
  }

  /** Assign `count` users (bulk, 1,000 a call, each with `context`), then track what they do: each
   * user arrives on one of the last `days` days (its exposure is tracked at that time) and
   * `behave(variant, rand)` returns the events it sends afterwards, as [name, value?, properties?].
   * With `everyone` false, users the experiment leaves out (traffic, layer) are skipped. Returns the
   * users per variant. */
  async function simulate(key, prefix, count, seed, behave, { days = 7, context = {}, everyone = true } = {}) {
    const rand = random(seed);
    const now = Date.now();
    const events = [];
    const variants = {};
    for (let offset = 0; offset < count; offset += 1000) {
      const units = Array.from({ length: Math.min(1000, count - offset) }, (_, i) => ({ unit_id: `${prefix}-${offset + i}`, context }));
      const body = await ok(
        call(server.base, null, "POST", `/api/v1/experiments/${key}/assign/bulk`, { units }, { "X-API-Key": apiKey }),
      );
      for (const a of body.data) {
        if (everyone) assert.equal(a.in_experiment, true, JSON.stringify(a));
        if (!a.in_experiment) continue;
        variants[a.variant] = (variants[a.variant] ?? 0) + 1;
        const index = Number(a.unit_id.split("-").pop());
        const daysAgo = index % days;
        const arrived = now - daysAgo * 24 * HOUR - (2 + rand() * 6) * HOUR;
        events.push({
          event_id: `sim-exposure:${key}:${a.unit_id}`,
          name: "exposure",
          user_id: a.unit_id,
          experiment_key: key,
          variant: a.variant,
          timestamp: new Date(arrived).toISOString(),
        });
        for (const [name, value, properties] of behave(a.variant, rand)) {
          events.push({
            name,
            user_id: a.unit_id,
            ...(value === undefined ? {} : { value }),
            ...(properties === undefined ? {} : { properties }),
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

  /** The experiment "started" `days` ago: the API cannot backdate a start, so the test moves the clock
   * of this one row in the embedded database (the server reads it from there on every aggregation
   * run), letting the simulated users arrive over the days before now. */
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

  function results(key, query) {
    return call(server.base, token, "GET", `/api/v1/experiments/${key}/results?${new URLSearchParams(query)}`);
  }

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

  return { simulate, drained, backdateStart, assertPageEqualsApi };
}
