// End to end: every page of the console fits a phone's width (390 px) with long names in it: a page
// wider than the screen scrolls sideways and hides its own buttons. Names are the longest the API takes
// in spirit: long keys, a Slack webhook URL, a long email address.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ADMIN, apiToken, call, launch, openPage, signIn, startServer } from "./harness.mjs";

const PORT = Number(process.env.E2E_PHONE_PORT ?? 19510);
const FLAG = "a-rather-long-flag-key-for-the-new-checkout-experience";
const SEGMENT = "beta-testers-in-germany-and-austria";
const EXPERIMENT = "checkout-button-colour-test-q4";

let server;
let browser;

describe("the console on a phone", { concurrency: false }, () => {
  before(async () => {
    server = await startServer(PORT);
    browser = await launch();
    const token = await apiToken(server.base, ADMIN.email, ADMIN.password);
    const make = async (path, body) => {
      const response = await call(server.base, token, "POST", path, body);
      assert.ok(response.status < 300, `${path}: ${response.status} ${JSON.stringify(response.body)}`);
    };
    await make("/api/v1/feature-flags", { key: FLAG, name: "A rather long flag name for the new checkout experience", tags: ["checkout", "payments-team"] });
    await make("/api/v1/segments", { key: SEGMENT, name: "Beta testers in Germany and Austria", conditions: [{ attribute: "country", operator: "in", values: ["DE", "AT"] }] });
    await make("/api/v1/metrics", { key: "purchase-conversion", name: "Purchase conversion", kind: "binomial", event_name: "purchase" });
    await make("/api/v1/experiments", {
      key: EXPERIMENT,
      name: "Checkout button colour test for Q4",
      variants: [{ key: "control", weight: 50, is_control: true }, { key: "treatment-green-button", weight: 50 }],
      primary_metric: "purchase-conversion",
    });
    await make("/api/v1/api-keys", { name: "checkout service production key", environment: "production", scopes: ["evaluate", "track"] });
    await make("/api/v1/webhooks", { url: "https://hooks.slack.com/services/T000/B000/averyveryverylongsecrettokenvalue" });
    await make("/api/v1/users", { email: "a.very.long.email.address@subdomain.example.com", role: "developer", password: "Correct-Horse-Battery-9" });
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test("no page is wider than the screen", async () => {
    const page = await openPage(browser, { viewport: { width: 390, height: 844 } });
    await signIn(page, server.base, { path: "/flags" });
    const wide = [];
    for (const path of [
      "/start",
      "/flags",
      `/flags/${FLAG}`,
      "/segments",
      `/segments/${SEGMENT}`,
      "/history",
      "/experiments",
      "/experiments/new",
      `/experiments/${EXPERIMENT}`,
      `/experiments/${EXPERIMENT}/results`,
      "/metric-definitions",
      "/metric-definitions/purchase-conversion",
      "/events",
      "/admin/environments",
      "/admin/environments/production/safety",
      "/admin/people",
      "/admin/keys",
      "/admin/webhooks",
      "/account/security",
    ]) {
      await page.goto(`${server.base}${path}`);
      await page.locator("main#main").waitFor();
      await page.waitForLoadState("networkidle");
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > 390) wide.push(`${path}: ${width} px`);
    }
    assert.deepEqual(wide, [], "pages wider than a 390 px screen");
    await page.context().close();
  });
});
