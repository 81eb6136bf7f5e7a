// The console's budgets, measured (not asserted): initial JavaScript (gzip) and the flags list with
// 5,000 flags interactive after navigation, in headless Chromium against a real server.
// Run: `npm run budget` (after `make install`). Prints the figures and ends with one JSON line.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { ADMIN, apiToken, call, launch, startServer } from "../e2e/harness.mjs";

const DIST = resolve(import.meta.dirname, "../../src/experimently/console/dist");
const FLAGS = Number(process.env.BUDGET_FLAGS ?? 5000);
const RUNS = Number(process.env.BUDGET_RUNS ?? 5);
const PORT = Number(process.env.BUDGET_PORT ?? 18520);

function initialJavaScript() {
  const html = readFileSync(join(DIST, "index.html"), "utf8");
  const files = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  let raw = 0;
  let gzip = 0;
  for (const file of files) {
    const body = readFileSync(join(DIST, file));
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
  }
  return { files: files.length, raw, gzip };
}

// Creating 5,000 flags through the API validates each against every other (minutes on a small
// machine); the bench creates three through the API and copies them in the embedded SQLite file.
const CLONE = `
import json, sqlite3, sys, uuid
db, count = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db, timeout=30)
cols = [r[1] for r in con.execute("PRAGMA table_info(flags)")]
templates = con.execute("SELECT * FROM flags ORDER BY key").fetchall()
rows = []
for i in range(count - len(templates)):
    row = dict(zip(cols, templates[i % len(templates)]))
    row.update(id=str(uuid.uuid4()), key=f"flag-{i:05d}", name=f"Flag {i}", tags=json.dumps([f"team-{i % 20}"]))
    rows.append(tuple(row[c] for c in cols))
con.executemany(f"INSERT INTO flags VALUES ({','.join('?' * len(cols))})", rows)
con.commit()
`;

async function seed(base, token, dataDir) {
  const started = Date.now();
  for (const [i, on] of [[0, true], [1, false], [2, false]]) {
    const response = await call(base, token, "POST", "/api/v1/feature-flags", {
      key: `template-${i}`,
      name: `Template ${i}`,
      environments: on ? { production: { enabled: true } } : {},
    });
    if (response.status !== 201) throw new Error(`seed: ${response.status}`);
  }
  execFileSync("python3", ["-c", CLONE, join(dataDir, "experimently.db"), String(FLAGS)]);
  return (Date.now() - started) / 1000;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const js = initialJavaScript();
console.log(`initial JavaScript: ${js.files} file(s), ${(js.raw / 1024).toFixed(1)} KB raw, ${(js.gzip / 1024).toFixed(1)} KB gzip (budget 250 KB)`);
const server = await startServer(PORT);
const browser = await launch();
try {
  const token = await apiToken(server.base, ADMIN.email, ADMIN.password);
  console.log(`seeded ${FLAGS} flags in ${(await seed(server.base, token, server.dataDir)).toFixed(1)} s`);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(`${server.base}/start`);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("main#main").waitFor();
  const rows = page.getByTestId("flags-table").locator("tbody tr");
  const interactive = [];
  const search = [];
  for (let run = 0; run < RUNS; run++) {
    // a client-side navigation from another page, as a person clicks "Flags" in the menu
    await page.getByRole("link", { name: "Get started" }).click();
    await page.getByRole("heading", { name: "Get started" }).waitFor();
    const t0 = Date.now();
    await page.getByRole("link", { name: "Flags", exact: true }).click();
    await rows.nth(99).waitFor();
    await page.getByLabel("Search flags").waitFor({ state: "visible" });
    interactive.push(Date.now() - t0);
    const t1 = Date.now();
    await page.getByLabel("Search flags").fill(`flag-0${4000 + run}`);
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=flags-table] tbody tr").length === 1,
    );
    search.push(Date.now() - t1);
    await page.getByLabel("Search flags").fill("");
  }
  // a cold load: a new tab opening /flags (the refresh cookie signs it in)
  const cold = [];
  for (let run = 0; run < RUNS; run++) {
    const fresh = await page.context().newPage();
    const t0 = Date.now();
    await fresh.goto(`${server.base}/flags`);
    await fresh.getByTestId("flags-table").locator("tbody tr").nth(99).waitFor();
    cold.push(Date.now() - t0);
    await fresh.close();
  }
  const total = await page.getByText(/[\d,]+ flags/).first().innerText();
  console.log(`flags list (${total}): interactive after navigation median ${median(interactive)} ms (runs ${interactive.join(", ")}), budget 1000 ms`);
  console.log(`cold load of /flags in a new tab: median ${median(cold)} ms (runs ${cold.join(", ")})`);
  console.log(`search to one row (debounce 250 ms included): median ${median(search)} ms`);
  console.log(
    JSON.stringify({
      bench: "console",
      flags: FLAGS,
      initial_js_gzip_kb: Math.round((js.gzip / 1024) * 10) / 10,
      initial_js_budget_kb: 250,
      flags_list_interactive_ms: median(interactive),
      flags_list_cold_ms: median(cold),
      search_ms: median(search),
      interactive_budget_ms: 1000,
    }),
  );
} finally {
  await browser.close();
  await server.stop();
}
