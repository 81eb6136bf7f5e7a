// A real `experimently serve` on a free port of the test's range, with a temp data dir, and Debian's
// Chromium driven by playwright-core (no browser download).
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import assert from "node:assert/strict";
import AxeBuilder from "@axe-core/playwright";
import { chromium } from "playwright-core";

export const ADMIN = { email: "admin@example.com", password: "admin-password-123" };
const ROOT = resolve(import.meta.dirname, "../..");

export async function startServer(port, extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "experimently-e2e-"));
  const exe = process.env.EXPERIMENTLY_BIN ?? join(ROOT, ".venv/bin/experimently");
  const child = spawn(exe, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
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
      EXPERIMENTLY_LOGIN_RATE_LIMIT: "1000/minute",
      ...extraEnv,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    base,
    dataDir,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A page in a fresh browser context: desktop size unless `viewport` says otherwise, no motion, and
 * `timeout` for every wait. Other `options` go to the context (`acceptDownloads`, say). */
export async function openPage(browser, { viewport = { width: 1280, height: 900 }, timeout = 15_000, ...options } = {}) {
  const context = await browser.newContext({ viewport, reducedMotion: "reduce", ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  return page;
}

/** Open `path` signed out and submit the login form (the caller waits for what should follow). */
export async function submitLogin(page, base, { path = "/flags", email = ADMIN.email, password = ADMIN.password } = {}) {
  await page.goto(`${base}${path}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Sign in at `path` (the admin unless `email` and `password` name someone else) and wait for the
 * console's main area. */
export async function signIn(page, base, login = {}) {
  await submitLogin(page, base, login);
  await page.locator("main#main").waitFor();
}

// UPDATE_SCREENSHOTS=1 writes the docs' pictures; otherwise they land in test-results/
export const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(import.meta.dirname, "../../docs/img/console")
  : resolve(import.meta.dirname, "../test-results/screenshots");

export async function shot(page, name, fullPage = false) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}

/** The API as a script would use it (for setup and for checks the browser cannot make). */
export async function apiToken(base, email, password) {
  const response = await fetch(`${base}/api/v1/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: email, password }),
  });
  if (!response.ok) throw new Error(`login failed: ${response.status}`);
  return (await response.json()).access_token;
}

export async function call(base, token, method, path, body, extra = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json", ...extra },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret, `offsetSteps` steps from now. */
export function totp(secret, offsetSteps = 0, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/[\s=]/g, "").toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30) + offsetSteps));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** No serious or critical accessibility violation on the page as it stands. Running transitions are
 * awaited first: a colour still fading in (a button just enabled) would be measured half-way. A
 * transition cancelled meanwhile (its element re-rendered or restyled) rejects `finished` with an
 * AbortError; it is no longer running either, so that counts as done. */
export async function checkAxe(page, where) {
  await page.evaluate(() =>
    Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined))),
  );
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`),
    [],
    `axe on ${where}`,
  );
}
