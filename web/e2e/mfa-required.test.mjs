// End to end: under EXPERIMENTLY_MFA_REQUIRED the console sends a person without MFA to enrol first.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkAxe, launch, openPage, startServer, submitLogin, totp } from "./harness.mjs";

// one above the main suite's port: the two files run one after the other, never at once
const PORT = Number(process.env.E2E_PORT ?? 18510) + 1;

let server;
let browser;

before(async () => {
  server = await startServer(PORT, { EXPERIMENTLY_MFA_REQUIRED: "everyone" });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an account that must enrol is routed to the security page, enrols, then reaches its flags", async () => {
  const page = await openPage(browser);
  await submitLogin(page, server.base);
  // the flags list is refused (403 MFA_ENROLMENT_REQUIRED): the console goes to enrolment and says why
  await page.getByText("Your organisation requires two-step verification").waitFor();
  assert.equal(new URL(page.url()).pathname, "/account/security");
  await checkAxe(page, "the enrolment page");
  await page.getByRole("button", { name: "Set up two-step verification" }).click();
  const secret = await page.getByTestId("mfa-secret").getAttribute("data-secret");
  await page.getByLabel("Code from your authenticator app", { exact: true }).fill(totp(secret));
  await page.getByRole("button", { name: "Confirm and turn on" }).click();
  await page.getByRole("list", { name: "Recovery codes" }).waitFor();
  // required: it cannot be turned off here, and the rest of the console answers now
  await page.getByText("Your organisation requires it").waitFor();
  assert.equal(await page.getByRole("button", { name: "Turn off two-step verification" }).count(), 0);
  await page.getByRole("link", { name: "Flags" }).click();
  await page.getByRole("heading", { name: "Flags", level: 1 }).waitFor();
  await page.context().close();
});
