// End to end: a person drives the console in Chromium against a real server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN, apiToken, call, checkAxe, launch, openPage, shot, signIn as signInAt, startServer, totp } from "./harness.mjs";

const PORT = Number(process.env.E2E_PORT ?? 18510);
const FLAG = "checkout-redesign";

let server;
let browser;
let adminToken;

const newPage = (viewport) => openPage(browser, { viewport });
const signIn = (page, email, password) => signInAt(page, server.base, { email, password });

async function openEnv(page, env = "Production") {
  await page.goto(`${server.base}/flags/${FLAG}`);
  await page.getByRole("tab", { name: env }).click();
  await page.getByRole("heading", { name: `Status in ${env.toLowerCase()}` }).waitFor();
}

async function evaluate(key, context) {
  const response = await fetch(`${server.base}/api/v1/feature-flags/${FLAG}/evaluate`, {
    method: "POST",
    headers: { "X-API-Key": key, "Content-Type": "application/json" },
    body: JSON.stringify(context),
  });
  assert.equal(response.status, 200);
  return (await response.json()).data;
}

describe("console", { concurrency: false }, () => {
  before(async () => {
    server = await startServer(PORT);
    browser = await launch();
    adminToken = await apiToken(server.base, ADMIN.email, ADMIN.password);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("sign in, create a flag, add a rule, enable, evaluate with a key, kill it, find it in history", async () => {
    const page = await newPage();
    await page.goto(`${server.base}/flags`);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await checkAxe(page, "sign in");
    await shot(page, "sign-in", false);
    await signIn(page);

    // first run: the empty state leads to the first flag
    await page.getByRole("heading", { name: "Create your first flag" }).waitFor();
    await checkAxe(page, "flags (empty)");
    await shot(page, "first-run", false);
    await page.getByRole("button", { name: "Create a flag" }).click();
    await page.getByLabel("Name").fill("Checkout redesign");
    assert.equal(await page.getByLabel("Key").inputValue(), FLAG);
    await page.getByLabel("Tags").fill("checkout, web");
    await page.getByRole("button", { name: "Create flag" }).click();
    await page.waitForURL(`**/flags/${FLAG}`);

    // a rule with several operators in production, fallthrough off
    await page.getByRole("tab", { name: "Production" }).click();
    await page.getByRole("button", { name: "+ Add rule" }).click();
    await page.getByLabel("Condition 1 attribute").fill("country");
    await page.getByLabel("Condition 1 operator").selectOption("in");
    await page.getByLabel("Condition 1 values", { exact: true }).fill("FR, DE");
    await page.getByRole("button", { name: "+ Add condition" }).click();
    await page.getByLabel("Condition 2 attribute").fill("app_version");
    await page.getByLabel("Condition 2 operator").selectOption("semver_gte");
    await page.getByLabel("Condition 2 values").fill("2.0.0");
    await page.getByRole("button", { name: "+ Add condition" }).click();
    await page.getByLabel("Condition 3 attribute").fill("email");
    await page.getByLabel("Condition 3 operator").selectOption("ends_with");
    await page.getByLabel("Condition 3 values").fill("@example.com");
    await page.getByLabel("Serve: variation").selectOption("on");
    await page.getByLabel("Fallthrough serves: variation").selectOption("off");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Unsaved changes in production").waitFor({ state: "detached" });
    // nothing left to save or discard: both wait for an edit
    await page.getByTestId("draft-state").getByText("No unsaved changes").waitFor();
    assert.equal(await page.getByRole("button", { name: "Discard" }).isDisabled(), true);
    assert.equal(await page.getByRole("button", { name: "Save changes" }).isDisabled(), true);
    // production asks first, saying what everyone will get
    await page.getByRole("switch", { name: "Serve targeting in production" }).click();
    const turnOn = page.getByRole("dialog", { name: "Turn on in production?" });
    assert.match(await turnOn.getByTestId("switch-consequences").innerText(), /Users matched by a rule get what the rule serves; everyone else gets “off”/);
    await checkAxe(page, "turn-on dialog");
    await turnOn.getByRole("button", { name: "Cancel" }).click();
    await turnOn.waitFor({ state: "hidden" });
    assert.equal(await page.getByRole("switch", { name: "Serve targeting in production" }).getAttribute("aria-checked"), "false", "Cancel changes nothing");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Serve targeting in production", "focus returns to the switch");
    await page.getByRole("switch", { name: "Serve targeting in production" }).click();
    await turnOn.getByRole("button", { name: "Turn on now" }).click();
    await page.getByRole("button", { name: "Kill switch" }).waitFor();
    await checkAxe(page, "flag page");
    await page.getByRole("heading", { name: "Rules" }).scrollIntoViewIfNeeded();
    await shot(page, "flag");

    // an API key, shown once, evaluates the flag as configured
    await page.goto(`${server.base}/admin/keys`);
    await page.getByLabel("Name").fill("checkout service");
    await page.getByLabel("Environment").selectOption("production");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("secret").locator("code").innerText()).trim();
    assert.match(key, /^\S{20,}$/);
    await checkAxe(page, "API keys");
    await shot(page, "api-key", false);
    const matching = { user_id: "u1", context: { country: "FR", app_version: "2.3.0", email: "ana@example.com" } };
    const hit = await evaluate(key, matching);
    assert.equal(hit.value, true);
    assert.equal(hit.reason, "TARGETING_MATCH");
    const miss = await evaluate(key, { user_id: "u2", context: { country: "US", app_version: "2.3.0", email: "bo@example.com" } });
    assert.equal(miss.value, false);

    // why did u1 get this? the explain panel shows the matching rule
    await openEnv(page);
    await page.getByLabel("User id").fill("u1");
    await page.getByLabel("Context attributes (JSON)").fill(JSON.stringify(matching.context));
    await page.getByRole("button", { name: "Explain" }).click();
    const rule = page.locator("[data-explain-rule='0']");
    await rule.getByText("matched", { exact: true }).waitFor();
    assert.match(await page.getByTestId("explanation").innerText(), /rule 1/);
    await page.getByTestId("explanation").scrollIntoViewIfNeeded();
    await shot(page, "explain", false);

    // the kill switch, with a reason
    await page.getByRole("button", { name: "Kill switch" }).click();
    await page.getByLabel("Reason (kept in the history)").fill("checkout errors spiking");
    await checkAxe(page, "kill dialog");
    await shot(page, "kill-switch", false);
    await page.getByRole("button", { name: "Turn off now" }).click();
    await page.getByRole("switch", { name: "Serve targeting in production", checked: false }).waitFor();
    const killed = await evaluate(key, matching);
    assert.equal(killed.value, false);
    assert.equal(killed.reason, "DISABLED");

    // ... and the change, with its reason and field-level diff, in the history
    await page.goto(`${server.base}/history`);
    await page.getByLabel("Filter by action, e.g. flag.killed").fill("flag.killed");
    const row = page.getByTestId("audit-table").locator("tbody tr").first();
    await row.getByText("checkout errors spiking").waitFor();
    assert.match(await row.innerText(), /environments\.production\.enabled/);
    await page.getByLabel("Filter by action, e.g. flag.killed").fill("");
    await page.getByTestId("audit-table").getByText("flag.environment_updated").first().waitFor();
    await checkAxe(page, "history");
    await shot(page, "history", false);
    await page.context().close();
  });

  test("a 422 from the server lands on the field it names", async () => {
    const page = await newPage();
    await signIn(page);
    await openEnv(page);
    await page.getByRole("button", { name: "+ Add rule" }).click();
    const rule = page.locator("[data-rule='rule-2']");
    await rule.getByLabel("Condition 1 attribute").fill("app_version");
    await rule.getByLabel("Condition 1 operator").selectOption("semver_gt");
    await rule.getByLabel("Condition 1 values").fill("not-a-version");
    await page.getByRole("button", { name: "Save changes" }).click();
    const error = rule.locator("[data-condition='0'] [data-field-error]");
    await error.waitFor();
    assert.match(await error.innerText(), /not a version/);
    // the first rule, which is valid, shows no error
    assert.equal(await page.locator("[data-rule='rule-1'] [data-field-error]").count(), 0);
    await page.context().close();
  });

  test("a concurrent edit gets the 409 flow and keeps the edit", async () => {
    const page = await newPage();
    await signIn(page);
    await openEnv(page);
    await page.getByPlaceholder("user ids, comma-separated").first().fill("vip-1, vip-2");
    // meanwhile someone else changes the flag
    const current = await call(server.base, adminToken, "GET", `/api/v1/feature-flags/${FLAG}`);
    const patched = await call(server.base, adminToken, "PATCH", `/api/v1/feature-flags/${FLAG}`, {
      version: current.body.data.version,
      description: "edited elsewhere",
    });
    assert.equal(patched.status, 200);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByTestId("conflict").waitFor();
    assert.equal(await page.getByPlaceholder("user ids, comma-separated").first().inputValue(), "vip-1, vip-2");
    await page.getByRole("button", { name: "Reload and re-apply my edit" }).click();
    await page.getByTestId("conflict").waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Unsaved changes in production").waitFor({ state: "detached" });
    const saved = (await call(server.base, adminToken, "GET", `/api/v1/feature-flags/${FLAG}`)).body.data;
    assert.equal(saved.description, "edited elsewhere");
    assert.deepEqual(saved.environments.production.targets, [{ variation: "on", values: ["vip-1", "vip-2"] }]);
    await page.context().close();
  });

  test("a viewer sees no edit controls and the API refuses a forged write", async () => {
    const created = await call(server.base, adminToken, "POST", "/api/v1/users", {
      email: "viewer@example.com",
      role: "viewer",
      password: "viewer-password-123",
    });
    assert.equal(created.status, 201);
    const page = await newPage();
    await signIn(page, "viewer@example.com", "viewer-password-123");
    await page.getByRole("link", { name: "Checkout redesign" }).waitFor();
    assert.equal(await page.getByRole("button", { name: "New flag" }).count(), 0);
    assert.equal(await page.getByRole("link", { name: "API keys" }).count(), 0);
    await openEnv(page);
    await page.getByTestId("read-only").waitFor();
    assert.equal(await page.getByRole("button", { name: "Save changes" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "+ Add rule" }).count(), 0);
    assert.equal(await page.getByRole("switch", { name: "Serve targeting in production" }).isDisabled(), true);
    await checkAxe(page, "flag page (viewer)");
    // an address the menu hides, typed or bookmarked: said so, not the refused request
    await page.goto(`${server.base}/admin/keys`);
    await page.getByRole("heading", { name: "The API keys page is not available to your role" }).waitFor();
    assert.equal(await page.getByText("PERMISSION_DENIED").count(), 0);
    assert.equal(await page.getByRole("table").count(), 0);
    await page.goto(`${server.base}/flags`);
    await page.getByRole("link", { name: "Checkout redesign" }).waitFor();
    const status = await page.evaluate(async (flag) => {
      const csrf = /experimently_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? "";
      const session = await fetch("/api/v1/auth/session/refresh", { method: "POST", headers: { "X-CSRF-Token": csrf } });
      const { access_token } = await session.json();
      const forged = await fetch(`/api/v1/feature-flags/${flag}/environments/production/enable`, {
        method: "POST",
        headers: { Authorization: `Bearer ${access_token}`, "Content-Type": "application/json" },
        body: "{}",
      });
      return forged.status;
    }, FLAG);
    assert.equal(status, 403);
    await page.context().close();
  });

  test("every page passes axe, and the pictures for the docs", async () => {
    await call(server.base, adminToken, "POST", "/api/v1/segments", {
      key: "beta-testers",
      name: "Beta testers",
      conditions: [{ attribute: "email", operator: "ends_with", values: ["@example.com"] }],
    });
    await call(server.base, adminToken, "POST", "/api/v1/feature-flags", { key: "new-pricing", name: "New pricing", tags: ["billing"] });
    await call(server.base, adminToken, "POST", "/api/v1/webhooks", { url: "https://hooks.example.com/experimently", event_types: [] });
    for (const env of ["development", "staging"]) {
      await call(server.base, adminToken, "POST", `/api/v1/feature-flags/${FLAG}/environments/${env}/enable`, {});
    }
    const page = await newPage();
    await signIn(page);
    const pages = [
      ["/flags", "flags", "Flags"],
      ["/segments", "segments", "Segments"],
      ["/segments/beta-testers", "segment", "Beta testers"],
      ["/admin/environments", "environments", "Environments"],
      ["/admin/people", "people", "People"],
      ["/admin/webhooks", "webhooks", "Webhooks"],
      ["/start", "get-started", "Get started"],
    ];
    for (const [path, name, heading] of pages) {
      await page.goto(`${server.base}${path}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      await checkAxe(page, path);
      await shot(page, name, false);
    }
    await page.context().close();
  });

  test("a segment is deleted only after a confirmation, and a refusal names what uses it", async () => {
    await call(server.base, adminToken, "POST", "/api/v1/segments", { key: "eu", name: "Europe", conditions: [{ attribute: "country", operator: "in", values: ["FR"] }] });
    await call(server.base, adminToken, "POST", "/api/v1/segments", { key: "eu-staff", name: "EU staff", conditions: [{ attribute: "", operator: "in_segment", values: ["eu"] }] });
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/segments/eu`);
    await page.getByRole("button", { name: "Delete…" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete segment “Europe”?" });
    await dialog.getByRole("button", { name: "Delete segment" }).click();
    const inUse = dialog.getByTestId("segment-in-use");
    await inUse.waitFor();
    assert.match(await inUse.innerText(), /Not deleted: the segment is in use[\s\S]*segment eu-staff/);
    assert.doesNotMatch(await dialog.innerText(), /CONFLICT/);
    await checkAxe(page, "segment delete refused");
    await dialog.getByRole("link", { name: "eu-staff" }).click();
    await page.getByRole("heading", { name: "EU staff", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Delete…" }).click();
    await page.getByRole("dialog", { name: "Delete segment “EU staff”?" }).getByRole("button", { name: "Delete segment" }).click();
    await page.waitForURL(`**/segments`);
    assert.equal((await call(server.base, adminToken, "GET", "/api/v1/segments/eu-staff")).status, 404);
    await page.context().close();
  });

  test("People: granting admin and deactivating ask first; a saved change says so", async () => {
    const person = { email: "people-e2e@example.com", password: "people-password-123" };
    assert.equal((await call(server.base, adminToken, "POST", "/api/v1/users", { ...person, role: "viewer" })).status, 201);
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/admin/people`);
    const role = page.getByLabel(`Role of ${person.email}`);
    await role.selectOption("developer");
    await page.getByTestId("people-saved").getByText(`Saved: ${person.email} is now a developer.`).waitFor();
    await role.selectOption("admin");
    const grant = page.getByRole("dialog", { name: `Make ${person.email} an admin?` });
    await grant.getByRole("button", { name: "Cancel" }).click();
    await grant.waitFor({ state: "hidden" });
    assert.equal(await role.inputValue(), "developer", "Cancel keeps the role");
    await page.getByRole("row", { name: new RegExp(person.email) }).getByRole("button", { name: "Deactivate…" }).click();
    const deactivate = page.getByRole("dialog", { name: `Deactivate ${person.email}?` });
    await checkAxe(page, "deactivate dialog");
    await deactivate.getByRole("button", { name: "Deactivate" }).click();
    await page.getByTestId("people-saved").getByText(/is deactivated, signed out everywhere/).waitFor();
    const users = (await call(server.base, adminToken, "GET", "/api/v1/users")).body.data;
    const saved = users.find((u) => u.email === person.email);
    assert.deepEqual([saved.role, saved.is_active], ["developer", false]);
    await page.context().close();
  });

  test("People: a Two-step column; resetting it asks first, says what follows, and the password alone signs in again", async () => {
    const person = { email: "lost-phone@example.com", password: "lost-phone-password-1" };
    assert.equal((await call(server.base, adminToken, "POST", "/api/v1/users", { ...person, role: "developer" })).status, 201);
    // the person turns two-step on (through the API: the console's enrolment has its own test)
    const token = await apiToken(server.base, person.email, person.password);
    const enrol = await call(server.base, token, "POST", "/api/v1/auth/mfa/enrol");
    assert.equal(enrol.status, 200, JSON.stringify(enrol.body));
    const confirmed = await call(server.base, token, "POST", "/api/v1/auth/mfa/confirm", { code: totp(enrol.body.data.secret) });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));

    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/admin/people`);
    const row = page.getByRole("row", { name: new RegExp(person.email) });
    await row.locator("[data-testid=two-step][data-value=on]").waitFor();
    assert.equal(await row.getByTestId("two-step").innerText(), "on");
    assert.equal(await page.getByRole("row", { name: /people-e2e@example\.com/ }).getByTestId("two-step").getAttribute("data-value"), "off");
    // offered only for someone who has it on
    assert.equal(await page.getByRole("row", { name: /people-e2e@example\.com/ }).getByRole("button", { name: /^Reset two-step for / }).count(), 0);
    await row.getByRole("button", { name: /^Reset two-step for / }).click();
    const dialog = page.getByRole("dialog", { name: `Reset two-step verification for ${person.email}?` });
    assert.match(await dialog.innerText(), /signed out everywhere[\s\S]*sign in with their password alone and must set up two-step verification again/);
    await checkAxe(page, "reset two-step dialog");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await row.getByTestId("two-step").getAttribute("data-value"), "on", "Cancel changes nothing");
    await row.getByRole("button", { name: /^Reset two-step for / }).click();
    await dialog.getByRole("button", { name: "Reset two-step", exact: true }).click();
    await page.getByTestId("people-saved").getByText(`Saved: two-step verification is reset for ${person.email}`, { exact: false }).waitFor();
    // the list is read again: off, and no more reset to offer
    await row.locator("[data-testid=two-step][data-value=off]").waitFor();
    assert.equal(await row.getByRole("button", { name: /^Reset two-step for / }).count(), 0);
    const users = (await call(server.base, adminToken, "GET", "/api/v1/users")).body.data;
    assert.equal(users.find((u) => u.email === person.email).mfa_enabled, false);
    await apiToken(server.base, person.email, person.password); // the password alone signs in
    await page.context().close();

    // on a phone the table scrolls inside its card, never the page, and says so
    const phone = await newPage({ width: 390, height: 844 });
    await signIn(phone);
    await phone.goto(`${server.base}/admin/people`);
    await phone.getByTestId("two-step").first().waitFor();
    assert.equal(await phone.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling of the page");
    assert.match(await phone.getByTestId("scroll-hint").innerText(), /Scroll sideways for two-step and the actions/);
    await checkAxe(phone, "people (phone)");
    await phone.context().close();
  });

  test("at phone width the flags list scrolls inside its table only", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page);
    await page.getByTestId("flags-table").waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling of the page");
    const region = page.getByRole("region", { name: "Flags" });
    if (await region.evaluate((el) => el.scrollWidth > el.clientWidth)) {
      assert.match(await page.getByTestId("scroll-hint").innerText(), /Scroll sideways for the other environments/);
    }
    await page.context().close();
  });

  test("at phone width the flag reads and the kill switch works", async () => {
    await call(server.base, adminToken, "POST", `/api/v1/feature-flags/${FLAG}/environments/production/enable`, {});
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page);
    await openEnv(page);
    const kill = page.getByRole("button", { name: "Kill switch" });
    const box = await kill.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "kill switch inside the screen");
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling");
    await checkAxe(page, "flag page (phone)");
    await shot(page, "phone-flag", false);
    await kill.click();
    await page.getByLabel("Reason (kept in the history)").fill("from my phone");
    await page.getByRole("button", { name: "Turn off now" }).click();
    await page.getByRole("switch", { name: "Serve targeting in production", checked: false }).waitFor();
    await page.context().close();
  });

  test("a person turns on two-step verification, then signs in with password and code", async () => {
    const person = { email: "mfa-person@example.com", password: "mfa-password-123" };
    const created = await call(server.base, adminToken, "POST", "/api/v1/users", { ...person, role: "developer" });
    assert.equal(created.status, 201);
    const page = await newPage();
    await signIn(page, person.email, person.password);
    await page.getByRole("link", { name: "Account security" }).click();
    await page.getByRole("heading", { name: "Account security", level: 1 }).waitFor();
    await page.getByRole("button", { name: "Set up two-step verification" }).click();
    await page.getByRole("img", { name: "QR code of the authenticator secret" }).waitFor();
    const secret = await page.getByTestId("mfa-secret").getAttribute("data-secret");
    assert.match(secret ?? "", /^[A-Z2-7]{16,}$/);
    await page.waitForLoadState("networkidle");
    await checkAxe(page, "account security (enrolling)");
    await shot(page, "mfa-enrol");
    // a wrong code is refused on the page
    await page.getByLabel("Code from your authenticator app", { exact: true }).fill(totp(secret, 0) === "000000" ? "111111" : "000000");
    await page.getByRole("button", { name: "Confirm and turn on" }).click();
    // the server's message, its code only as the banner's tooltip
    const refused = page.locator("[role=alert][data-error-code=INVALID_CREDENTIALS]");
    await refused.waitFor();
    assert.doesNotMatch(await refused.innerText(), /INVALID_CREDENTIALS/);
    await page.getByLabel("Code from your authenticator app", { exact: true }).fill(totp(secret));
    await page.getByRole("button", { name: "Confirm and turn on" }).click();
    const codes = page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem");
    await codes.first().waitFor();
    assert.equal(await codes.count(), 10);
    await page.getByText("On, with 10 unused recovery codes").waitFor();
    await checkAxe(page, "account security (recovery codes)");
    await page.getByRole("button", { name: "Sign out" }).click();

    // the password alone no longer signs in: the code step follows
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password").fill(person.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    const codeField = page.getByLabel("Code from your authenticator app (or a recovery code)");
    await codeField.waitFor();
    await checkAxe(page, "sign-in code step");
    await shot(page, "mfa-sign-in");
    // the confirming code's step is spent: the next step's code (inside the drift window) signs in
    await codeField.fill(totp(secret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.locator("main#main").waitFor();
    await page.getByRole("link", { name: "Account security" }).waitFor();
    await page.context().close();
  });

  test("a client-side key: ticking client unticks the server scopes, and the snippet is the browser SDK's", async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/admin/keys`);
    await page.getByLabel("Name").fill("storefront pages");
    await page.getByLabel("Environment").selectOption("production");
    await page.getByRole("checkbox", { name: /manage/ }).check();
    await page.getByRole("checkbox", { name: /client/ }).check();
    assert.equal(await page.getByRole("checkbox", { name: /^evaluate/ }).isChecked(), false);
    assert.equal(await page.getByRole("checkbox", { name: /^manage/ }).isChecked(), false);
    assert.equal(await page.getByRole("checkbox", { name: /^track/ }).isChecked(), true);
    assert.match(await page.getByTestId("scopes-note").innerText(), /A client key adds only track: evaluate and manage unticked/);
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("secret").locator("code").innerText()).trim();
    await page.getByRole("tab", { name: "Browser SDK" }).waitFor();
    assert.match(await page.getByRole("tabpanel").innerText(), /new BrowserClient\(\{[\s\S]*clientKey: "xp_/);
    await checkAxe(page, "API keys (client key)");
    const keys = (await call(server.base, adminToken, "GET", "/api/v1/api-keys")).body.data;
    assert.deepEqual(keys.find((k) => k.name === "storefront pages").scopes.sort(), ["client", "track"]);
    // the list says when each key was made and by whom, and that it never expires
    const listed = page.locator("tr[data-key='storefront pages']");
    assert.match(await listed.getByTestId("key-created").innerText(), new RegExp(`\\d{4}[\\s\\S]*by ${ADMIN.email.replace(".", "\\.")}`));
    assert.equal((await listed.getByTestId("key-expires").innerText()).trim(), "never");
    // the key reaches the client endpoint and nothing else
    const answer = await fetch(`${server.base}/api/v1/sdk/evaluate`, {
      method: "POST",
      headers: { "X-API-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: "u1" }),
    });
    assert.equal(answer.status, 200);
    assert.deepEqual((await answer.json()).data.flags, {}); // no flag is client-visible yet
    // ticking evaluate again unticks client: a server key
    await page.getByRole("checkbox", { name: /^evaluate/ }).check();
    assert.equal(await page.getByRole("checkbox", { name: /client/ }).isChecked(), false);
    // a flag marked visible to client keys on its page: the key gets its value
    await call(server.base, adminToken, "POST", "/api/v1/feature-flags", { key: "storefront-banner", name: "Storefront banner" });
    await call(server.base, adminToken, "PUT", "/api/v1/feature-flags/storefront-banner/environments/production", { enabled: true, version: 1 });
    await page.goto(`${server.base}/flags/storefront-banner`);
    const visible = page.getByRole("checkbox", { name: /Visible to client keys/ });
    await visible.click(); // the box follows the saved flag: checked once the server has answered
    await page.getByText(/version 3/).waitFor();
    assert.equal(await visible.isChecked(), true);
    const after = await fetch(`${server.base}/api/v1/sdk/evaluate`, {
      method: "POST",
      headers: { "X-API-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ user_id: "u1" }),
    });
    assert.equal((await after.json()).data.flags["storefront-banner"].value, true);
    await page.context().close();
  });

  test("a person changes their password: errors at the fields, then signed out everywhere, in with the new one", async () => {
    const person = { email: "password-e2e@example.com", password: "first-password-123" };
    const fresh = "violet-harbour-tractor-91";
    assert.equal((await call(server.base, adminToken, "POST", "/api/v1/users", { ...person, role: "developer" })).status, 201);
    const page = await newPage();
    await signIn(page, person.email, person.password);
    await page.getByRole("link", { name: "Account security" }).click();
    await page.getByRole("heading", { name: "Password" }).waitFor();
    // checked before sending: the confirmation must match
    await page.getByLabel("Current password").fill(person.password);
    await page.getByLabel("New password", { exact: true }).fill(fresh);
    await page.getByLabel("Confirm the new password").fill(fresh + "x");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Does not match the new password").waitFor();
    // the server's answers land at their fields: a wrong current password, a weak new one
    await page.getByLabel("Current password").fill("not-my-password-1");
    await page.getByLabel("Confirm the new password").fill(fresh);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("The current password is wrong").waitFor();
    await page.getByLabel("Current password").fill(person.password);
    await page.getByLabel("New password", { exact: true }).fill("password1234");
    await page.getByLabel("Confirm the new password").fill("password1234");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText(/very common password/i).waitFor();
    await checkAxe(page, "account security (password refused)");
    await page.getByLabel("New password", { exact: true }).fill(fresh);
    await page.getByLabel("Confirm the new password").fill(fresh);
    await page.getByRole("button", { name: "Change password" }).click();
    // the server signed every session out, this one too: the sign-in page says so
    const notice = page.getByTestId("sign-in-notice");
    await notice.waitFor();
    assert.match(await notice.innerText(), /Your password was changed\. Every session of your account was signed out, this one included/);
    await checkAxe(page, "sign in after a password change");
    // a reload stays signed out, without presenting the revoked refresh token again
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password").fill(person.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("[role=alert][data-error-code=INVALID_CREDENTIALS]").waitFor();
    await page.getByLabel("Password").fill(fresh);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("main#main").waitFor();
    const audit = (await call(server.base, adminToken, "GET", "/api/v1/audit-logs?resource_type=user&limit=200")).body.data;
    assert.ok(audit.some((r) => r.action === "user.password_changed"));
    assert.ok(!audit.some((r) => r.action === "auth.refresh_reuse_detected"), "no false alarm of a stolen token");
    await page.context().close();
  });

  test("a new segment's key follows its name; a bad key is said in words", async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/segments`);
    await page.getByRole("button", { name: "New segment" }).click();
    const dialog = page.getByRole("dialog", { name: "New segment" });
    await dialog.getByLabel("Name").fill("Beta testers (EU)");
    assert.equal(await dialog.getByLabel("Key").inputValue(), "beta-testers-eu");
    await dialog.getByLabel("Key").fill("Beta Testers EU");
    await dialog.getByLabel("Name").fill("Beta testers EU");
    assert.equal(await dialog.getByLabel("Key").inputValue(), "Beta Testers EU", "an edited key stays");
    await dialog.getByRole("button", { name: "Create segment" }).click();
    const error = dialog.locator("[data-field-error]");
    await error.waitFor();
    assert.equal(await error.innerText(), "Use lower-case letters, digits and dashes (or . and _), starting with a letter or digit");
    await checkAxe(page, "segment dialog (bad key)");
    await page.context().close();
  });

  test("history: resource types to pick from, one request once typing stops, people and keys by name", async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/history`);
    await page.getByTestId("audit-table").waitFor();
    const requests = [];
    page.on("response", (response) => {
      const url = new URL(response.url());
      if (url.pathname.startsWith("/api/v1/audit-logs") || url.pathname.startsWith("/api/v1/experiments")) requests.push([url.pathname + url.search, response.status()]);
    });
    // any resource type: the key typed letter by letter asks once; a segment's key is no experiment's, without a 404
    const filtered = page.waitForResponse((r) => r.url().includes("/api/v1/audit-logs") && r.url().includes("resource_id=beta-testers"));
    await page.getByLabel("Filter by resource: key, or id").pressSequentially("beta-testers", { delay: 40 });
    await filtered;
    const table = page.getByTestId("audit-table");
    await table.locator("tbody tr").filter({ hasText: "segment beta-testers" }).first().waitFor();
    await page.waitForTimeout(600); // longer than the debounce: nothing more leaves
    await page.waitForLoadState("networkidle");
    const audits = requests.filter(([path]) => path.startsWith("/api/v1/audit-logs"));
    assert.equal(audits.length, 1, `one request once typing stopped: ${JSON.stringify(requests)}`);
    assert.ok(requests.every(([, status]) => status === 200), `no 404 lookups: ${JSON.stringify(requests)}`);
    // the type is picked from a list, not typed (the server compares it exactly)
    await page.getByLabel("Filter by resource: key, or id").fill("");
    const bySegment = page.waitForResponse((r) => r.url().includes("/api/v1/audit-logs") && r.url().includes("resource_type=segment") && !r.url().includes("resource_id"));
    await page.getByLabel("Filter by resource type").selectOption("segment");
    await bySegment;
    await table.getByText("segment.created").first().waitFor();
    assert.equal(await table.locator("tbody tr").filter({ hasNotText: "segment." }).count(), 0);
    // people and API keys read by name, their ids in a tooltip
    await page.getByLabel("Filter by resource: key, or id").fill("");
    await page.getByLabel("Filter by resource type").selectOption("api_key");
    const keyRow = table.locator("tbody tr").filter({ hasText: "checkout service" }).first();
    await keyRow.getByText("checkout service", { exact: true }).waitFor();
    assert.match((await keyRow.getByText("checkout service", { exact: true }).getAttribute("title")) ?? "", /^[0-9a-f-]{36}$/);
    assert.match((await keyRow.getByText(ADMIN.email).getAttribute("title")) ?? "", /^[0-9a-f-]{36}$/);
    // a created key says what it may do, where and until when, not just "created"
    const keyCreated = table.locator("tbody tr").filter({ hasText: "api_key.created" }).filter({ hasText: "checkout service" }).first();
    assert.match(
      await keyCreated.getByTestId("audit-summary").innerText(),
      /^created\s+name: checkout service\s+scopes: evaluate, track\s+environment: production\s+expires_at: never$/,
    );
    await checkAxe(page, "history (filtered by type)");
    // Export CSV: every record the filters match, as a file (here: the API keys' records)
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    assert.match(download.suggestedFilename(), /^experimently-audit-\d{8}T\d{6}Z\.csv$/);
    const exported = await new Promise((resolve, reject) => {
      download.createReadStream().then((stream) => {
        const chunks = [];
        stream.on("data", (chunk) => chunks.push(chunk));
        stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        stream.on("error", reject);
      }, reject);
    });
    const lines = exported.trim().split("\r\n");
    assert.match(lines[0], /^id,occurred_at,actor_type,actor_id,actor_label,action,resource_type,resource_id,resource_label,/);
    assert.ok(lines.slice(1).every((line) => line.includes(",api_key,")), `only API key records: ${exported.slice(0, 400)}`);
    assert.ok(lines.some((line) => line.includes("checkout service")), "the key's name is in the file");
    // a created person: their email and role
    await page.getByLabel("Filter by resource type").selectOption("user");
    const personCreated = table.locator("tbody tr").filter({ hasText: "user.created" }).filter({ hasText: "viewer@example.com" }).first();
    assert.match(await personCreated.getByTestId("audit-summary").innerText(), /^created\s+email: viewer@example\.com\s+role: viewer$/);

    // a flag handed to someone and back: the owner reads by the label the page's records give them
    const users = (await call(server.base, adminToken, "GET", "/api/v1/users")).body.data;
    const viewer = users.find((u) => u.email === "viewer@example.com");
    const admin = users.find((u) => u.email === ADMIN.email);
    assert.equal((await call(server.base, adminToken, "POST", `/api/v1/feature-flags/${FLAG}/owner`, { owner_id: viewer.id })).status, 200);
    await page.getByLabel("Filter by resource type").selectOption("");
    // labels come from the records on the page: wait until only the owner changes are there
    const ownerChanges = page.waitForResponse((r) => r.url().includes("/api/v1/audit-logs") && r.url().includes("action=flag.owner_changed"));
    await page.getByLabel("Filter by action, e.g. flag.killed").fill("flag.owner_changed");
    await ownerChanges;
    await table.locator("tbody tr").filter({ hasNotText: "flag.owner_changed" }).first().waitFor({ state: "detached" });
    const handed = table.locator("tbody tr").filter({ hasText: "flag.owner_changed" }).first();
    const line = handed.locator("li").filter({ hasText: "owner_id" });
    // the admin acts on the page, so the admin's id reads as their email (the id in its tooltip);
    // the viewer appears in no record here, so their id stays an id
    assert.equal((await line.locator("del").innerText()).trim(), ADMIN.email);
    assert.equal(await line.locator("del").getByText(ADMIN.email).getAttribute("title"), admin.id);
    assert.equal((await line.locator("ins").innerText()).trim(), viewer.id);
    assert.equal((await call(server.base, adminToken, "POST", `/api/v1/feature-flags/${FLAG}/owner`, { owner_id: admin.id })).status, 200);
    await page.context().close();
  });

  test("at phone width the history's records are cards: what and the changes on the screen", async () => {
    const page = await newPage({ width: 390, height: 844 });
    await signIn(page);
    await page.goto(`${server.base}/history`);
    const rows = page.getByTestId("audit-table").locator("tbody tr");
    await rows.first().waitFor();
    await page.waitForLoadState("networkidle");
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= 390), true, "no sideways scrolling of the page");
    // every part of a record lies inside the screen, the changes included
    for (const row of (await rows.all()).slice(0, 5)) {
      for (const cell of await row.locator("td").all()) {
        const box = await cell.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `cell inside the screen: ${JSON.stringify(box)}`);
      }
    }
    const region = page.getByTestId("audit-table").locator("xpath=..");
    assert.equal(await region.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), true, "nothing hidden sideways in the table");
    await checkAxe(page, "history (phone)");
    await page.context().close();
  });

  test("a string flag with three variations: checked before sending, one served by a rule, another added later", async () => {
    const page = await newPage();
    await signIn(page);
    await page.goto(`${server.base}/flags`);
    await page.getByRole("button", { name: "New flag" }).click();
    const dialog = page.getByRole("dialog", { name: "New flag" });
    await dialog.getByLabel("Name").fill("Checkout copy");
    await dialog.getByLabel("Type").selectOption("string");
    assert.equal(await dialog.getByLabel("Variation 1 key").inputValue(), "a", "a string flag starts with a and b");
    await dialog.getByRole("button", { name: "+ Add variation" }).click();
    await dialog.getByLabel("Variation 1 key").fill("short");
    await dialog.getByLabel("Variation 1 value").fill("Buy");
    await dialog.getByLabel("Variation 2 key").fill("long");
    await dialog.getByLabel("Variation 2 value").fill("Buy now, pay later");
    await dialog.getByLabel("Variation 3 key").fill("short");
    await dialog.getByLabel("Variation 3 value").fill("Order");
    // a key used twice is said at its row, and nothing is sent
    await dialog.getByRole("button", { name: "Create flag" }).click();
    await dialog.getByText('"short" is used twice').waitFor();
    await checkAxe(page, "new flag dialog (variations)");
    await dialog.getByLabel("Variation 3 key").fill("order");
    await dialog.getByRole("button", { name: "Create flag" }).click();
    await page.waitForURL("**/flags/checkout-copy");
    const listed = page.getByTestId("variations");
    assert.match(await listed.innerText(), /short\s+"Buy"\s+long\s+"Buy now, pay later"\s+order\s+"Order"/);

    // a rule in production serves one of them
    await page.getByRole("tab", { name: "Production" }).click();
    await page.getByRole("button", { name: "+ Add rule" }).click();
    await page.getByLabel("Condition 1 attribute").fill("country");
    await page.getByLabel("Condition 1 operator").selectOption("in");
    await page.getByLabel("Condition 1 values", { exact: true }).fill("FR");
    assert.deepEqual(await page.getByLabel("Serve: variation").locator("option").allInnerTexts(), ["short", "long", "order"]);
    await page.getByLabel("Serve: variation").selectOption("long");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByTestId("draft-state").getByText("No unsaved changes").waitFor();

    // a fourth variation later, and a name for one: the saved keys stay as they are
    await page.getByRole("button", { name: "Edit variations" }).click();
    assert.equal(await page.getByLabel("Variation 1 key").getAttribute("readonly"), "", "a saved key cannot change");
    await page.getByRole("button", { name: "+ Add variation" }).click();
    await page.getByLabel("Variation 4 key").fill("pay");
    await page.getByLabel("Variation 4 value").fill("Pay");
    await page.getByLabel("Variation 2 name").fill("Long copy");
    await page.getByRole("button", { name: "Save variations" }).click();
    await listed.getByText("Long copy").waitFor();
    await checkAxe(page, "flag variations");

    const { body } = await call(server.base, adminToken, "GET", "/api/v1/feature-flags/checkout-copy");
    assert.equal(body.data.type, "string");
    assert.deepEqual(body.data.variations, [
      { key: "short", value: "Buy" },
      { key: "long", value: "Buy now, pay later", name: "Long copy" },
      { key: "order", value: "Order" },
      { key: "pay", value: "Pay" },
    ]);
    assert.deepEqual(body.data.environments.production.rules[0].serve, { variation: "long" });
    assert.equal(body.data.environments.production.off_variation, "order", "off serves the last variation it was created with");
    await page.context().close();
  });

  test("Account security: sessions listed and ended (one, then everywhere else); new recovery codes void the old", async () => {
    const person = { email: "sessions-e2e@example.com", password: "sessions-password-123" };
    assert.equal((await call(server.base, adminToken, "POST", "/api/v1/users", { ...person, role: "developer" })).status, 201);
    // scripts signing in with the password: each login is a session, named by its user agent
    const scriptLogin = async (agent) => {
      const response = await fetch(`${server.base}/api/v1/auth/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "User-Agent": agent },
        body: new URLSearchParams({ username: person.email, password: person.password }),
      });
      assert.equal(response.status, 200);
      return response.json();
    };
    const refreshStatus = async (tokens) => (await call(server.base, null, "POST", "/api/v1/auth/refresh", { refresh_token: tokens.refresh_token })).status;
    const page = await newPage();
    await signIn(page, person.email, person.password);
    const deploy = await scriptLogin("deploy-script/1.0");
    const report = await scriptLogin("report-bot/2.3");
    await page.getByRole("link", { name: "Account security" }).click();
    const sessions = page.getByRole("list", { name: "Sessions" }).getByRole("listitem");
    await page.getByText("deploy-script 1.0").waitFor();
    assert.equal(await sessions.count(), 3);
    assert.equal(await page.getByText("This device", { exact: true }).count(), 1);
    assert.match(await sessions.first().innerText(), /Headless Chrome on Linux\s*This device/);
    assert.equal(await sessions.first().getByRole("button").count(), 0, "this device's session has no End button");
    await checkAxe(page, "account security (sessions)");

    // one ended after a confirmation: its refresh token no longer works
    await page.getByRole("button", { name: /^End the session of deploy-script 1\.0/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText("That device is signed out: it must sign in again.").waitFor();
    await dialog.getByRole("button", { name: "End session" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByText("deploy-script 1.0").waitFor({ state: "detached" });
    assert.equal(await sessions.count(), 2);
    assert.equal(await refreshStatus(deploy), 401);

    // everywhere else: the others end, this device stays signed in
    await page.getByRole("button", { name: "Sign out everywhere else…" }).click();
    await dialog.getByText("You stay signed in here.").waitFor();
    await dialog.getByRole("button", { name: "End 1 other session" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByText("report-bot 2.3").waitFor({ state: "detached" });
    assert.equal(await sessions.count(), 1);
    assert.equal(await page.getByRole("button", { name: "Sign out everywhere else…" }).count(), 0);
    assert.equal(await refreshStatus(report), 401);
    // (an ended session's access token lasts its few minutes: enough to ask what is left)
    const left = (await call(server.base, report.access_token, "GET", "/api/beta/sessions")).body.data;
    assert.equal(left.length, 1);
    await page.reload();
    await page.getByText("This device", { exact: true }).waitFor();

    // two-step on (through the API), one recovery code spent signing in: 9 left
    const token = await apiToken(server.base, person.email, person.password);
    const enrol = await call(server.base, token, "POST", "/api/v1/auth/mfa/enrol");
    const old = (await call(server.base, token, "POST", "/api/v1/auth/mfa/confirm", { code: totp(enrol.body.data.secret) })).body.data.recovery_codes;
    const signInWith = async (code) => {
      const first = await call(server.base, null, "POST", "/api/v1/auth/session", person);
      assert.equal(first.body.error.code, "MFA_REQUIRED");
      return (await call(server.base, null, "POST", "/api/v1/auth/session/mfa", { mfa_token: first.body.error.details.mfa_token, code })).status;
    };
    assert.equal(await signInWith(old[1]), 200);
    await page.reload();
    await page.getByText("On, with 9 unused recovery codes").waitFor();

    // new codes, confirmed with an unused old one: ten shown once, the old ones void
    await page.getByRole("button", { name: "New recovery codes…" }).click();
    await dialog.getByText("the old codes stop working").waitFor();
    await checkAxe(page, "new recovery codes dialog");
    await dialog.getByLabel("Current code (authenticator or recovery code)").fill(old[0]);
    await dialog.getByRole("button", { name: "Make new codes" }).click();
    await dialog.waitFor({ state: "hidden" });
    const fresh = await page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").allInnerTexts();
    assert.equal(fresh.length, 10);
    assert.ok(!fresh.some((code) => old.includes(code)));
    await page.getByText("Your old recovery codes no longer work.").waitFor();
    await page.getByText("On, with 10 unused recovery codes").waitFor();
    await checkAxe(page, "account security (new recovery codes)");
    assert.equal(await signInWith(old[2]), 401, "an old unused code no longer signs in");
    await page.context().close();
  });
});
